#!/usr/bin/env python
"""Split labelled chunks by whole sequence (or region) into training_data.h5 and validation_data.h5 (seeded;
with junctions, about the validation share of the read junctions goes to validation)."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.evidence import splicing
from genetune.pseudolabels.select import kept_genes
from genetune.pseudolabels.split import split_train_val


def main():
    p = cli.parser(__doc__)
    p.add_argument("--labels-h5", required=True)
    cli.optional_input(p, "--coverage-h5", "coverage.h5 to copy into both outputs (paired by chunk key)")
    p.add_argument(
        "--settings",
        help="the config's split section (val_fraction, seed): a YAML/JSON file or inline JSON; default: the schema's",
    )
    cli.optional_input(p, "--genome-h5", "with --gff3: genome.h5 (the genes' sequences)")
    cli.optional_input(p, "--gff3", "the pseudolabel gene models: validation paralogs of training genes are masked")
    cli.optional_input(p, "--genes-tsv", "with --gff3: the selection's genes.tsv (only kept genes are compared)")
    cli.optional_input(p, "--junctions", "junctions.tsv: about val_fraction of the read junctions go to validation")
    p.add_argument("--out-train", required=True)
    p.add_argument("--out-val", required=True)
    a = p.parse_args()
    s = cli.section_settings(a.settings, "split")
    genes = kept_genes(a.gff3, a.genes_tsv) if a.gff3 else None
    train, val = split_train_val(
        a.labels_h5,
        a.out_train,
        a.out_val,
        a.coverage_h5,
        s["val_fraction"],
        s["seed"],
        genes=genes,
        genome_h5=a.genome_h5,
        junctions=splicing.read_tsv(a.junctions) if a.junctions else None,
    )
    print(f"training: {', '.join(train)}\nvalidation: {', '.join(val)}")


if __name__ == "__main__":
    cli.run(main)
