#!/usr/bin/env python
"""Join the scattered pieces' gene models (decode.py --piece) into one GFF3 in genome order."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.io.gather import gather_gff3


def main():
    p = cli.parser(__doc__)
    p.add_argument("--pieces", nargs="+", required=True, help="the pieces' GFF3 files, in piece order")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    gather_gff3(a.pieces, a.out)
    print(f"gathered {len(a.pieces)} pieces into {a.out}")


if __name__ == "__main__":
    cli.run(main)
