#!/usr/bin/env python
"""final/summary.tsv (the numbers people check first: first pass beside final, with the evaluation when
a reference is given) and final/protein_lengths.svg."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.evaluate.summary import evaluation, numbers, plot_protein_lengths, write_summary


def main():
    p = cli.parser(__doc__)
    p.add_argument("--first-pass", required=True, help="the first pass's annotation.gff3")
    p.add_argument("--final", required=True, help="final/annotation.gff3")
    p.add_argument("--genes-tsv", required=True, help="final/genes.tsv (read support, high confidence)")
    p.add_argument("--genome-h5", required=True)
    cli.optional_input(p, "--metrics", "evaluation/metrics.tsv, when a reference is given")
    p.add_argument("--out-tsv", required=True)
    p.add_argument("--out-svg", required=True)
    a = p.parse_args()
    first, first_proteins = numbers(a.first_pass, a.genome_h5)
    final, final_proteins = numbers(a.final, a.genome_h5, a.genes_tsv)
    if a.metrics:
        first.update(evaluation(a.metrics, "first_pass"))
        final.update(evaluation(a.metrics, "final"))
    write_summary({"first_pass": first, "final": final}, a.out_tsv)
    plot_protein_lengths({"first pass": first_proteins, "final": final_proteins}, a.out_svg)
    print(f"{final['genes']} genes in the final annotation ({first['genes']} in the first pass)")


if __name__ == "__main__":
    cli.run(main)
