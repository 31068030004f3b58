#!/usr/bin/env python
"""GFF3 gene models -> labels.h5 (self-contained: genome.h5's X and keys copied, plus data/y, phases, ...)."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.core.qc import QC
from genetune.pseudolabels.labels import gff_to_labels


def main():
    p = cli.parser(__doc__)
    p.add_argument("--gff3", required=True)
    p.add_argument("--genome-h5", required=True)
    p.add_argument(
        "--settings",
        help="the config's pseudolabels section (error_masks, all_transcripts, "
        "missing_utr_masks): a YAML/JSON file or inline JSON; default: the schema's",
    )
    p.add_argument("--qc-tsv", help="QC table: CDS phase agreement, share of bases with sample weight 0")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    s = cli.section_settings(a.settings, "pseudolabels")
    qc = QC()
    n = gff_to_labels(
        a.gff3,
        a.genome_h5,
        a.out,
        longest_coding_only=not s["all_transcripts"],
        error_masks=s["error_masks"],
        missing_utr_masks=True if s["missing_utr_masks"] == "on" else "auto",
        qc=qc,
    )
    if a.qc_tsv:
        qc.write(a.qc_tsv)
    print(f"labelled {n} transcripts into {a.out}")


if __name__ == "__main__":
    cli.run(main)
