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
    p.add_argument("--all-transcripts", action="store_true",
                   help="label every coding transcript (default: the longest per gene, as Helixer)")
    p.add_argument("--no-error-masks", action="store_true",
                   help="keep sample_weights 1 on every real base (default: GeenuFF's error masks, as Helixer)")
    p.add_argument("--missing-utr-masks", choices=("on", "auto"), default="on",
                   help="on: genes without UTRs are flagged as GeenuFF does; auto: only where at least 10%% of "
                        "the coding transcripts have a UTR (not in a CDS-only annotation such as geneML's)")
    p.add_argument("--qc-tsv", help="QC table: CDS phase agreement, share of bases with sample weight 0")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    qc = QC()
    n = gff_to_labels(a.gff3, a.genome_h5, a.out, longest_coding_only=not a.all_transcripts,
                      error_masks=not a.no_error_masks,
                      missing_utr_masks=True if a.missing_utr_masks == "on" else "auto", qc=qc)
    if a.qc_tsv:
        qc.write(a.qc_tsv)
    print(f"labelled {n} transcripts into {a.out}")


if __name__ == "__main__":
    cli.run(main)
