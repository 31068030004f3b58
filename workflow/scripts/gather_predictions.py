#!/usr/bin/env python
"""Join the scattered pieces' predictions (predict.py --piece) into one predictions.h5 in genome order."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.io.gather import gather_predictions


def main():
    p = cli.parser(__doc__)
    p.add_argument("--genome-h5", required=True)
    p.add_argument("--pieces", nargs="+", required=True, help="the pieces' predictions.h5, in piece order")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    n = gather_predictions(a.genome_h5, a.pieces, a.out)
    print(f"gathered {n} chunks from {len(a.pieces)} pieces into {a.out}")


if __name__ == "__main__":
    cli.run(main)
