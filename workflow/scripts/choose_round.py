#!/usr/bin/env python
"""Choose the final annotation: a round replaces the stage before it only when an independent check on
round 1's validation sequences says it is better (intron agreement with read junctions; without
evidence, or with too few junctions there, agreement with the held-out pseudolabel genes) -> final
annotation.gff3 and a TSV of every stage's checks."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.evaluate.rounds import add_stage_arguments, choose_final, stage_inputs


def main():
    p = cli.parser(__doc__)
    add_stage_arguments(p)
    cli.optional_input(
        p,
        "--psauron-model",
        "PSAURON's model_state_dict.pt: each stage's validation genes scored "
        "protein-coding or not (reported, never deciding; needs --genome-h5)",
    )
    p.add_argument("--models", nargs="*", default=[], help="each round's best.pt, in round order (for information)")
    p.add_argument("--out-gff3", required=True)
    p.add_argument("--out-tsv", required=True)
    a = p.parse_args()
    stages, junctions, held_out, decoding, coding = stage_inputs(a)
    chosen = choose_final(a.val_h5, stages, a.out_gff3, a.out_tsv, junctions, held_out, a.models, decoding, coding)
    print(f"final annotation: {chosen} ({stages[chosen]})")


if __name__ == "__main__":
    cli.run(main)
