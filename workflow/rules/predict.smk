# Prediction (GPU when present) and decoding into gene models. Every self-training round
# reuses the first-pass rules with its own model and outputs (results/<species>/round<r>/).


if config["base_model"].endswith(KERAS_SUFFIXES):

    rule import_base_model:
        input:
            keras=config["base_model"],
        output:
            pt=f"{RESULTS}/base_model.pt",
        log:
            f"logs/import_base_model/{SPECIES}.log",
        conda:
            "../envs/torch.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            script=script_path("import_model.py"),
        shell:
            "python {params.script:q} --keras {input.keras:q} --out {output.pt:q} > {log:q} 2>&1"


rule predict_first_pass:
    input:
        genome=rules.ingest_genome.output.h5,
        model=get_base_model(),
    output:
        h5=f"{RESULTS}/first_pass/predictions.h5",
    log:
        f"logs/predict_first_pass/{SPECIES}.log",
    benchmark:
        f"logs/benchmark/predict_first_pass/{SPECIES}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=1,
    params:
        script=script_path("predict.py"),
        coverage=coverage_arg,
        batch_size=config["predict"]["batch_size"],
        overlap="" if config["predict"]["overlap"] else "--no-overlap",
    shell:
        "python {params.script:q} --genome-h5 {input.genome:q} --model {input.model:q} {params.coverage} "
        "--batch-size {params.batch_size} {params.overlap} --threads {threads} --out {output.h5:q} > {log:q} 2>&1"


rule decode_first_pass:
    input:
        genome=rules.ingest_genome.output.h5,
        predictions=rules.predict_first_pass.output.h5,
        coverage=get_coverage(),
    output:
        gff3=f"{RESULTS}/first_pass/annotation.gff3",
    log:
        f"logs/decode_first_pass/{SPECIES}.log",
    benchmark:
        f"logs/benchmark/decode_first_pass/{SPECIES}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        script=script_path("decode.py"),
        coverage=coverage_arg,
        settings=settings("decode"),
    shell:
        "python {params.script:q} --genome-h5 {input.genome:q} --predictions {input.predictions:q} {params.coverage} "
        "--settings {params.settings:q} --out {output.gff3:q} > {log:q} 2>&1"


use rule predict_first_pass as predict_round with:
    input:
        genome=rules.ingest_genome.output.h5,
        model=f"{RESULTS}/round{{round}}/finetune/best.pt",
        coverage=get_finetuned_coverage,
    output:
        h5=f"{RESULTS}/round{{round}}/predictions.h5",
    log:
        f"logs/predict_round/{SPECIES}.round{{round}}.log",
    benchmark:
        f"logs/benchmark/predict_round/{SPECIES}.round{{round}}.tsv"


use rule decode_first_pass as decode_round with:
    input:
        genome=rules.ingest_genome.output.h5,
        predictions=rules.predict_round.output.h5,
        coverage=get_coverage(),
    output:
        gff3=f"{RESULTS}/round{{round}}/annotation.gff3",
    log:
        f"logs/decode_round/{SPECIES}.round{{round}}.log",
    benchmark:
        f"logs/benchmark/decode_round/{SPECIES}.round{{round}}.tsv"
