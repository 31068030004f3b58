# First-pass gene models -> labels, the confident subset, and the whole-sequence split.


rule pseudolabels_to_h5:
    input:
        gff3=rules.decode_first_pass.output.gff3,
        genome=rules.ingest_genome.output.h5,
    output:
        h5=f"{RESULTS}/pseudolabels/labels.h5",
    log:
        f"logs/pseudolabels_to_h5/{SPECIES}.log",
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        script=script_path("pseudolabels_to_h5.py"),
        options=pseudolabel_options(),
    shell:
        "python {params.script:q} --gff3 {input.gff3} --genome-h5 {input.genome} "
        "{params.options} --out {output.h5} > {log} 2>&1"


rule select_confident:
    input:
        labels=rules.pseudolabels_to_h5.output.h5,
        predictions=rules.predict_first_pass.output.h5,
    output:
        h5=f"{RESULTS}/pseudolabels/confident.h5",
    log:
        f"logs/select_confident/{SPECIES}.log",
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        script=script_path("select_confident.py"),
        keep=config["select"]["keep_fraction"],
        strata=config["select"]["strata"],
    shell:
        "python {params.script:q} --labels-h5 {input.labels} --predictions {input.predictions} "
        "--keep-fraction {params.keep} --strata {params.strata} --out {output.h5} > {log} 2>&1"


rule split_train_val:
    input:
        labels=rules.select_confident.output.h5,
        coverage=get_coverage(),
    output:
        train=f"{RESULTS}/finetune/training_data.h5",
        val=f"{RESULTS}/finetune/validation_data.h5",
    log:
        f"logs/split_train_val/{SPECIES}.log",
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        script=script_path("split_train_val.py"),
        coverage=coverage_arg,
        val_fraction=config["split"]["val_fraction"],
        seed=config["split"]["seed"],
    shell:
        "python {params.script:q} --labels-h5 {input.labels} {params.coverage} "
        "--val-fraction {params.val_fraction} --seed {params.seed} "
        "--out-train {output.train} --out-val {output.val} > {log} 2>&1"
