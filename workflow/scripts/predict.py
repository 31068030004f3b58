#!/usr/bin/env python
"""Predict class and phase probabilities for every chunk of genome.h5 -> predictions.h5."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.models.predict import predict_h5


def main():
    p = cli.parser(__doc__)
    p.add_argument("--genome-h5", required=True)
    p.add_argument("--coverage-h5", help="coverage.h5 for models that read RNA-seq coverage")
    p.add_argument("--model", required=True)
    p.add_argument("--batch-size", type=cli.positive_int, default=8, help="windows per forward pass")
    p.add_argument("--no-overlap", action="store_true", help="predict chunks independently")
    cli.piece_options(p)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    cli.keep_freed_memory()
    n = predict_h5(a.genome_h5, a.model, a.out, a.coverage_h5, a.batch_size, not a.no_overlap, a.threads,
                   piece=cli.piece(a))
    print(f"predicted {n} chunks into {a.out}")


if __name__ == "__main__":
    cli.run(main)
