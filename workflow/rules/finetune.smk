# Fine-tuning each round's model on its confident pseudolabels (GPU when present, resumable),
# and the choice of the final annotation among the rounds.


rule finetune:
    input:
        train=rules.split_train_val.output.train,
        val=rules.split_train_val.output.val,
        base=previous_model,
    output:
        best=f"{RESULTS}/round{{round}}/finetune/best.pt",
        last=f"{RESULTS}/round{{round}}/finetune/last.pt",
        metrics=report(
            f"{RESULTS}/round{{round}}/finetune/metrics.tsv",
            caption="../report/finetune_metrics.rst",
            category="Fine-tuning",
            labels={
                "species": SPECIES,
                "round": "{round}",
                "table": "validation metrics",
            },
        ),
        curves=report(
            f"{RESULTS}/round{{round}}/finetune/learning_curves.svg",
            caption="../report/learning_curves.rst",
            category="Fine-tuning",
            labels={
                "species": SPECIES,
                "round": "{round}",
                "figure": "learning curves",
            },
        ),
    log:
        f"logs/finetune/{SPECIES}.round{{round}}.log",
    benchmark:
        f"logs/benchmark/finetune/{SPECIES}.round{{round}}.tsv"
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
        # the resume state: not an output, so Snakemake keeps it when it reruns a killed job
        state=f"{RESULTS}/round{{round}}/finetune_state/state.pt",
    shell:
        "python {params.script:q} --train-h5 {input.train:q} --val-h5 {input.val:q} --base-model {input.base:q} "
        "--settings {params.settings:q} --threads {threads} --state {params.state:q} "
        "--out-dir {params.out_dir:q} > {log:q} 2>&1"


rule choose_final_round:
    input:
        val=f"{RESULTS}/round1/finetune/validation_data.h5",
        models=round_files(f"{RESULTS}/round{{r}}/finetune/best.pt"),
        annotations=round_files(f"{RESULTS}/round{{r}}/annotation.gff3"),
    output:
        gff3=f"{RESULTS}/final/annotation.gff3",
        rounds=report(
            f"{RESULTS}/final/rounds.tsv",
            caption="../report/rounds.rst",
            category="Fine-tuning",
            labels={"species": SPECIES, "table": "self-training rounds"},
        ),
    log:
        f"logs/choose_final_round/{SPECIES}.log",
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        script=script_path("choose_round.py"),
    shell:
        "python {params.script:q} --val-h5 {input.val:q} --models {input.models:q} "
        "--annotations {input.annotations:q} --out-gff3 {output.gff3:q} --out-tsv {output.rounds:q} "
        "> {log:q} 2>&1"
