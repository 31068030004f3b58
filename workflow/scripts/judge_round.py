#!/usr/bin/env python
"""Whether another self-training round should run (rounds: auto) -> verdict.tsv: stop when the round
changed little (CDS-exon F1 to the previous stage >= 0.99), when the final check says it is not the
best stage so far, or after the last round auto allows; else continue."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.evaluate.rounds import MAX_AUTO_ROUNDS, add_stage_arguments, round_verdict, stage_inputs


def main():
    p = cli.parser(__doc__)
    add_stage_arguments(p)
    p.add_argument("--round", type=cli.positive_int, required=True, help="the round just finished")
    p.add_argument("--max-rounds", type=cli.positive_int, default=MAX_AUTO_ROUNDS)
    p.add_argument("--out-tsv", required=True)
    a = p.parse_args()
    stages, junctions, held_out, decoding, _ = stage_inputs(a)
    decision = round_verdict(a.round, a.val_h5, stages, a.out_tsv, junctions, held_out, decoding, a.max_rounds)
    print(f"after round {a.round}: {decision}")


if __name__ == "__main__":
    cli.run(main)
