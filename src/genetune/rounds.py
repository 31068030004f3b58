"""The final annotation: a round replaces the stage before it only when an independent check says it
is better, so fine-tuning never leaves a worse annotation behind.

Every stage (the first pass, then each round) is scored on the same held-out bases: round 1's
validation sequences (or regions), which no round trained on.
  - With read evidence (junctions from BAMs or hints): the stage's predictions are decoded on the
    validation sequences with its profile but without any read evidence, and the introns of that
    annotation (exact ends, same strand) are scored against the junctions there (F1). The
    annotations themselves were decoded with the junctions, so scoring them would reward whichever
    stage leaned on the evidence most, not the better model and profile.
  - Without: gene-structure agreement with the held-out pseudolabel genes (round 1's kept genes on
    the validation sequences), F1 of exact CDS chains. These genes are the first pass's own, so a
    round can only tie with it there: without evidence the first pass stays final unless a round
    reproduces every held-out gene and adds more agreement, which no other check can vouch for.
The best score wins; ties go to the earlier stage (the first pass first). Each round's model is
also scored on the validation pseudolabels (genic F1), for information only.
"""

import dataclasses
import logging
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import torch

from . import layout, metrics
from .checkpoint import load_model
from .chunks import read_keys
from .data import ChunkDataset
from .decode import decode_h5
from .device import pick_device
from .errors import InputError
from .evidence import intron_keys
from .fileio import atomic_path
from .gff import read_gff3
from .intervals import merge
from .train import evaluate_model

log = logging.getLogger("genetune.rounds")
ROUND_COLUMNS = ("stage", "annotation", "check", "precision", "recall", "f1", "val_genic_f1", "chosen")


def validation_intervals(val_h5):
    """{seqid: [(lo, hi)]} of the genomic stretches the validation file holds (both strands)."""
    seqids, start_ends = read_keys(val_h5)
    spans = defaultdict(list)
    for s, (a, b) in zip(seqids, start_ends):
        spans[s].append((int(min(a, b)), int(max(a, b))))
    return {s: merge(iv) for s, iv in spans.items()}


def _inside(intervals, seqid, lo, hi):
    return any(a <= lo and hi <= b for a, b in intervals.get(seqid, ()))


def intron_agreement(transcripts, junctions, intervals, min_reads=2):
    """(precision, recall, f1) of the transcripts' introns against junctions with >= min_reads reads,
    both counted inside the intervals only."""
    pred = {i for t in transcripts for i in intron_keys(t) if _inside(intervals, i[0], i[2], i[3])}
    truth = {tuple(j[:4]) for j in junctions if j[4] >= min_reads and _inside(intervals, j[0], j[2], j[3])}
    hit = len(pred & truth)
    return metrics.prf(hit, len(pred), hit, len(truth))


def gene_agreement(transcripts, reference, intervals):
    """(precision, recall, f1) of exact CDS chains against the reference genes, inside the intervals."""
    def keys(ts):
        return {(t.seqid, t.strand, tuple(t.cds)) for t in ts if t.cds and _inside(intervals, t.seqid, t.start, t.end)}
    pred, truth = keys(transcripts), keys(reference)
    hit = len(pred & truth)
    return metrics.prf(hit, len(pred), hit, len(truth))


def model_scores(val_h5, models, batch_size=4):
    """Validation genic F1 of each round's model on val_h5 (pseudolabels; for information)."""
    device = pick_device()
    out = []
    for path in models:
        model, _ = load_model(path)
        model.to(device)
        prefix = layout.DEFAULT_COVERAGE_PREFIX if model.input_channels > 4 else None
        loader = torch.utils.data.DataLoader(ChunkDataset(val_h5, None, None, prefix), batch_size=batch_size)
        out.append(evaluate_model(model, loader, device)["genic_f1"])
    return out


def decoded_without_evidence(genome_h5, predictions_h5, prof, cfg, seqids, out):
    """The stage's own annotation of `seqids`: its predictions decoded with its profile, no reads."""
    cfg = dataclasses.replace(cfg, rnaseq_hint_weight=0.0)
    decode_h5(genome_h5, predictions_h5, out, cfg, prof=prof, seqids_only=seqids)
    return [t for t in read_gff3(out) if t.cds]


def choose_final(val_h5, stages, out_gff3, out_tsv, junctions=None, held_out=None, models=(), decoding=None):
    """Copy the chosen stage's annotation to out_gff3 and write every stage's check to out_tsv.
    stages: {name: annotation GFF3} in order, the first pass first; junctions: junction rows (the
    evidence check) or None; held_out: the pseudolabel genes (gff.Transcript) for the check without
    evidence; models: each round's best.pt (the stages after the first); decoding (with junctions):
    (genome.h5, {name: (predictions.h5, profile)}, DecodeConfig). Returns the chosen name."""
    names = list(stages)
    if not names or (models and len(models) != len(names) - 1):
        raise InputError(f"{len(models)} round model(s) for {len(names) - 1} round annotation(s)")
    intervals = validation_intervals(val_h5)
    if junctions:
        if decoding is None:
            raise InputError("the evidence check needs each stage's predictions and profile to decode without reads")
        check = "intron F1 against read junctions on the validation sequences, decoded without reads"
    elif held_out is not None:
        check = "CDS-chain F1 against held-out pseudolabel genes on the validation sequences"
    else:
        raise InputError("the final check needs junctions (read evidence) or the held-out pseudolabel genes")
    scores = {}
    for name in names:
        if junctions:
            genome_h5, inputs, cfg = decoding
            with tempfile.TemporaryDirectory(dir=Path(out_tsv).parent) as tmp:
                ts = decoded_without_evidence(genome_h5, *inputs[name], cfg, list(intervals), Path(tmp) / "a.gff3")
            scores[name] = intron_agreement(ts, junctions, intervals)
        else:
            ts = [t for t in read_gff3(stages[name]) if t.cds]
            scores[name] = gene_agreement(ts, held_out, intervals)
    genic = dict(zip(names[1:], model_scores(val_h5, models))) if models else {}
    chosen = names[0]
    for name in names[1:]:  # a later stage must be strictly better than the best so far
        if scores[name][2] > scores[chosen][2]:
            chosen = name
    for name in names[1:]:
        log.info("%s: %s %.4f against %.4f of %s: %s", name, check, scores[name][2], scores[names[0]][2], names[0],
                 "kept" if name == chosen else "not kept: not better than an earlier stage")
    log.info("final annotation: %s (%s %.4f)", chosen, check, scores[chosen][2])
    with atomic_path(out_tsv) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(ROUND_COLUMNS) + "\n")
        for name in names:
            p, r, f = scores[name]
            g = f"{genic[name]:.4f}" if name in genic else ""
            fh.write(f"{name}\t{stages[name]}\t{check}\t{p:.4f}\t{r:.4f}\t{f:.4f}\t{g}\t"
                     f"{'yes' if name == chosen else 'no'}\n")
    with atomic_path(out_gff3) as tmp:
        shutil.copyfile(stages[chosen], tmp)
    return chosen
