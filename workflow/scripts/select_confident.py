#!/usr/bin/env python
"""Keep the most confident pseudolabelled chunks per intergenic-fraction stratum -> confident.h5."""

import _bootstrap  # noqa: F401

from genetune import cli
from genetune.select import select_confident


def main():
    p = cli.parser(__doc__)
    p.add_argument("--labels-h5", required=True)
    p.add_argument("--predictions", required=True)
    p.add_argument("--keep-fraction", type=float, default=0.5)
    p.add_argument("--strata", type=int, default=6)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    rows, conf = select_confident(a.labels_h5, a.predictions, a.out, a.keep_fraction, a.strata)
    print(f"kept {len(rows)} chunks, mean confidence {conf[rows].mean():.4f} (all: {conf.mean():.4f})")


if __name__ == "__main__":
    cli.run(main)
