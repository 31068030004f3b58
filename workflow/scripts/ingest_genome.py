#!/usr/bin/env python
"""FASTA (plain/gzip/bgzip) -> genome.h5 in Helixer's layout (data/X, seqids, species, start_ends)."""

import _bootstrap  # noqa: F401

from genetune.core import cli, layout
from genetune.io.fasta import ingest_genome


def main():
    p = cli.parser(__doc__)
    p.add_argument("--fasta", required=True)
    p.add_argument("--species", required=True)
    p.add_argument("--subsequence-length", type=cli.positive_int, default=layout.DEFAULT_SUBSEQUENCE_LENGTH)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    n = ingest_genome(a.fasta, a.species, a.out, a.subsequence_length)
    print(f"wrote {n} chunks of {a.subsequence_length} bp to {a.out}")


if __name__ == "__main__":
    cli.run(main)
