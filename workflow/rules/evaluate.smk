# Before/after evaluation against a reference annotation, when one is configured, and gene
# statistics of every stage (and the reference) for the report.


rule evaluate:
    input:
        reference=get_reference,
        genome=rules.ingest_genome.output.h5,
        first_pass=lambda w: path(
            rules.gather_annotation.output.gff3, w, stage="first_pass"
        ),
        rounds=round_stages("gather_annotation", "gff3"),
        final=rules.deliver.output.gff3,
    output:
        metrics=report(
            "results/{species}/evaluation/metrics.tsv",
            caption="../report/evaluation_metrics.rst",
            category="Evaluation",
            labels={"species": "{species}", "table": "metrics"},
        ),
        plot=report(
            "results/{species}/evaluation/f1.svg",
            caption="../report/evaluation_plot.rst",
            category="Evaluation",
            labels={"species": "{species}", "figure": "F1 before/after"},
        ),
        confusion=report(
            "results/{species}/evaluation/confusion.svg",
            caption="../report/confusion.rst",
            category="Evaluation",
            labels={"species": "{species}", "figure": "base-level confusion"},
        ),
        errors=report(
            "results/{species}/evaluation/errors.tsv",
            caption="../report/errors.rst",
            category="Evaluation",
            labels={"species": "{species}", "table": "error taxonomy"},
        ),
        errors_plot=report(
            "results/{species}/evaluation/errors.svg",
            caption="../report/errors.rst",
            category="Evaluation",
            labels={"species": "{species}", "figure": "error taxonomy"},
        ),
        qc=report(
            "results/{species}/qc/evaluation.tsv",
            caption="../report/qc.rst",
            category="Quality control",
            labels={"species": "{species}", "table": "reference"},
        ),
    log:
        "logs/evaluate/{species}.log",
    benchmark:
        "logs/benchmark/evaluate/{species}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(500, 4),
        runtime=by_genome(10, 1),
    params:
        script=script_path("evaluate.py"),
        incomplete=species_setting("reference_is_incomplete", default=False),
    shell:
        "python {params.script:q} --reference {input.reference:q} --genome-h5 {input.genome:q} "
        "--prediction first_pass={input.first_pass:q} --round-predictions {input.rounds:q} "
        "--prediction final={input.final:q} --reference-loci-only {params.incomplete} --plot {output.plot:q} --confusion {output.confusion:q} "
        "--errors-tsv {output.errors:q} --errors-plot {output.errors_plot:q} "
        "--qc-tsv {output.qc:q} --out {output.metrics:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule gene_stats:
    input:
        first_pass=lambda w: path(
            rules.gather_annotation.output.gff3, w, stage="first_pass"
        ),
        final=rules.deliver.output.gff3,
        reference=get_reference,
        genome=rules.ingest_genome.output.h5,
    output:
        tsv=report(
            "results/{species}/stats/genes.tsv",
            caption="../report/gene_stats.rst",
            category="Gene statistics",
            labels={"species": "{species}", "table": "gene statistics"},
        ),
        svg=report(
            "results/{species}/stats/lengths.svg",
            caption="../report/gene_lengths.rst",
            category="Gene statistics",
            labels={"species": "{species}", "figure": "length distributions"},
        ),
    log:
        "logs/gene_stats/{species}.log",
    benchmark:
        "logs/benchmark/gene_stats/{species}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(400, 2),
        runtime=by_genome(10, 0.2),
    params:
        script=script_path("gene_stats.py"),
    shell:
        "python {params.script:q} --genome-h5 {input.genome:q} --annotation first_pass={input.first_pass:q} "
        "--annotation final={input.final:q} --reference {input.reference:q} "
        "--out-tsv {output.tsv:q} --out-svg {output.svg:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"
