#!/usr/bin/env python
"""The species profile the decoder scores with -> profile.yaml. First pass: the base model card's
defaults, or a given profile (a related species'), with intron lengths fitted to the read
junctions when there are any. Each round: re-estimated from the previous stage's kept pseudolabel
genes and the read-supported junctions (intron lengths from the junctions alone when there are enough;
pseudolabel introns never shrink the long tail), each other parameter a bounded step from the previous
stage's profile."""

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.core.errors import InputError
from genetune.decode import DecodeConfig, profile
from genetune.evidence import splicing
from genetune.io.chunks import covered_intervals, inside, read_keys, seq_lengths
from genetune.pseudolabels import correct
from genetune.pseudolabels.select import kept_genes


def main():
    p = cli.parser(__doc__)
    p.add_argument("--base-model", help="first pass: the base checkpoint, whose model card gives the defaults")
    cli.optional_input(p, "--profile", "first pass: a profile YAML to start from instead (e.g. a related species')")
    p.add_argument("--prior", help="a round: the previous stage's profile.yaml")
    p.add_argument("--gff3", help="a round: the previous stage's annotation (the pseudolabel genes)")
    p.add_argument("--genes-tsv", help="a round: the pseudolabel selection (genes.tsv); only kept genes teach")
    p.add_argument("--genome-h5", help="a round: genome.h5 (sequence lengths, bases around start codons)")
    cli.optional_input(p, "--junctions", "junctions.tsv from collect_junctions.py (intron lengths the reads show)")
    p.add_argument(
        "--settings",
        help="the config's decode section (min_intron; with --fit-predictions, the decoder "
        "settings): a YAML/JSON file or inline JSON",
    )
    cli.optional_input(
        p,
        "--fit-predictions",
        "round 1 with evidence: the first pass's predictions.h5, decoded "
        "without reads to fit the decoder's meta-parameters",
    )
    cli.optional_input(p, "--fit-train-h5", "with --fit-predictions: round 1's training_data.h5 (where to fit)")
    cli.optional_input(p, "--corrections", "with --fit-predictions: corrections.tsv (the genes the reads support)")
    p.add_argument("--label", default="", help="where the profile came from, for its made_from line")
    p.add_argument("--out", required=True)
    p.add_argument("--out-tsv", help="the profile as a parameter/value table (for the report)")
    a = p.parse_args()
    decoding = DecodeConfig.from_dict(cli.load_settings(a.settings), cli.settings_source(a.settings))
    if a.prior:
        if not (a.gff3 and a.genome_h5):
            raise InputError("--prior needs --gff3 and --genome-h5 (the genes and genome to learn from)")
        prior = profile.load(a.prior)
        genes = kept_genes(a.gff3, a.genes_tsv)
        junctions = splicing.read_tsv(a.junctions) if a.junctions else []
        lengths = seq_lengths(*read_keys(a.genome_h5))
        starts = profile.start_context_counts(a.genome_h5, genes)
        out = profile.estimate(
            prior,
            genes,
            lengths,
            junctions,
            starts,
            decoding.min_intron,
            made_from=a.label
            or f"estimated from {len(genes)} genes of {a.gff3}, {len(junctions)} junctions; prior {a.prior}",
        )
        if a.fit_predictions:
            out = fit_decoder(a, out, decoding)
    else:
        if a.profile:
            out = profile.load(a.profile)
        elif a.base_model:
            from genetune.models.checkpoint import load_checkpoint

            out = profile.for_model(load_checkpoint(a.base_model).get("model_card"))
        else:
            out = profile.Profile()
        if a.junctions:  # a species with reads: its intron lengths from them before the first pass
            out = profile.from_junctions(out, splicing.read_tsv(a.junctions), decoding.min_intron)
    profile.save(out, a.out)
    if a.out_tsv:
        profile.write_tsv(out, a.out_tsv)
    print(
        f"profile: introns {out.intron_lengths}, exon mean {out.exon_mean:.0f}, intergenic mean "
        f"{out.intergenic_mean:.0f} ({out.made_from})"
    )


def fit_decoder(a, prof, cfg):
    """The profile with the decoder's meta-parameters fitted to the evidence (genes the reads support, and
    the read junctions) on the training side."""
    from genetune.decode.tune import fit_decoder as fit
    from genetune.io.gff import read_gff3

    if not (a.fit_train_h5 and a.corrections and a.genome_h5):
        raise InputError("--fit-predictions needs --fit-train-h5, --corrections and --genome-h5")
    supported = {(r["seqid"], r["gene_id"]) for r in correct.read_tsv(a.corrections) if r["action"] == "supported"}
    train = covered_intervals(a.fit_train_h5)
    genes = [
        t
        for t in read_gff3(a.gff3)
        if t.cds and (t.seqid, t.gene_id) in supported and inside(train, t.seqid, t.start, t.end)
    ]
    junctions = splicing.read_tsv(a.junctions) if a.junctions else []
    fitted, rows = fit(
        a.genome_h5,
        a.fit_predictions,
        prof,
        cfg,
        genes,
        junctions,
        splicing.evidence_intervals(a.fit_train_h5, junctions),
    )
    for r in rows:
        print("\t".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))
    return fitted


if __name__ == "__main__":
    cli.run(main)
