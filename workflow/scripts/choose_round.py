#!/usr/bin/env python
"""Choose the final annotation among the self-training rounds: the round whose model scores best on
round 1's validation set -> final annotation.gff3 and a TSV of every round's scores."""

import _bootstrap  # noqa: F401

from genetune import cli
from genetune.rounds import choose_round


def main():
    p = cli.parser(__doc__)
    p.add_argument("--val-h5", required=True, help="round 1's validation_data.h5")
    p.add_argument("--models", nargs="+", required=True, help="each round's best.pt, in round order")
    p.add_argument("--annotations", nargs="+", required=True, help="each round's annotation.gff3, in round order")
    p.add_argument("--out-gff3", required=True)
    p.add_argument("--out-tsv", required=True)
    a = p.parse_args()
    best = choose_round(a.val_h5, a.models, a.annotations, a.out_gff3, a.out_tsv)
    print(f"final annotation: round {best + 1} ({a.annotations[best]})")


if __name__ == "__main__":
    cli.run(main)
