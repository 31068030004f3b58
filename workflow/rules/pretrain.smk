# Pretraining the shipped demo base model on simulated "source" species (`make pretrain`):
# snakemake pretrain --configfile config/pretrain.yaml. Outputs stay under pretrain/; the
# Makefile copies best.pt to resources/models/, so no rule ever rewrites the shipped model.


rule simulate_source_species:
    output:
        fasta="pretrain/{source}/genome.fa",
        gff3="pretrain/{source}/annotation.gff3",
    log:
        "logs/simulate_source_species/{source}.log",
    benchmark:
        "logs/benchmark/simulate_source_species/{source}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        script=script_path("simulate_species.py"),
        preset=pretrain_param("preset"),
        seed=pretrain_param("seed"),
        sizes=pretrain_param("contig_sizes"),
        out_dir=output_dir,
    shell:
        "python {params.script:q} --preset {params.preset} --seed {params.seed} "
        "--contig-sizes {params.sizes} --prefix {wildcards.source}_chr "
        "--out-dir {params.out_dir:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


use rule ingest_genome as ingest_source_genome with:
    input:
        fasta=rules.simulate_source_species.output.fasta,
    output:
        h5="pretrain/{source}/genome.h5",
    log:
        "logs/ingest_source_genome/{source}.log",
    benchmark:
        "logs/benchmark/ingest_source_genome/{source}.tsv"
    params:
        species="{source}",
        length=config.get("pretrain", {}).get("subsequence_length"),


use rule pseudolabels_to_h5 as source_labels_to_h5 with:
    input:
        gff3=rules.simulate_source_species.output.gff3,
        genome=rules.ingest_source_genome.output.h5,
    output:
        h5="pretrain/{source}/labels.h5",
        qc="pretrain/{source}/qc_labels.tsv",
    log:
        "logs/source_labels_to_h5/{source}.log",
    benchmark:
        "logs/benchmark/source_labels_to_h5/{source}.tsv"
    params:
        settings=json.dumps({"missing_utr_masks": "on"}),


rule concatenate_sources:
    input:
        expand(
            rules.source_labels_to_h5.output.h5,
            source=config.get("pretrain", {}).get("sources", []),
        ),
    output:
        h5="pretrain/all/labels.h5",
    log:
        "logs/concatenate_sources/all.log",
    benchmark:
        "logs/benchmark/concatenate_sources/all.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        script=script_path("concatenate_h5.py"),
    shell:
        "python {params.script:q} --inputs {input:q} --out {output.h5:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


use rule split_train_val as split_sources with:
    input:
        labels=rules.concatenate_sources.output.h5,
        coverage=[],
        gff3=[],
        genes=[],
        genome=[],
        junctions=[],
    output:
        train="pretrain/all/training_data.h5",
        val="pretrain/all/validation_data.h5",
    log:
        "logs/split_sources/all.log",
    benchmark:
        "logs/benchmark/split_sources/all.tsv"
    params:
        settings=pretrain_json("val_fraction", "seed"),


rule train_base_model:
    input:
        train=rules.split_sources.output.train,
        val=rules.split_sources.output.val,
    output:
        best="pretrain/model/best.pt",
        last="pretrain/model/last.pt",
        metrics="pretrain/model/metrics.tsv",
    log:
        "logs/train_base_model/all.log",
    benchmark:
        "logs/benchmark/train_base_model/all.tsv"
    conda:
        "../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=1,
    params:
        script=script_path("finetune.py"),
        settings=pretrain_json("train"),
        card=pretrain_json("model_card"),
        out_dir=output_dir,
    shell:
        "python {params.script:q} --train-h5 {input.train:q} --val-h5 {input.val:q} "
        "--settings {params.settings:q} --model-card {params.card:q} --threads {threads} "
        "--out-dir {params.out_dir:q} > {log:q} 2>&1 || killed_from_outside $? {log:q}"


rule pretrain:
    input:
        rules.train_base_model.output.best,
