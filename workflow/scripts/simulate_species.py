#!/usr/bin/env python
"""Simulate a species: genome.fa, annotation.gff3 (truth) and a dUTP RNA-seq BAM."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.demo.simulate import PRESETS, simulate_species


def main():
    p = cli.parser(__doc__)
    p.add_argument("--preset", required=True, choices=sorted(PRESETS))
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--contig-sizes", type=cli.positive_int, nargs="+", required=True, help="bp per contig")
    p.add_argument("--read-pairs", type=cli.non_negative_int, default=0, help="RNA-seq read pairs (0: no BAM)")
    p.add_argument("--prefix", default="chr", help="contig name prefix")
    p.add_argument("--read-contigs", nargs="*", help="the contigs the reads come from (default: all)")
    p.add_argument("--out-dir", required=True)
    a = p.parse_args()
    _, transcripts = simulate_species(
        a.preset, a.seed, a.out_dir, a.contig_sizes, a.read_pairs, a.prefix, a.read_contigs or None
    )
    print(f"simulated {len(transcripts)} genes on {len(a.contig_sizes)} contigs into {a.out_dir}")


if __name__ == "__main__":
    cli.run(main)
