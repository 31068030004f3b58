#!/usr/bin/env python
"""Split labelled chunks by whole sequence into training_data.h5 and validation_data.h5 (seeded)."""

import _bootstrap  # noqa: F401

from genetune import cli
from genetune.gff import read_gff3
from genetune.select import read_genes_tsv
from genetune.split import split_train_val


def main():
    p = cli.parser(__doc__)
    p.add_argument("--labels-h5", required=True)
    p.add_argument("--coverage-h5", help="coverage.h5 to copy into both outputs (paired by chunk key)")
    p.add_argument("--val-fraction", type=cli.fraction, default=0.2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--genome-h5", help="with --gff3: genome.h5 (the genes' sequences)")
    p.add_argument("--gff3", help="the pseudolabel gene models: validation paralogs of training genes are masked")
    p.add_argument("--genes-tsv", help="with --gff3: the selection's genes.tsv (only kept genes are compared)")
    p.add_argument("--out-train", required=True)
    p.add_argument("--out-val", required=True)
    a = p.parse_args()
    genes = None
    if a.gff3:
        genes = [t for t in read_gff3(a.gff3) if t.cds]
        if a.genes_tsv:
            kept = read_genes_tsv(a.genes_tsv)
            genes = [t for t in genes if (t.seqid, t.gene_id) in kept]
    train, val = split_train_val(a.labels_h5, a.out_train, a.out_val, a.coverage_h5, a.val_fraction, a.seed,
                                 genes=genes, genome_h5=a.genome_h5)
    print(f"training: {', '.join(train)}\nvalidation: {', '.join(val)}")


if __name__ == "__main__":
    cli.run(main)
