# Fine-tuning each round's model on its confident pseudolabels (GPU when present, resumable),
# and the final annotation: a round replaces the first pass only when an independent check says
# it is better.


rule finetune:
    input:
        train=rules.split_train_val.output.train,
        val=rules.split_train_val.output.val,
        base=previous_model,
    output:
        best="results/{species}/round{round}/finetune/best.pt",
        last="results/{species}/round{round}/finetune/last.pt",
        metrics=report(
            "results/{species}/round{round}/finetune/metrics.tsv",
            caption="../report/finetune_metrics.rst",
            category="Fine-tuning",
            labels={"species": "{species}", "round": "{round}", "table": "metrics"},
        ),
        curves=report(
            "results/{species}/round{round}/finetune/learning_curves.svg",
            caption="../report/learning_curves.rst",
            category="Fine-tuning",
            labels={
                "species": "{species}",
                "round": "{round}",
                "figure": "learning curves",
            },
        ),
    log:
        "logs/finetune/{species}.round{round}.log",
    benchmark:
        "logs/benchmark/finetune/{species}.round{round}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=3500,
        runtime=720,
        gpu=1,
    params:
        script=script_path("finetune.py"),
        settings=settings("finetune"),
        out_dir=output_dir,
        # the resume state: not an output, so Snakemake keeps it when it reruns a killed job
        state="results/{species}/round{round}/finetune_state/state.pt",
    shell:
        "python {params.script:q} --train-h5 {input.train:q} --val-h5 {input.val:q} --base-model {input.base:q} "
        "--settings {params.settings:q} --threads {threads} --state {params.state:q} "
        "--out-dir {params.out_dir:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


checkpoint judge_round:
    input:
        val=lambda w: path(rules.split_train_val.output.val, w, round=1),
        first_pass=lambda w: path(
            rules.gather_annotation.output.gff3, w, stage="first_pass"
        ),
        pseudolabels=round1(pseudolabel_genes),
        genes=lambda w: path(rules.select_confident.output.genes, w, round=1),
        annotations=round_stages("gather_annotation", "gff3"),
        junctions=get_junctions,
        genome=rules.ingest_genome.output.h5,
        predictions=stage_files("gather_predictions", "h5"),
        profiles=stage_profiles,
    output:
        tsv=report(
            "results/{species}/round{round}/verdict.tsv",
            caption="../report/verdict.rst",
            category="Fine-tuning",
            labels={"species": "{species}", "round": "{round}", "table": "verdict"},
        ),
    log:
        "logs/judge_round/{species}.round{round}.log",
    benchmark:
        "logs/benchmark/judge_round/{species}.round{round}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(1600, 44),
        runtime=60,
    params:
        script=script_path("judge_round.py"),
        settings=settings("decode"),
    shell:
        "python {params.script:q} --round {wildcards.round} --val-h5 {input.val:q} "
        "--first-pass {input.first_pass:q} --pseudolabels {input.pseudolabels:q} --genes-tsv {input.genes:q} "
        "--junctions {input.junctions:q} --genome-h5 {input.genome:q} --predictions {input.predictions:q} "
        "--profiles {input.profiles:q} --settings {params.settings:q} --annotations {input.annotations:q} "
        "--out-tsv {output.tsv:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule choose_final_round:
    input:
        val=lambda w: path(rules.split_train_val.output.val, w, round=1),
        first_pass=lambda w: path(
            rules.gather_annotation.output.gff3, w, stage="first_pass"
        ),
        pseudolabels=round1(pseudolabel_genes),
        genes=lambda w: path(rules.select_confident.output.genes, w, round=1),
        models=round_files("finetune", "best"),
        annotations=round_stages("gather_annotation", "gff3"),
        junctions=get_junctions,
        genome=rules.ingest_genome.output.h5,
        predictions=stage_files("gather_predictions", "h5"),
        profiles=stage_profiles,
        psauron=get_psauron_model,
    output:
        gff3="results/{species}/chosen/annotation.gff3",
        rounds=report(
            "results/{species}/final/rounds.tsv",
            caption="../report/rounds.rst",
            category="Fine-tuning",
            labels={"species": "{species}", "table": "self-training rounds"},
        ),
    log:
        "logs/choose_final_round/{species}.log",
    benchmark:
        "logs/benchmark/choose_final_round/{species}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(1600, 44),
        runtime=60,
    params:
        script=script_path("choose_round.py"),
        settings=settings("decode"),
    shell:
        "python {params.script:q} --val-h5 {input.val:q} --first-pass {input.first_pass:q} "
        "--pseudolabels {input.pseudolabels:q} --genes-tsv {input.genes:q} --junctions {input.junctions:q} "
        "--psauron-model {input.psauron:q} "
        "--genome-h5 {input.genome:q} --predictions {input.predictions:q} --profiles {input.profiles:q} "
        "--settings {params.settings:q} "
        "--models {input.models:q} --annotations {input.annotations:q} --out-gff3 {output.gff3:q} "
        "--out-tsv {output.rounds:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"
