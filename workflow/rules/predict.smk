# Prediction (GPU when present) and decoding into gene models, scattered over pieces of the
# genome (consecutive groups of sequences) and gathered in genome order. Every stage runs the
# same rules: the first pass with the base model, each self-training round with its own model
# (results/<species>/<stage>/, stage = first_pass | round<r>).


rule import_base_model:
    input:
        keras=get_keras_model,
    output:
        pt="results/{species}/base_model.pt",
    log:
        "logs/import_base_model/{species}.log",
    benchmark:
        "logs/benchmark/import_base_model/{species}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        script=script_path("import_model.py"),
    shell:
        "python {params.script:q} --keras {input.keras:q} --out {output.pt:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule predict:
    input:
        genome=rules.ingest_genome.output.h5,
        model=stage_model,
        coverage=get_coverage,
    output:
        h5=temp("results/{species}/{stage}/pieces/{piece}.predictions.h5"),
    log:
        "logs/predict/{species}.{stage}.{piece}.log",
    benchmark:
        "logs/benchmark/predict/{species}.{stage}.{piece}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=by_genome(3000, 40),
        runtime=by_genome(30, 2),
        gpu=1,
    params:
        script=script_path("predict.py"),
        settings=settings("predict"),
        pieces=n_pieces,
    shell:
        "python {params.script:q} --genome-h5 {input.genome:q} --model {input.model:q} "
        "--coverage-h5 {input.coverage:q} --settings {params.settings:q} --threads {threads} "
        "--piece {wildcards.piece} --pieces {params.pieces} --out {output.h5:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule gather_predictions:
    input:
        genome=rules.ingest_genome.output.h5,
        pieces=piece_files("predict", "h5"),
    output:
        h5="results/{species}/{stage}/predictions.h5",
    log:
        "logs/gather_predictions/{species}.{stage}.log",
    benchmark:
        "logs/benchmark/gather_predictions/{species}.{stage}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(300, 2),
        runtime=by_genome(10, 0.2),
    params:
        script=script_path("gather_predictions.py"),
    shell:
        "python {params.script:q} --genome-h5 {input.genome:q} --pieces {input.pieces:q} "
        "--out {output.h5:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule first_pass_profile:
    input:
        base=get_base_model,
        start=get_start_profile,
        junctions=get_junctions,
    output:
        yaml="results/{species}/first_pass/profile.yaml",
        tsv=report(
            "results/{species}/first_pass/profile.tsv",
            caption="../report/profile.rst",
            category="Species profile",
            labels={"species": "{species}", "stage": "first_pass"},
        ),
    log:
        "logs/first_pass_profile/{species}.log",
    benchmark:
        "logs/benchmark/first_pass_profile/{species}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        script=script_path("make_profile.py"),
        settings=settings("decode", "min_intron"),
    shell:
        "python {params.script:q} --base-model {input.base:q} --profile {input.start:q} "
        "--junctions {input.junctions:q} --settings {params.settings:q} --out {output.yaml:q} "
        "--out-tsv {output.tsv:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule decode:
    input:
        genome=rules.ingest_genome.output.h5,
        predictions=rules.gather_predictions.output.h5,
        coverage=get_coverage,
        base=get_base_model,
        profile=stage_profile,
        junctions=get_junctions,
    output:
        gff3=temp("results/{species}/{stage}/pieces/{piece}.annotation.gff3"),
    log:
        "logs/decode/{species}.{stage}.{piece}.log",
    benchmark:
        "logs/benchmark/decode/{species}.{stage}.{piece}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(800, 70),
        runtime=by_genome(20, 1),
    params:
        script=script_path("decode.py"),
        settings=settings("decode"),
        version=GENETUNE_VERSION,
        pieces=n_pieces,
    shell:
        "python {params.script:q} --genome-h5 {input.genome:q} --predictions {input.predictions:q} "
        "--coverage-h5 {input.coverage:q} --junctions {input.junctions:q} --profile {input.profile:q} "
        "--settings {params.settings:q} --comment 'genetune {params.version}' "
        "--comment 'stage {wildcards.stage}' "
        "--base-model {input.base:q} "
        "--piece {wildcards.piece} --pieces {params.pieces} --out {output.gff3:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule gather_annotation:
    input:
        pieces=piece_files("decode", "gff3"),
    output:
        gff3="results/{species}/{stage}/annotation.gff3",
    log:
        "logs/gather_annotation/{species}.{stage}.log",
    benchmark:
        "logs/benchmark/gather_annotation/{species}.{stage}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    params:
        script=script_path("gather_annotation.py"),
    shell:
        "python {params.script:q} --pieces {input.pieces:q} --out {output.gff3:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"
