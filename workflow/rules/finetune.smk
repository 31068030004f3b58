# Fine-tuning the base model on the confident pseudolabels (GPU when present, resumable).


rule finetune:
    input:
        train=rules.split_train_val.output.train,
        val=rules.split_train_val.output.val,
        base=get_base_model(),
    output:
        best=f"{RESULTS}/finetune/best.pt",
        last=f"{RESULTS}/finetune/last.pt",
        metrics=report(
            f"{RESULTS}/finetune/metrics.tsv",
            caption="../report/finetune_metrics.rst",
            category="Fine-tuning",
            labels={"species": SPECIES, "table": "validation per epoch"},
        ),
    log:
        f"logs/finetune/{SPECIES}.log",
    benchmark:
        f"logs/benchmark/finetune/{SPECIES}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=720,
        gpu=1,
    params:
        script=script_path("finetune.py"),
        settings=settings("finetune"),
        out_dir=output_dir,
    shell:
        "python {params.script:q} --train-h5 {input.train} --val-h5 {input.val} --base-model {input.base} "
        "--settings {params.settings:q} --threads {threads} --out-dir {params.out_dir} > {log} 2>&1"
