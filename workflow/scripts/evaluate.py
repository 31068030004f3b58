#!/usr/bin/env python
"""Score predicted GFF3(s) against a reference GFF3: base, CDS-exon, transcript and gene level -> TSV (+ SVG)."""

import argparse

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.core.errors import InputError
from genetune.core.qc import QC
from genetune.evaluate import taxonomy
from genetune.evaluate.evaluate import evaluate_stages, plot, plot_confusion, reference_spread, write_tsv


class RoundPredictions(argparse.Action):
    """Round annotations named round1, round2, ... in their place among the --prediction stages."""

    def __call__(self, parser, namespace, values, option_string=None):
        stages = list(getattr(namespace, self.dest) or [])
        done = sum(1 for s in stages if s.startswith("round"))
        setattr(namespace, self.dest, stages + [f"round{done + k}={v}" for k, v in enumerate(values, 1)])


def main():
    p = cli.parser(__doc__)
    p.add_argument("--reference", required=True)
    p.add_argument(
        "--prediction", action="append", required=True, help="pred.gff3 or NAME=pred.gff3; repeat to compare stages"
    )
    p.add_argument("--genome-h5", required=True, help="genome.h5 (sequence lengths for base-level scores)")
    p.add_argument(
        "--round-predictions",
        nargs="*",
        action=RoundPredictions,
        dest="prediction",
        help="each round's annotation, in round order: --prediction round1=FILE round2=FILE ... "
        "in this place of the stage order",
    )
    p.add_argument(
        "--reference-loci-only",
        nargs="?",
        type=cli.boolean,
        const=True,
        default=False,
        help="ignore predictions outside reference genes (incomplete reference)",
    )
    p.add_argument("--plot", help="SVG with F1 per stage")
    p.add_argument("--confusion", help="SVG with each stage's base-level confusion matrix")
    p.add_argument("--qc-tsv", help="QC table: how much of the genome the reference covers")
    p.add_argument("--errors-tsv", help="error taxonomy: what became of each reference gene, per stage")
    p.add_argument("--errors-plot", help="SVG of the error taxonomy")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    qc = QC()
    reference_spread(a.reference, a.genome_h5, qc)
    paths = {}
    for k, spec in enumerate(a.prediction, 1):
        name, _, path = spec.rpartition("=")
        name = name or (f"prediction{k}" if len(a.prediction) > 1 else "prediction")
        if name in paths:
            raise InputError(f"--prediction {spec}: stage name '{name}' is given twice; name each stage once")
        paths[name] = path
    result = evaluate_stages(a.reference, paths, a.genome_h5, a.reference_loci_only)
    write_tsv(result.tables, a.out)
    if a.qc_tsv:
        qc.write(a.qc_tsv)
    if a.plot:
        plot(result.tables, a.plot)
    if a.confusion:
        plot_confusion(result.confusions, a.confusion)
    if a.errors_tsv:
        taxonomy.write_tsv(result.taxonomies, a.errors_tsv)
    if a.errors_plot:
        taxonomy.plot(result.taxonomies, a.errors_plot)
    for name, rows in result.tables.items():
        f1 = {(r[0], r[1]): r[4] for r in rows}
        print(f"{name}: base genic F1 {f1[('base', 'genic')]:.3f}, gene F1 {f1[('gene', 'gene')]:.3f}")


if __name__ == "__main__":
    cli.run(main)
