# The stage before each round (the first pass, or the previous round) -> its genes checked against
# the read junctions (with evidence), labels, the confident genes (or chunks), and the whole-sequence
# (or whole-region) split.


rule correct_pseudolabels:
    input:
        gff3=previous_annotation,
        genome=rules.ingest_genome.output.h5,
        junctions=get_junctions,
    output:
        gff3="results/{species}/round{round}/pseudolabels/genes.gff3",
        tsv=report(
            "results/{species}/round{round}/pseudolabels/corrections.tsv",
            caption="../report/corrections.rst",
            category="Pseudolabels",
            labels={
                "species": "{species}",
                "round": "{round}",
                "table": "genes against read junctions",
            },
        ),
    log:
        "logs/correct_pseudolabels/{species}.round{round}.log",
    benchmark:
        "logs/benchmark/correct_pseudolabels/{species}.round{round}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(500, 4),
        runtime=by_genome(10, 0.5),
    params:
        script=script_path("correct_pseudolabels.py"),
        settings=settings("select", "min_junction_reads"),
        min_intron=min_intron,
    shell:
        "python {params.script:q} --gff3 {input.gff3:q} --genome-h5 {input.genome:q} "
        "--junctions {input.junctions:q} --settings {params.settings:q} --min-intron {params.min_intron} "
        "--out-gff3 {output.gff3:q} --out-tsv {output.tsv:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule pseudolabels_to_h5:
    input:
        gff3=pseudolabel_genes,
        genome=rules.ingest_genome.output.h5,
    output:
        h5="results/{species}/round{round}/pseudolabels/labels.h5",
        qc="results/{species}/qc/labels.round{round}.tsv",
    log:
        "logs/pseudolabels_to_h5/{species}.round{round}.log",
    benchmark:
        "logs/benchmark/pseudolabels_to_h5/{species}.round{round}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(400, 6),
        runtime=by_genome(10, 0.5),
    params:
        script=script_path("pseudolabels_to_h5.py"),
        settings=settings("pseudolabels"),
    shell:
        "python {params.script:q} --gff3 {input.gff3:q} --genome-h5 {input.genome:q} "
        "--settings {params.settings:q} --qc-tsv {output.qc:q} --out {output.h5:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule select_confident:
    input:
        labels=rules.pseudolabels_to_h5.output.h5,
        predictions=previous_predictions,
        gff3=pseudolabel_genes,
        corrections=get_corrections,
        profile=previous_profile,
        genome=rules.ingest_genome.output.h5,
        coverage=get_coverage,
        junctions=get_junctions,
    output:
        h5="results/{species}/round{round}/pseudolabels/confident.h5",
        genes=report(
            "results/{species}/round{round}/pseudolabels/genes.tsv",
            caption="../report/pseudolabel_genes.rst",
            category="Pseudolabels",
            labels={
                "species": "{species}",
                "round": "{round}",
                "table": "gene scores",
            },
        ),
    log:
        "logs/select_confident/{species}.round{round}.log",
    benchmark:
        "logs/benchmark/select_confident/{species}.round{round}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(700, 17),
        runtime=by_genome(10, 0.5),
    params:
        script=script_path("select_confident.py"),
        settings=settings("select"),
    shell:
        "python {params.script:q} --labels-h5 {input.labels:q} --predictions {input.predictions:q} "
        "--gff3 {input.gff3:q} --coverage-h5 {input.coverage:q} --junctions {input.junctions:q} "
        "--corrections {input.corrections:q} "
        "--profile {input.profile:q} --settings {params.settings:q} "
        "--genes-tsv {output.genes:q} --out {output.h5:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule split_train_val:
    input:
        labels=rules.select_confident.output.h5,
        coverage=get_coverage,
        gff3=pseudolabel_genes,
        genes=rules.select_confident.output.genes,
        genome=rules.ingest_genome.output.h5,
        junctions=get_junctions,
    output:
        train="results/{species}/round{round}/finetune/training_data.h5",
        val="results/{species}/round{round}/finetune/validation_data.h5",
    log:
        "logs/split_train_val/{species}.round{round}.log",
    benchmark:
        "logs/benchmark/split_train_val/{species}.round{round}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(500, 10),
        runtime=by_genome(10, 0.5),
    params:
        script=script_path("split_train_val.py"),
        settings=settings("split"),
    shell:
        "python {params.script:q} --labels-h5 {input.labels:q} --coverage-h5 {input.coverage:q} "
        "--settings {params.settings:q} --gff3 {input.gff3:q} --genes-tsv {input.genes:q} "
        "--genome-h5 {input.genome:q} --junctions {input.junctions:q} "
        "--out-train {output.train:q} --out-val {output.val:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule estimate_profile:
    input:
        fit_predictions=decoder_fit("predictions"),
        fit_train=decoder_fit("train"),
        corrections=decoder_fit("corrections"),
        prior=previous_profile,
        gff3=pseudolabel_genes,
        genes=rules.select_confident.output.genes,
        genome=rules.ingest_genome.output.h5,
        junctions=get_junctions,
    output:
        yaml="results/{species}/round{round}/profile.yaml",
        tsv=report(
            "results/{species}/round{round}/profile.tsv",
            caption="../report/profile.rst",
            category="Species profile",
            labels={"species": "{species}", "stage": "round{round}"},
        ),
    log:
        "logs/estimate_profile/{species}.round{round}.log",
    benchmark:
        "logs/benchmark/estimate_profile/{species}.round{round}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(900, 84),
        runtime=by_genome(10, 0.5),
    params:
        script=script_path("make_profile.py"),
        settings=profile_settings,
    shell:
        "python {params.script:q} --prior {input.prior:q} --gff3 {input.gff3:q} --genes-tsv {input.genes:q} "
        "--genome-h5 {input.genome:q} --junctions {input.junctions:q} --settings {params.settings:q} "
        "--fit-predictions {input.fit_predictions:q} --fit-train-h5 {input.fit_train:q} "
        "--corrections {input.corrections:q} "
        "--out {output.yaml:q} --out-tsv {output.tsv:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"
