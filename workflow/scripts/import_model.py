#!/usr/bin/env python
"""A pretrained model from another project -> genetune checkpoint (.pt), without TensorFlow.

Helixer's Keras HybridModel (.h5, e.g. land_plant_v0.3_a_0100.h5) or geneML's residual CNN
(.keras, e.g. geneml/models/geneML_default.keras from `pip install --no-deps geneml==1.3.1`);
the format is told by the file's signature.
"""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.models.checkpoint import save_checkpoint
from genetune.models.sources import import_model


def main():
    p = cli.parser(__doc__)
    p.add_argument("--keras", required=True, help="Keras model file: Helixer .h5 or geneML .keras")
    p.add_argument(
        "--coverage-norm",
        choices=("none", "log"),
        default="none",
        help="Helixer coverage models: the --coverage-norm it was trained with (Helixer's default: none)",
    )
    p.add_argument("--coverage-bams", nargs="+", help="Helixer coverage models: names of its BAMs, in input order")
    p.add_argument("--strandedness", nargs="+", help="Helixer coverage models: protocol of each BAM")
    p.add_argument("--name", help="model name for the card (default: from the file and its package)")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    model, channels, card = import_model(a.keras, a.coverage_norm, a.coverage_bams, a.strandedness, a.name)
    save_checkpoint(a.out, model, channels, model_card=card, parent_sha256=card["source"]["sha256"])
    print(f"imported {model.family} model {card['name']} ({model.arch}) into {a.out}")


if __name__ == "__main__":
    cli.run(main)
