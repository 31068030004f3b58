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
A check decides only when it can see: the evidence check needs at least MIN_CHECK_JUNCTIONS read
junctions in validation (the split sends about val_fraction of them there), and a check whose
stages all score the same (a tie of zeros above all) decides nothing. A check that cannot decide
says why, in the log and in rounds.tsv, and the next one is asked; when none can, the first pass
stays final and the log says so. Among the stages a check tells apart, the best score wins; ties
go to the earlier stage. Each round's model is also scored on the validation pseudolabels (genic
F1), for information only.
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
ROUND_COLUMNS = ("stage", "annotation", "check", "junctions", "genes", "precision", "recall", "f1", "val_genic_f1",
                 "verdict", "chosen")
MIN_CHECK_JUNCTIONS = 20  # fewer read junctions in validation than this: the evidence check cannot decide
EVIDENCE_CHECK = "intron F1 against read junctions on the validation sequences, decoded without reads"
GENES_CHECK = "CDS-chain F1 against held-out pseudolabel genes on the validation sequences"


def validation_intervals(val_h5):
    """{seqid: [(lo, hi)]} of the genomic stretches the validation file holds (both strands)."""
    seqids, start_ends = read_keys(val_h5)
    spans = defaultdict(list)
    for s, (a, b) in zip(seqids, start_ends):
        spans[s].append((int(min(a, b)), int(max(a, b))))
    return {s: merge(iv) for s, iv in spans.items()}


def _inside(intervals, seqid, lo, hi):
    return any(a <= lo and hi <= b for a, b in intervals.get(seqid, ()))


def validation_junctions(junctions, intervals, min_reads=2):
    """{(seqid, strand, start, end)} of the junctions with >= min_reads reads inside the intervals."""
    return {tuple(j[:4]) for j in junctions if j[4] >= min_reads and _inside(intervals, j[0], j[2], j[3])}


def intron_agreement(transcripts, junctions, intervals, min_reads=2):
    """(precision, recall, f1) of the transcripts' introns against junctions with >= min_reads reads,
    both counted inside the intervals only."""
    pred = {i for t in transcripts for i in intron_keys(t) if _inside(intervals, i[0], i[2], i[3])}
    truth = validation_junctions(junctions, intervals, min_reads)
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


@dataclasses.dataclass
class Check:
    """One check of every stage: its scores {stage: (precision, recall, f1)} (empty when it could not
    score), what it scored on, and why it cannot decide (None when it decides)."""
    name: str
    scores: dict
    junctions: int | None = None
    genes: int | None = None
    cannot_decide: str | None = None

    def best(self, names):
        """The earliest stage with the best F1."""
        top = max(self.scores[n][2] for n in names)
        return next(n for n in names if self.scores[n][2] == top)


def _tie(check, names):
    """The check's reason not to decide when every stage scores the same F1 (a tie of zeros too)."""
    values = {round(check.scores[n][2], 6) for n in names}
    if len(values) == 1:
        return f"every stage scores F1 {values.pop():.4f}: a tie decides nothing"
    return None


def evidence_check(names, junctions, intervals, decoding, held_out, tmp_dir):
    """The read-junction check of every stage, or the reason it cannot decide (too few junctions)."""
    truth = validation_junctions(junctions, intervals)
    supported = {i[:4] for i in truth}
    genes = None
    if held_out is not None:
        genes = sum(1 for t in held_out if len(t.exons) > 1 and _inside(intervals, t.seqid, t.start, t.end)
                    and all(i in supported for i in intron_keys(t)))
    check = Check(EVIDENCE_CHECK, {}, junctions=len(truth), genes=genes)
    if len(truth) < MIN_CHECK_JUNCTIONS:
        check.cannot_decide = (f"validation holds {len(truth)} read junctions (>= 2 reads), fewer than the "
                               f"{MIN_CHECK_JUNCTIONS} needed to decide")
        return check
    if decoding is None:
        raise InputError("the evidence check needs each stage's predictions and profile to decode without reads")
    genome_h5, inputs, cfg = decoding
    for name in names:
        with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
            ts = decoded_without_evidence(genome_h5, *inputs[name], cfg, list(intervals), Path(tmp) / "a.gff3")
        check.scores[name] = intron_agreement(ts, junctions, intervals)
    check.cannot_decide = _tie(check, names)
    return check


def genes_check(names, stages, held_out, intervals):
    """Agreement of every stage's genes with the held-out pseudolabel genes (the first pass's own)."""
    inside = sum(1 for t in held_out if _inside(intervals, t.seqid, t.start, t.end))
    check = Check(GENES_CHECK, {}, genes=inside)
    if not inside:
        check.cannot_decide = "validation holds no held-out pseudolabel gene"
        return check
    for name in names:
        ts = [t for t in read_gff3(stages[name]) if t.cds]
        check.scores[name] = gene_agreement(ts, held_out, intervals)
    check.cannot_decide = _tie(check, names)
    return check


def choose_final(val_h5, stages, out_gff3, out_tsv, junctions=None, held_out=None, models=(), decoding=None):
    """Copy the chosen stage's annotation to out_gff3 and write every stage's checks to out_tsv.
    stages: {name: annotation GFF3} in order, the first pass first; junctions: junction rows (the
    evidence check) or None; held_out: the pseudolabel genes (gff.Transcript) round 1 held out, for
    the check without evidence and to count the evidence genes; models: each round's best.pt (the
    stages after the first); decoding (with junctions): (genome.h5, {name: (predictions.h5,
    profile)}, DecodeConfig). Checks are asked in order (evidence, then held-out genes) until one can
    decide. Returns the chosen name."""
    names = list(stages)
    if not names or (models and len(models) != len(names) - 1):
        raise InputError(f"{len(models)} round model(s) for {len(names) - 1} round annotation(s)")
    if not junctions and held_out is None:
        raise InputError("the final check needs junctions (read evidence) or the held-out pseudolabel genes")
    intervals = validation_intervals(val_h5)
    checks, chosen, decided = [], names[0], None
    if junctions:
        checks.append(evidence_check(names, junctions, intervals, decoding, held_out, Path(out_tsv).parent))
    if held_out is not None and (not checks or checks[-1].cannot_decide):
        checks.append(genes_check(names, stages, held_out, intervals))
    for check in checks:
        if check.cannot_decide:
            log.warning("the check '%s' cannot decide: %s", check.name, check.cannot_decide)
            continue
        decided, chosen = check, check.best(names)
        for name in names[1:]:
            log.info("%s: %s %.4f against %.4f of %s: %s", name, check.name, check.scores[name][2],
                     check.scores[names[0]][2], names[0],
                     "kept" if name == chosen else "not kept: not better than an earlier stage")
        log.info("final annotation: %s (%s %.4f; %s junctions, %s genes in validation)", chosen, check.name,
                 check.scores[chosen][2], check.junctions, check.genes)
        break
    if decided is None:
        log.warning("no check could tell the stages apart: the first pass stays final")
    genic = dict(zip(names[1:], model_scores(val_h5, models))) if models else {}
    with atomic_path(out_tsv) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(ROUND_COLUMNS) + "\n")
        for check in checks:
            verdict = "decides" if check is decided else f"cannot decide: {check.cannot_decide}"
            for name in names:
                p, r, f = (f"{v:.4f}" for v in check.scores[name]) if name in check.scores else ("", "", "")
                cells = [name, str(stages[name]), check.name, _count(check.junctions), _count(check.genes), p, r, f,
                         f"{genic[name]:.4f}" if name in genic else "", verdict,
                         "yes" if check is decided and name == chosen else "no"]
                fh.write("\t".join(cells) + "\n")
        if decided is None:
            fh.write("\t".join([chosen, str(stages[chosen]), "none could decide", "", "", "", "", "", "",
                                "the first pass stays final", "yes"]) + "\n")
    with atomic_path(out_gff3) as tmp:
        shutil.copyfile(stages[chosen], tmp)
    return chosen


def _count(n):
    return "" if n is None else str(n)
