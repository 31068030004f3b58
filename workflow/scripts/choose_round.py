#!/usr/bin/env python
"""Choose the final annotation: a round replaces the stage before it only when an independent check on
round 1's validation sequences says it is better (intron agreement with read junctions; without
evidence, agreement with the held-out pseudolabel genes) -> final annotation.gff3 and a TSV of every
stage's check."""

import _bootstrap  # noqa: F401

from genetune import cli, evidence, profile
from genetune.decode import DecodeConfig
from genetune.errors import InputError
from genetune.rounds import choose_final
from genetune.select import kept_genes


def main():
    p = cli.parser(__doc__)
    p.add_argument("--val-h5", required=True, help="round 1's validation_data.h5")
    p.add_argument("--first-pass", required=True, help="the first pass's annotation.gff3")
    p.add_argument("--annotations", nargs="+", required=True, help="each round's annotation.gff3, in round order")
    p.add_argument("--models", nargs="*", default=[], help="each round's best.pt, in round order (for information)")
    p.add_argument("--junctions", help="junctions.tsv: the evidence check")
    p.add_argument("--genome-h5", help="with --junctions: genome.h5")
    p.add_argument("--predictions", nargs="*", default=[], help="with --junctions: each stage's predictions.h5, "
                                                                  "the first pass first")
    p.add_argument("--profiles", nargs="*", default=[], help="with --junctions: each stage's profile.yaml, in order")
    p.add_argument("--settings", help="with --junctions: the decoder settings (DecodeConfig)")
    p.add_argument("--pseudolabels", help="the gene models round 1 trained on (the first pass's annotation)")
    p.add_argument("--genes-tsv", help="round 1's genes.tsv: which pseudolabel genes were kept")
    p.add_argument("--out-gff3", required=True)
    p.add_argument("--out-tsv", required=True)
    a = p.parse_args()
    stages = {"first_pass": a.first_pass, **{f"round{r}": path for r, path in enumerate(a.annotations, 1)}}
    junctions = evidence.read_tsv(a.junctions) if a.junctions else None
    held_out = kept_genes(a.pseudolabels, a.genes_tsv) if a.pseudolabels else None
    decoding = None
    if junctions:
        if not a.genome_h5 or len(a.predictions) != len(stages) or len(a.profiles) != len(stages):
            raise InputError(f"--junctions needs --genome-h5 and {len(stages)} --predictions and --profiles "
                             "(one per stage, the first pass first)")
        decoding = (a.genome_h5, {name: (pred, profile.load(prof)) for name, pred, prof
                                  in zip(stages, a.predictions, a.profiles)},
                    DecodeConfig.from_dict(cli.load_settings(a.settings), cli.settings_source(a.settings)))
    chosen = choose_final(a.val_h5, stages, a.out_gff3, a.out_tsv, junctions, held_out, a.models, decoding)
    print(f"final annotation: {chosen} ({stages[chosen]})")


if __name__ == "__main__":
    cli.run(main)
