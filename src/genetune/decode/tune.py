"""The decoder's meta-parameters fitted to the species' evidence: gene density, boundary, length and
intron weights, chosen by how well the predictions, decoded without reads (or with half of them),
reproduce what the reads show.

Where: the training side of round 1's split (the final check scores the validation side, so fitting
there would judge the fit by what it was fitted to), with the predictions of the model that never
trained on any of it (the first pass's). The score is the mean of what the evidence can judge:
  - with at least MIN_GENES evidence genes (pseudolabel genes whose every intron is a read junction,
    correct.py's `supported`): BRAKER's optimize_augustus.pl target,
    (3 nucSn + 2 nucSp + 4 exSn + 3 exSp + 2 geneSn + geneSp) / 15, over CDS bases, CDS exons and
    whole CDS chains, counted at the genes' loci only (predictions that overlap one on its strand);
  - with at least MIN_JUNCTIONS read junctions there, two scores: the F1 of the introns decoded
    without reads against the junctions, in the chunks that hold them (evidence.evidence_intervals),
    which sees merged genes (an intron across a gap the reads never span) and split ones (a junction
    no intron reproduces) wherever the reads reach; and the F1 of the held-out half of the junctions
    when the other half is given to the decoder as reads (two folds by a hash of each junction):
    the annotation a user gets is decoded with reads, and gene density then shows in how well the
    reads one has carry a gene to the introns one lacks (on the human piece with hints it peaks at
    gene penalty 800, where the annotation's gene F1 is best of 8 to 1600).
The search is small and bounded: one parameter at a time, each over a few multiples of the current
value, kept only when the score improves (two passes at most); parameters the config sets
explicitly are not searched (the config wins over the profile anyway).
"""

import dataclasses
import logging
import tempfile
import zlib
from pathlib import Path

from genetune.core.fileio import atomic_path
from genetune.core.intervals import merge
from genetune.core.metrics import prf
from genetune.decode.run import decode_h5
from genetune.evidence.splicing import intron_agreement, intron_keys, validation_junctions
from genetune.io.chunks import inside
from genetune.io.gff import read_gff3

log = logging.getLogger("genetune.tune_decoder")
SEARCH = (  # parameter, multiples of its current value tried (coordinate ascent, in this order)
    ("gene_penalty", (0.25, 4.0, 16.0)),
    ("boundary_weight", (0.5, 2.0)),
    ("length_weight", (0.5, 2.0)),
    ("intron_penalty", (0.5, 2.0)),
)
MIN_GENES = 10  # fewer evidence genes than this: the gene score is left out
MIN_JUNCTIONS = 20  # fewer junctions where the fit decodes than this: the intron score is left out
MIN_GAIN = 1e-3  # a candidate must beat the current score by this much
PASSES = 2  # rounds of the coordinate ascent (the second only when the first moved something)
SCORE_COLUMNS = (
    "step",
    "parameter",
    "value",
    "score",
    "nuc_sn",
    "nuc_sp",
    "exon_sn",
    "exon_sp",
    "gene_sn",
    "gene_sp",
    "intron_f1",
    "held_out_junction_f1",
    "kept",
)


def decoded_without_evidence(genome_h5, predictions_h5, prof, cfg, seqids, out, junctions=()):
    """The coding genes of `seqids`: the predictions decoded with the profile, without coverage
    hints and with only the `junctions` given (none: no reads at all)."""
    cfg = dataclasses.replace(cfg, rnaseq_hint_weight=0.0)
    decode_h5(genome_h5, predictions_h5, out, cfg, prof=prof, junctions=junctions, seqids_only=seqids)
    return [t for t in read_gff3(out) if t.cds]


def _fold(junction):
    """0 or 1: the half of the junctions a junction belongs to (stable across runs)."""
    return zlib.crc32(repr(tuple(junction[:4])).encode()) % 2


def held_out_junction_f1(genome_h5, predictions_h5, prof, cfg, seqids, junctions, intervals, tmp_dir=None):
    """F1 of the introns an annotation decoded with half of the junctions predicts for the other half
    (both folds pooled; introns the decoder was given are not counted), inside `intervals`."""
    hit = n_pred = n_truth = 0
    for fold in (0, 1):
        given = [j for j in junctions if _fold(j) != fold]
        known = {tuple(j[:4]) for j in given}
        held = validation_junctions([j for j in junctions if _fold(j) == fold], intervals)
        with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
            decoded = decoded_without_evidence(
                genome_h5, predictions_h5, prof, cfg, seqids, Path(tmp) / "a.gff3", given
            )
        pred = {i for t in decoded for i in intron_keys(t) if i not in known and inside(intervals, i[0], i[2], i[3])}
        hit, n_pred, n_truth = hit + len(pred & held), n_pred + len(pred), n_truth + len(held)
    return prf(hit, n_pred, hit, n_truth)[2]


def _bases(segments):
    return sum(e - s for s, e in segments)


def _shared(a, b):
    """Bases two sorted, merged interval lists share."""
    i = j = n = 0
    while i < len(a) and j < len(b):
        n += max(0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return n


def braker_score(predicted, truth):
    """(score, {nuc_sn, nuc_sp, exon_sn, exon_sp, gene_sn, gene_sp}) of predicted transcripts against
    the truth genes, counting only predictions that overlap a truth gene on its strand."""
    loci = {}
    for t in truth:
        loci.setdefault((t.seqid, t.strand), []).append((t.start, t.end))
    at_loci = [p for p in predicted if any(a < p.end and p.start < b for a, b in loci.get((p.seqid, p.strand), ()))]
    parts = {}
    for name, ts in (("p", at_loci), ("t", truth)):
        by_strand = {}
        for t in ts:
            by_strand.setdefault((t.seqid, t.strand), []).extend(t.cds)
        parts[name] = (
            {k: merge(v) for k, v in by_strand.items()},
            {(t.seqid, t.strand, s, e) for t in ts for s, e in t.cds},
            {(t.seqid, t.strand, tuple(t.cds)) for t in ts},
        )
    (p_nuc, p_ex, p_gene), (t_nuc, t_ex, t_gene) = parts["p"], parts["t"]
    shared = sum(_shared(v, t_nuc.get(k, [])) for k, v in p_nuc.items())
    p_bases, t_bases = sum(map(_bases, p_nuc.values())), sum(map(_bases, t_nuc.values()))

    def ratio(a, b):
        return a / b if b else 0.0

    m = {
        "nuc_sn": ratio(shared, t_bases),
        "nuc_sp": ratio(shared, p_bases),
        "exon_sn": ratio(len(p_ex & t_ex), len(t_ex)),
        "exon_sp": ratio(len(p_ex & t_ex), len(p_ex)),
        "gene_sn": ratio(len(p_gene & t_gene), len(t_gene)),
        "gene_sp": ratio(len(p_gene & t_gene), len(p_gene)),
    }
    score = (
        3 * m["nuc_sn"] + 2 * m["nuc_sp"] + 4 * m["exon_sn"] + 3 * m["exon_sp"] + 2 * m["gene_sn"] + m["gene_sp"]
    ) / 15
    return score, m


def fit_decoder(genome_h5, predictions_h5, prof, cfg, genes, junctions=(), intervals=None, tmp_dir=None):
    """(the profile with the fitted parameters, one row per candidate tried: SCORE_COLUMNS). genes: the
    evidence genes (gff.Transcript) to reproduce; junctions: read junction rows, scored inside
    `intervals` ({seqid: [(lo, hi)]}); the sequences that hold either are decoded."""
    n_junctions = len(validation_junctions(junctions, intervals)) if intervals is not None else 0
    use_genes, use_junctions = len(genes) >= MIN_GENES, n_junctions >= MIN_JUNCTIONS
    if not (use_genes or use_junctions):
        log.info(
            "%d evidence genes and %d junctions to fit the decoder to (fewer than %d and %d): the profile's "
            "values stay",
            len(genes),
            n_junctions,
            MIN_GENES,
            MIN_JUNCTIONS,
        )
        return prof, []
    seqids = set()
    if use_genes:
        seqids |= {t.seqid for t in genes}
    if use_junctions:
        seqids |= {j[0] for j in validation_junctions(junctions, intervals)}
    seqids = sorted(seqids)
    fixed = {name for name in ("gene_penalty", "intron_penalty", "boundary_weight") if getattr(cfg, name) is not None}
    rows = []

    def evaluate(candidate, step, name, value):
        with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
            decoded = decoded_without_evidence(genome_h5, predictions_h5, candidate, cfg, seqids, Path(tmp) / "a.gff3")
        parts, m = [], {k: "" for k in SCORE_COLUMNS[4:-1]}
        if use_genes:
            score, found = braker_score(decoded, genes)
            parts.append(score)
            m.update(found)
        if use_junctions:
            m["intron_f1"] = intron_agreement(decoded, junctions, intervals)[2]
            m["held_out_junction_f1"] = held_out_junction_f1(
                genome_h5, predictions_h5, candidate, cfg, seqids, junctions, intervals, tmp_dir
            )
            parts += [m["intron_f1"], m["held_out_junction_f1"]]
        score = sum(parts) / len(parts)
        rows.append({"step": step, "parameter": name, "value": value, "score": score, **m, "kept": "no"})
        return score

    best = evaluate(prof, 0, "start", 0.0)
    rows[-1]["kept"] = "yes"
    step = 0
    for _ in range(PASSES):
        improved = False
        for name, multiples in SEARCH:
            if name in fixed:
                continue
            start = getattr(prof, name)
            winner = None
            for k in multiples:
                step += 1
                value = start * k
                score = evaluate(dataclasses.replace(prof, **{name: value}), step, name, value)
                if score > best + MIN_GAIN:
                    best, winner = score, len(rows) - 1
            if winner is not None:
                rows[winner]["kept"] = "yes"
                prof = dataclasses.replace(prof, **{name: rows[winner]["value"]})
                improved = True
        if not improved:
            break
    fitted = {name: getattr(prof, name) for name, _ in SEARCH}
    what = ", ".join(
        ([f"{len(genes)} evidence genes"] if use_genes else [])
        + ([f"{n_junctions} read junctions"] if use_junctions else [])
    )
    log.info(
        "decoder fitted to %s: score %.4f -> %.4f (%s)",
        what,
        rows[0]["score"],
        best,
        ", ".join(f"{k} {v:g}" for k, v in fitted.items()),
    )
    made = f"{prof.made_from}; decoder fitted to {what} (score {rows[0]['score']:.3f} -> {best:.3f})"
    return dataclasses.replace(prof, made_from=made), rows


def write_tsv(rows, path):
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(SCORE_COLUMNS) + "\n")
        for r in rows:
            fh.write("\t".join(f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c]) for c in SCORE_COLUMNS) + "\n")
