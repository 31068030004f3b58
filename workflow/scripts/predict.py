#!/usr/bin/env python
"""Predict class and phase probabilities for every chunk of genome.h5 -> predictions.h5."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.models.predict import predict_h5


def main():
    p = cli.parser(__doc__)
    p.add_argument("--genome-h5", required=True)
    cli.optional_input(p, "--coverage-h5", "coverage.h5 for models that read RNA-seq coverage")
    p.add_argument("--model", required=True)
    p.add_argument(
        "--settings",
        help="the config's predict section (batch_size, overlap): a YAML/JSON file or "
        "inline JSON; default: the schema's",
    )
    cli.piece_options(p)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    s = cli.section_settings(a.settings, "predict")
    cli.keep_freed_memory()
    n = predict_h5(
        a.genome_h5, a.model, a.out, a.coverage_h5, s["batch_size"], s["overlap"], a.threads, piece=cli.piece(a)
    )
    print(f"predicted {n} chunks into {a.out}")


if __name__ == "__main__":
    cli.run(main)
