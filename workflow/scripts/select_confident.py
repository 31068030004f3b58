#!/usr/bin/env python
"""Keep the pseudolabels most likely right -> confident.h5: per gene (network confidence and, with
RNA-seq, read evidence; doubtful genes masked) or per chunk (Helixer's stratified rule)."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.decode import profile
from genetune.evidence import splicing
from genetune.pseudolabels import correct
from genetune.pseudolabels.select import SelectConfig, select_confident


def main():
    p = cli.parser(__doc__)
    p.add_argument("--labels-h5", required=True)
    p.add_argument("--predictions", required=True, help="predictions.h5 the pseudolabels were decoded from")
    p.add_argument("--gff3", help="the gene models the labels came from (needed for unit gene)")
    cli.optional_input(p, "--coverage-h5", "coverage.h5: RNA-seq evidence for the gene scores")
    cli.optional_input(
        p, "--junctions", "junctions.tsv: read-supported introns (genes with all introns supported first)"
    )
    cli.optional_input(p, "--corrections", "corrections.tsv of correct_pseudolabels.py: genes the reads contradict")
    p.add_argument("--profile", help="the species profile (profile.yaml): split-gene gaps are judged by its introns")
    p.add_argument("--settings", help="selection settings (SelectConfig): a YAML/JSON file or inline JSON")
    p.add_argument("--genes-tsv", help="every gene with its scores and whether it was kept")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    cfg = SelectConfig.from_dict(cli.load_settings(a.settings), cli.settings_source(a.settings))
    junctions = splicing.read_tsv(a.junctions) if a.junctions else None
    rows, conf = select_confident(
        a.labels_h5,
        a.predictions,
        a.out,
        cfg,
        a.gff3,
        a.coverage_h5,
        a.genes_tsv,
        junctions,
        correct.read_tsv(a.corrections) if a.corrections else None,
        profile.load(a.profile) if a.profile else None,
    )
    print(f"kept {len(rows)} chunks, mean chunk confidence {conf[rows].mean():.4f} (all: {conf.mean():.4f})")


if __name__ == "__main__":
    cli.run(main)
