# Before/after evaluation against a reference annotation, when one is configured.


rule evaluate:
    input:
        reference=config.get("reference") or [],
        genome=rules.ingest_genome.output.h5,
        first_pass=rules.decode_first_pass.output.gff3,
        rounds=round_files(f"{RESULTS}/round{{r}}/annotation.gff3"),
        final=rules.choose_final_round.output.gff3,
    output:
        metrics=report(
            f"{RESULTS}/evaluation/metrics.tsv",
            caption="../report/evaluation_metrics.rst",
            category="Evaluation",
            labels={"species": SPECIES, "table": "metrics"},
        ),
        plot=report(
            f"{RESULTS}/evaluation/f1.svg",
            caption="../report/evaluation_plot.rst",
            category="Evaluation",
            labels={"species": SPECIES, "figure": "F1 before/after"},
        ),
        qc=f"{RESULTS}/qc/evaluation.tsv",
    log:
        f"logs/evaluate/{SPECIES}.log",
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        script=script_path("evaluate.py"),
        rounds=round_prediction_args,
        loci_only=(
            "--reference-loci-only" if config.get("reference_is_incomplete") else ""
        ),
    shell:
        "python {params.script:q} --reference {input.reference:q} --genome-h5 {input.genome:q} "
        "--prediction first_pass={input.first_pass:q} {params.rounds} --prediction final={input.final:q} "
        "{params.loci_only} "
        "--plot {output.plot:q} --qc-tsv {output.qc:q} --out {output.metrics:q} > {log:q} 2>&1"
