#!/usr/bin/env python
"""Gene statistics of annotations (genes, transcripts, exons per transcript, gene, CDS and intron
lengths) -> TSV and an SVG of the length distributions."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.core.errors import InputError
from genetune.evaluate.stats import gene_stats, lengths_of, plot_lengths, write_stats


def main():
    p = cli.parser(__doc__)
    p.add_argument("--genome-h5", required=True)
    p.add_argument("--annotation", action="append", required=True, help="NAME=annotation.gff3 (or .gtf); repeat")
    cli.optional_input(p, "--reference", "the reference annotation, shown as `reference`")
    p.add_argument("--out-tsv", required=True)
    p.add_argument("--out-svg", required=True)
    a = p.parse_args()
    annotations = {}
    for spec in a.annotation:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise InputError(f"--annotation {spec}: give NAME=FILE")
        if name in annotations:
            raise InputError(f"--annotation {spec}: the name '{name}' is given twice")
        annotations[name] = path
    if a.reference:
        annotations["reference"] = a.reference
    lengths = {name: lengths_of(path, a.genome_h5) for name, path in annotations.items()}  # each file read once
    write_stats(gene_stats(lengths), a.out_tsv)
    plot_lengths(lengths, a.out_svg)
    print(f"gene statistics of {', '.join(annotations)} -> {a.out_tsv}")


if __name__ == "__main__":
    cli.run(main)
