#!/usr/bin/env python
"""RNA-seq BAM(s) -> coverage.h5 (per-base coverage and spliced coverage per chunk, sense strand)."""

import _bootstrap  # noqa: F401

from genetune.core import cli, layout
from genetune.evidence.coverage import STRANDEDNESS, add_coverage


def main():
    p = cli.parser(__doc__)
    p.add_argument("--genome-h5", required=True)
    p.add_argument(
        "--bam", action="extend", nargs="+", required=True, help="the BAMs, several or repeated (order is kept)"
    )
    p.add_argument(
        "--strandedness", nargs="+", required=True, choices=STRANDEDNESS, help="one value for all BAMs, or one per BAM"
    )
    p.add_argument("--prefix", default=layout.DEFAULT_COVERAGE_PREFIX)
    p.add_argument("--min-mapq", type=cli.non_negative_int, default=0)
    p.add_argument("--skip-duplicates", action="store_true")
    p.add_argument("--strandedness-report", help="TSV: each BAM's protocol checked against its intron motifs")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    strd = a.strandedness[0] if len(a.strandedness) == 1 else a.strandedness
    n = add_coverage(
        a.genome_h5,
        a.bam,
        strd,
        a.out,
        a.prefix,
        a.min_mapq,
        a.skip_duplicates,
        threads=a.threads,
        report=a.strandedness_report,
    )
    print(f"counted {', '.join(map(str, n))} alignments into {a.out}")


if __name__ == "__main__":
    cli.run(main)
