# Demo inputs: species simulated by genetune's own simulator from a fixed seed, so the
# repository ships a seed instead of megabytes of FASTA/BAM. Only for a config's demo_inputs.


rule simulate_demo_species:
    output:
        fasta="resources/demo/{demo}/genome.fa",
        gff3="resources/demo/{demo}/annotation.gff3",
        bam="resources/demo/{demo}/rnaseq.bam",
        bai="resources/demo/{demo}/rnaseq.bam.bai",
    log:
        "logs/simulate_demo_species/{demo}.log",
    benchmark:
        "logs/benchmark/simulate_demo_species/{demo}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        script=script_path("simulate_species.py"),
        preset=demo_param("preset"),
        seed=demo_param("seed"),
        sizes=demo_param("contig_sizes"),
        pairs=demo_param("read_pairs"),
        read_contigs=demo_param("read_contigs", default=[]),
        out_dir=output_dir,
    shell:
        "python {params.script:q} --preset {params.preset} --seed {params.seed} "
        "--contig-sizes {params.sizes} --read-pairs {params.pairs} --read-contigs {params.read_contigs:q} "
        "--out-dir {params.out_dir:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"
