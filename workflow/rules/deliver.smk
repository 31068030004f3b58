# What an annotator takes away: the chosen stage's gene models with locus tags and per-gene
# confidence and evidence, their proteins, CDS, mRNA and GTF, the high-confidence subset, and the
# numbers people check first.


rule deliver:
    input:
        gff3=rules.choose_final_round.output.gff3,
        genome=rules.ingest_genome.output.h5,
        junctions=get_junctions,
        coverage=get_coverage,
        psauron=get_psauron_model,
    output:
        gff3="results/{species}/final/annotation.gff3",
        gtf="results/{species}/final/annotation.gtf",
        faa="results/{species}/final/proteins.faa",
        cds="results/{species}/final/cds.fna",
        mrna="results/{species}/final/mrna.fna",
        genes=report(
            "results/{species}/final/genes.tsv",
            caption="../report/final_genes.rst",
            category="Final annotation",
            labels={"species": "{species}", "table": "genes with their evidence"},
        ),
        high_gff3="results/{species}/final/annotation.high_confidence.gff3",
        high_gtf="results/{species}/final/annotation.high_confidence.gtf",
        high_faa="results/{species}/final/proteins.high_confidence.faa",
        high_cds="results/{species}/final/cds.high_confidence.fna",
        high_mrna="results/{species}/final/mrna.high_confidence.fna",
        high_genes="results/{species}/final/genes.high_confidence.tsv",
    log:
        "logs/deliver/{species}.log",
    benchmark:
        "logs/benchmark/deliver/{species}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(1000, 4),
        runtime=by_genome(10, 0.2),
    params:
        script=script_path("deliver.py"),
        settings=settings("deliver"),
        prefix=species_setting("naming", "prefix"),
        code=species_setting("genetic_code"),
        out_dir=output_dir,
    shell:
        "python {params.script:q} --gff3 {input.gff3:q} --genome-h5 {input.genome:q} "
        "--junctions {input.junctions:q} --coverage-h5 {input.coverage:q} --psauron-model {input.psauron:q} "
        "--prefix {params.prefix:q} --genetic-code {params.code} --settings {params.settings:q} "
        "--out-dir {params.out_dir:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule summarize:
    input:
        first_pass=lambda w: path(
            rules.gather_annotation.output.gff3, w, stage="first_pass"
        ),
        final=rules.deliver.output.gff3,
        genes=rules.deliver.output.genes,
        genome=rules.ingest_genome.output.h5,
        metrics=get_evaluation,
    output:
        tsv=report(
            "results/{species}/final/summary.tsv",
            caption="../report/summary.rst",
            category="Final annotation",
            labels={"species": "{species}", "table": "summary"},
        ),
        svg=report(
            "results/{species}/final/protein_lengths.svg",
            caption="../report/protein_lengths.rst",
            category="Final annotation",
            labels={"species": "{species}", "figure": "protein lengths"},
        ),
    log:
        "logs/summarize/{species}.log",
    benchmark:
        "logs/benchmark/summarize/{species}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(400, 2),
        runtime=by_genome(10, 0.2),
    params:
        script=script_path("summarize.py"),
    shell:
        "python {params.script:q} --first-pass {input.first_pass:q} --final {input.final:q} "
        "--genes-tsv {input.genes:q} --genome-h5 {input.genome:q} --metrics {input.metrics:q} "
        "--out-tsv {output.tsv:q} --out-svg {output.svg:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule provenance:
    output:
        yaml="results/{species}/final/provenance.yaml",
    log:
        "logs/provenance/{species}.log",
    benchmark:
        "logs/benchmark/provenance/{species}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=200,
        runtime=5,
    params:
        script=script_path("provenance.py"),
        config=lambda w: json.dumps(cfg(w), sort_keys=True, default=str),
    shell:
        "python {params.script:q} --config-json {params.config:q} --out {output.yaml:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"
