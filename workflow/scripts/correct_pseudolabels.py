#!/usr/bin/env python
"""Check the pseudolabel gene models against the read junctions -> the gene models to label (genes the
reads contradict set to the junctions where the result is still a gene) and corrections.tsv (what
became of every gene and of every junction inside no gene: supported, corrected, masked, ...)."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.evidence import splicing
from genetune.io.chunks import read_keys, seq_lengths
from genetune.io.gff import read_gff3, select_transcripts, write_gff3
from genetune.pseudolabels import correct
from genetune.pseudolabels.select import SelectConfig


def main():
    p = cli.parser(__doc__)
    p.add_argument("--gff3", required=True, help="the stage's annotation.gff3 (decoded gene models)")
    p.add_argument("--genome-h5", required=True)
    p.add_argument("--junctions", required=True, help="junctions.tsv of collect_junctions.py")
    p.add_argument("--settings", help="the select settings (min_junction_reads): YAML/JSON file or inline JSON")
    p.add_argument("--min-intron", type=int, default=30, help="shortest intron a corrected gene may have")
    p.add_argument("--out-gff3", required=True)
    p.add_argument("--out-tsv", required=True)
    a = p.parse_args()
    cfg = SelectConfig.from_dict(cli.load_settings(a.settings), cli.settings_source(a.settings))
    lengths = seq_lengths(*read_keys(a.genome_h5))
    genes = select_transcripts(read_gff3(a.gff3, lengths))
    fixed, rows = correct.correct_genes(
        genes, splicing.read_tsv(a.junctions), a.genome_h5, cfg.min_junction_reads, a.min_intron
    )
    write_gff3(
        fixed,
        lengths,
        a.out_gff3,
        "genetune",
        comments=[f"pseudolabel genes of {a.gff3}, checked against the read junctions of {a.junctions}"],
    )
    correct.write_tsv(rows, a.out_tsv)
    done = {action: sum(r["action"] == action for r in rows) for action in correct.ACTIONS}
    print(", ".join(f"{n} {action}" for action, n in done.items()))


if __name__ == "__main__":
    cli.run(main)
