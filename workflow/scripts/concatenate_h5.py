#!/usr/bin/env python
"""Concatenate the chunks of several labelled h5 files (e.g. several pretraining species) into one."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.io.subset import concatenate


def main():
    p = cli.parser(__doc__)
    p.add_argument("--inputs", nargs="+", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    print(f"wrote {concatenate(a.inputs, a.out)} chunks to {a.out}")


if __name__ == "__main__":
    cli.run(main)
