#!/usr/bin/env python
"""The final annotation's take-away files: proteins.faa, cds.fna, mrna.fna (one record per transcript)
and annotation.gtf (GTF2.2)."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.deliver.deliver import write_gtf, write_sequences
from genetune.deliver.genetic_code import TABLES
from genetune.io.chunks import read_keys, seq_lengths
from genetune.io.gff import read_gff3


def main():
    p = cli.parser(__doc__)
    p.add_argument("--gff3", required=True, help="the final annotation.gff3")
    p.add_argument("--genome-h5", required=True)
    p.add_argument("--genetic-code", type=int, default=1, choices=sorted(TABLES), help="NCBI translation table")
    p.add_argument("--out-gtf", required=True)
    p.add_argument("--out-faa", required=True)
    p.add_argument("--out-cds", required=True)
    p.add_argument("--out-mrna", required=True)
    a = p.parse_args()
    lengths = seq_lengths(*read_keys(a.genome_h5))
    transcripts = read_gff3(a.gff3, lengths)
    n = write_sequences(transcripts, a.genome_h5, a.out_faa, a.out_cds, a.out_mrna, a.genetic_code)
    write_gtf(transcripts, list(lengths), a.out_gtf)
    print(f"{n} transcripts: {a.out_faa}, {a.out_cds}, {a.out_mrna}, {a.out_gtf}")


if __name__ == "__main__":
    cli.run(main)
