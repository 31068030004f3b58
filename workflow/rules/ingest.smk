# Genome and RNA-seq ingestion: FASTA -> genome.h5, BAM(s) -> coverage.h5 (same chunks).


rule ingest_genome:
    input:
        fasta=config["genome"],
    output:
        h5=f"{RESULTS}/genome.h5",
    log:
        f"logs/ingest_genome/{SPECIES}.log",
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        script=script_path("ingest_genome.py"),
        species=SPECIES,
        length=config["subsequence_length"],
    shell:
        "python {params.script:q} --fasta {input.fasta:q} --species {params.species} "
        "--subsequence-length {params.length} --out {output.h5:q} > {log:q} 2>&1"


rule add_coverage:
    input:
        genome=rules.ingest_genome.output.h5,
        bams=get_bams(),
    output:
        h5=f"{RESULTS}/coverage.h5",
        strandedness=report(
            f"{RESULTS}/qc/strandedness.tsv",
            caption="../report/strandedness.rst",
            category="Quality control",
            labels={"species": SPECIES, "table": "RNA-seq strandedness"},
        ),
    log:
        f"logs/add_coverage/{SPECIES}.log",
    conda:
        "../envs/data.yaml"
    threads: 4
    resources:
        mem_mb=3000,
        runtime=120,
    params:
        script=script_path("add_coverage.py"),
        bams=bam_args,
        strandedness=" ".join(get_strandedness()),
    shell:
        "python {params.script:q} --genome-h5 {input.genome:q} {params.bams} "
        "--strandedness {params.strandedness} --threads {threads} "
        "--strandedness-report {output.strandedness:q} --out {output.h5:q} > {log:q} 2>&1"
