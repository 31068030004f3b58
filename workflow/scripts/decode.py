#!/usr/bin/env python
"""Decode predictions.h5 into GFF3 gene models (Viterbi constrained by start/stop codons and splice sites)."""

import dataclasses
import json

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.core.fileio import sha256
from genetune.decode import DecodeConfig, decode_h5, profile
from genetune.evidence import splicing


def main():
    p = cli.parser(__doc__)
    p.add_argument("--genome-h5", required=True)
    p.add_argument("--predictions", required=True)
    cli.optional_input(p, "--coverage-h5", "coverage.h5: RNA-seq hints, used when settings give rnaseq_hint_weight > 0")
    p.add_argument("--settings", help="decoder settings (DecodeConfig): a YAML/JSON file or inline JSON")
    p.add_argument(
        "--profile",
        help="the species profile (make_profile.py); default: the settings' profile file, else genetune's defaults",
    )
    cli.optional_input(p, "--junctions", "junctions.tsv (collect_junctions.py): read-supported introns as evidence")
    p.add_argument("--comment", action="append", default=[], help="a header line for the GFF3 (repeat)")
    p.add_argument("--base-model", help="the base model the annotation descends from: its sha256 goes in the header")
    cli.piece_options(p)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    cfg = DecodeConfig.from_dict(cli.load_settings(a.settings), cli.settings_source(a.settings))
    a.comment.append(f"decode settings {json.dumps(dataclasses.asdict(cfg), sort_keys=True)}")
    if a.base_model:
        a.comment.append(f"base model {a.base_model} sha256 {sha256(a.base_model)}")
    prof = profile.load(a.profile) if a.profile else None
    junctions = splicing.read_tsv(a.junctions) if a.junctions else ()
    n = decode_h5(
        a.genome_h5,
        a.predictions,
        a.out,
        cfg,
        a.coverage_h5,
        piece=cli.piece(a),
        comments=a.comment,
        prof=prof,
        junctions=junctions,
    )
    print(f"wrote {n} genes to {a.out}")


if __name__ == "__main__":
    cli.run(main)
