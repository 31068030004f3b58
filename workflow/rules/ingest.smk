# Genome and RNA-seq ingestion: FASTA -> genome.h5, BAM(s) -> coverage.h5 (same chunks), BAMs and
# hints files -> the read junctions (evidence/junctions.tsv).


rule ingest_genome:
    input:
        fasta=get_genome,
    output:
        h5="results/{species}/genome.h5",
    log:
        "logs/ingest_genome/{species}.log",
    benchmark:
        "logs/benchmark/ingest_genome/{species}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(500, 4),
        runtime=by_genome(10, 0.1),
    params:
        script=script_path("ingest_genome.py"),
        species="{species}",
        length=species_setting("subsequence_length"),
    shell:
        "python {params.script:q} --fasta {input.fasta:q} --species {params.species} "
        "--subsequence-length {params.length} --out {output.h5:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule add_coverage:
    input:
        genome=rules.ingest_genome.output.h5,
        bams=get_bams,
    output:
        h5="results/{species}/coverage.h5",
        strandedness=report(
            "results/{species}/qc/strandedness.tsv",
            caption="../report/strandedness.rst",
            category="Quality control",
            labels={"species": "{species}", "table": "RNA-seq strandedness"},
        ),
    log:
        "logs/add_coverage/{species}.log",
    benchmark:
        "logs/benchmark/add_coverage/{species}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 4
    resources:
        mem_mb=by_genome(800, 8),
        runtime=by_genome(30, 1),
    params:
        script=script_path("add_coverage.py"),
        strandedness=strandedness,
    shell:
        "python {params.script:q} --genome-h5 {input.genome:q} --bam {input.bams:q} "
        "--strandedness {params.strandedness} --threads {threads} "
        "--strandedness-report {output.strandedness:q} --out {output.h5:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule collect_junctions:
    input:
        genome=rules.ingest_genome.output.h5,
        bams=get_bams,
        hints=get_hints,
    output:
        tsv="results/{species}/evidence/junctions.tsv",
    log:
        "logs/collect_junctions/{species}.log",
    benchmark:
        "logs/benchmark/collect_junctions/{species}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(500, 2),
        runtime=by_genome(20, 1),
    params:
        script=script_path("collect_junctions.py"),
        strandedness=strandedness,
    shell:
        "python {params.script:q} --genome-h5 {input.genome:q} --bam {input.bams:q} "
        "--strandedness {params.strandedness} --hints {input.hints:q} --out {output.tsv:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"
