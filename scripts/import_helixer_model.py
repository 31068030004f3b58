#!/usr/bin/env python
"""Helixer Keras model (.h5, e.g. land_plant_v0.3_a_0100.h5) -> genetune checkpoint (.pt); no TensorFlow needed."""

import _bootstrap  # noqa: F401

from genetune import cli
from genetune.checkpoint import input_channels, save_checkpoint, sha256
from genetune.errors import InputError
from genetune.keras_import import import_keras_model


def main():
    p = cli.parser(__doc__)
    p.add_argument("--keras-h5", required=True)
    p.add_argument("--coverage-norm", choices=("none", "log"), default="none",
                   help="coverage models: the --coverage-norm it was trained with (Helixer's default: none)")
    p.add_argument("--coverage-bams", nargs="+", help="coverage models: names of its BAMs, in input order")
    p.add_argument("--strandedness", nargs="+", help="coverage models: protocol of each BAM")
    p.add_argument("--name", help="model name for the card (default: the file name)")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    model, arch = import_keras_model(a.keras_h5, a.coverage_norm)
    bams, strands = None, None
    if arch.input_coverage:
        bams = a.coverage_bams or [f"bam{k + 1}" for k in range(arch.coverage_count)]
        strands = a.strandedness or ["unknown"] * arch.coverage_count
        if len(bams) != arch.coverage_count or len(strands) != arch.coverage_count:
            raise InputError(f"{a.keras_h5}: the model reads {arch.coverage_count} BAM(s); "
                             f"got {len(bams)} name(s) and {len(strands)} strandedness value(s)")
    card = {"name": a.name or str(a.keras_h5).rsplit("/", 1)[-1],
            "source": {"format": "helixer-keras-h5", "file": str(a.keras_h5), "sha256": sha256(a.keras_h5)},
            "note": "weights converted from Helixer's Keras HybridModel; outputs match Keras within 1e-4"}
    save_checkpoint(a.out, model, input_channels(bams, strands, norm=a.coverage_norm), model_card=card,
                    parent_sha256=card["source"]["sha256"])
    print(f"imported {arch} into {a.out}")


if __name__ == "__main__":
    cli.run(main)
