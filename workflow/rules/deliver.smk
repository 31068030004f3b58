# What an annotator takes away beside the final GFF3: proteins, CDS and mRNA FASTA and a GTF.


rule deliver:
    input:
        gff3=rules.choose_final_round.output.gff3,
        genome=rules.ingest_genome.output.h5,
    output:
        gtf="results/{species}/final/annotation.gtf",
        faa="results/{species}/final/proteins.faa",
        cds="results/{species}/final/cds.fna",
        mrna="results/{species}/final/mrna.fna",
    log:
        "logs/deliver/{species}.log",
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=by_genome(1000, 1),
        runtime=by_genome(10, 0.2),
    params:
        script=script_path("deliver.py"),
        code=species_setting("genetic_code"),
    shell:
        "python {params.script:q} --gff3 {input.gff3:q} --genome-h5 {input.genome:q} "
        "--genetic-code {params.code} --out-gtf {output.gtf:q} --out-faa {output.faa:q} "
        "--out-cds {output.cds:q} --out-mrna {output.mrna:q} > {log:q} 2>&1"
