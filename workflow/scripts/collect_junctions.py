#!/usr/bin/env python
"""Read-supported introns (junctions) from RNA-seq BAMs and AUGUSTUS/BRAKER hints GFFs -> junctions.tsv
(seqid, strand, 0-based intron start, end, reads): whole-intron evidence for decoding, intron lengths
for the species profile, and the junctions the final check scores annotations against."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.core.errors import InputError
from genetune.evidence import splicing


def main():
    p = cli.parser(__doc__)
    p.add_argument("--genome-h5", required=True)
    p.add_argument("--bam", action="extend", nargs="*", default=[], help="coordinate-sorted BAMs (several, or repeat)")
    p.add_argument("--strandedness", nargs="*", default=[], help="reverse|forward|unstranded per --bam, in order")
    p.add_argument(
        "--hints", action="extend", nargs="*", default=[], help="AUGUSTUS/BRAKER hints GFFs (several, or repeat)"
    )
    p.add_argument("--out", required=True)
    a = p.parse_args()
    if len(a.strandedness) != len(a.bam):
        raise InputError(f"--strandedness: {len(a.strandedness)} value(s) for {len(a.bam)} BAM(s); give one per BAM")
    rows = splicing.collect(a.genome_h5, a.bam, a.strandedness, a.hints)
    splicing.write_tsv(rows, a.out)
    print(f"wrote {len(rows)} junctions ({sum(r[4] for r in rows)} reads) to {a.out}")


if __name__ == "__main__":
    cli.run(main)
