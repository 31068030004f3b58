"""The final annotation: a round replaces the stage before it only when an independent check says it
is better, so fine-tuning never leaves a worse annotation behind.

Every stage (the first pass, then each round) is scored on the same held-out bases: round 1's
validation sequences (or regions), which no round trained on.
  - With read evidence (junctions from BAMs or hints), in the validation chunks that hold junctions
    (where no read reached, a predicted intron is no error): the stage's predictions decoded with
    its profile but without any reads, their introns (exact ends, same strand) scored against the
    junctions (F1); and decoded with half of the junctions, their introns scored against the other
    half (two folds; tune_decoder.held_out_junction_f1). Scoring an annotation decoded with all the
    reads would reward whichever stage leaned on them most. The final annotation is decoded with
    reads where there are any and without elsewhere, so the score is the two F1s weighed by the
    genome's share in chunks with junctions and the rest.
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
from pathlib import Path

import torch

from genetune.core import cli, layout, metrics
from genetune.core.device import pick_device
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path, read_table
from genetune.decode.tune import decoded_without_evidence, held_out_junction_f1
from genetune.evidence.splicing import (
    MIN_READS,
    evidence_intervals,
    evidence_share,
    intron_agreement,
    intron_keys,
    validation_junctions,
)
from genetune.io.chunks import covered_intervals, inside
from genetune.io.gff import read_gff3
from genetune.models.checkpoint import load_model
from genetune.training.data import ChunkDataset
from genetune.training.train import evaluate_model

log = logging.getLogger("genetune.rounds")
ROUND_COLUMNS = (
    "stage",
    "annotation",
    "check",
    "junctions",
    "genes",
    "precision",
    "recall",
    "f1",
    "held_out_junction_f1",
    "score",
    "val_genic_f1",
    "psauron_coding",
    "psauron_genes",
    "verdict",
    "chosen",
)
MIN_CHECK_JUNCTIONS = 20  # fewer read junctions in validation than this: the evidence check cannot decide
EVIDENCE_CHECK = "read junctions in validation: intron F1 without reads and held-out junction F1 with half of them"
GENES_CHECK = "CDS-chain F1 against held-out pseudolabel genes on the validation sequences"


def gene_agreement(transcripts, reference, intervals):
    """(precision, recall, f1) of exact CDS chains against the reference genes, inside the intervals."""

    def keys(ts):
        return {(t.seqid, t.strand, tuple(t.cds)) for t in ts if t.cds and inside(intervals, t.seqid, t.start, t.end)}

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


@dataclasses.dataclass
class Check:
    """One check of every stage: its scores {stage: (precision, recall, f1)} (empty when it could not
    score), the score that decides {stage: value} (the F1, unless the check combines several), what
    it scored on, and why it cannot decide (None when it decides)."""

    name: str
    scores: dict
    junctions: int | None = None
    genes: int | None = None
    cannot_decide: str | None = None
    held_out: dict = dataclasses.field(default_factory=dict)  # evidence check: held-out junction F1
    deciding: dict = dataclasses.field(default_factory=dict)

    def value(self, name):
        return self.deciding.get(name, self.scores[name][2])

    def best(self, names):
        """The earliest stage with the best deciding score."""
        top = max(self.value(n) for n in names)
        return next(n for n in names if self.value(n) == top)


def _tie(check, names):
    """The check's reason not to decide when every stage scores the same (a tie of zeros too)."""
    values = {round(check.value(n), 6) for n in names}
    if len(values) == 1:
        return f"every stage scores {values.pop():.4f}: a tie decides nothing"
    return None


def evidence_check(names, junctions, intervals, decoding, held_out, tmp_dir):
    """The read-junction check of every stage, or the reason it cannot decide (too few junctions).
    intervals: the validation stretches that hold junctions (evidence_intervals)."""
    truth = validation_junctions(junctions, intervals)
    genes = None
    if held_out is not None:
        genes = sum(
            1
            for t in held_out
            if len(t.exons) > 1
            and inside(intervals, t.seqid, t.start, t.end)
            and all(i in truth for i in intron_keys(t))
        )
    check = Check(EVIDENCE_CHECK, {}, junctions=len(truth), genes=genes)
    if len(truth) < MIN_CHECK_JUNCTIONS:
        check.cannot_decide = (
            f"validation holds {len(truth)} read junctions (>= {MIN_READS} reads), fewer than the "
            f"{MIN_CHECK_JUNCTIONS} needed to decide"
        )
        return check
    if decoding is None:
        raise InputError("the evidence check needs each stage's predictions and profile to decode without reads")
    genome_h5, inputs, cfg = decoding
    share = evidence_share(genome_h5, junctions)
    for name in names:
        with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
            ts = decoded_without_evidence(genome_h5, *inputs[name], cfg, list(intervals), Path(tmp) / "a.gff3")
        check.scores[name] = intron_agreement(ts, junctions, intervals)
        check.held_out[name] = held_out_junction_f1(
            genome_h5, *inputs[name], cfg, list(intervals), junctions, intervals, tmp_dir
        )
        check.deciding[name] = share * check.held_out[name] + (1 - share) * check.scores[name][2]
    log.info(
        "%.0f%% of the genome lies in chunks with read junctions: the check weighs the held-out junction F1 "
        "(decoded with the other half of the reads) %.2f and the intron F1 decoded without reads %.2f",
        100 * share,
        share,
        1 - share,
    )
    check.cannot_decide = _tie(check, names)
    return check


def genes_check(names, stages, held_out, intervals):
    """Agreement of every stage's genes with the held-out pseudolabel genes (the first pass's own)."""
    n_held_out = sum(1 for t in held_out if inside(intervals, t.seqid, t.start, t.end))
    check = Check(GENES_CHECK, {}, genes=n_held_out)
    if not n_held_out:
        check.cannot_decide = "validation holds no held-out pseudolabel gene"
        return check
    for name in names:
        ts = [t for t in read_gff3(stages[name]) if t.cds]
        check.scores[name] = gene_agreement(ts, held_out, intervals)
    check.cannot_decide = _tie(check, names)
    return check


def judge(val_h5, stages, junctions=None, held_out=None, decoding=None, tmp_dir="."):
    """(chosen stage, the check that decided or None, every check asked). Checks are asked in order
    (evidence, then held-out genes) until one can decide; when none can, the first pass stays.
    PSAURON's protein-coding share is not asked: on two of five real runs it ranked a worse round
    above the first pass (protein_scores reports it)."""
    names = list(stages)
    if not junctions and held_out is None:
        raise InputError("the final check needs junctions (read evidence) or the held-out pseudolabel genes")
    intervals = covered_intervals(val_h5)
    checks = []
    if junctions:
        checks.append(
            evidence_check(names, junctions, evidence_intervals(val_h5, junctions), decoding, held_out, tmp_dir)
        )
    if held_out is not None and (not checks or checks[-1].cannot_decide):
        checks.append(genes_check(names, stages, held_out, intervals))
    for check in checks:
        if check.cannot_decide:
            log.warning("the check '%s' cannot decide: %s", check.name, check.cannot_decide)
            continue
        chosen = check.best(names)
        for name in names[1:]:
            log.info(
                "%s: %s %.4f against %.4f of %s: %s",
                name,
                check.name,
                check.value(name),
                check.value(names[0]),
                names[0],
                "best so far" if name == chosen else "not better than an earlier stage",
            )
        log.info(
            "best: %s (%s %.4f; %s junctions, %s genes in validation)",
            chosen,
            check.name,
            check.value(chosen),
            check.junctions,
            check.genes,
        )
        return chosen, check, checks
    log.warning("no check could tell the stages apart: the first pass stays")
    return names[0], None, checks


def protein_scores(val_h5, stages, genome_h5, model):
    """{stage: (share of its validation genes PSAURON calls protein-coding, genes scored)}: reported
    for every stage, never deciding (it sees frame errors, not structure)."""
    from genetune.deliver.protein_score import coding_count

    intervals = covered_intervals(val_h5)
    out = {}
    for name, path in stages.items():
        genes = [t for t in read_gff3(path) if t.cds and inside(intervals, t.seqid, t.start, t.end)]
        coding, scored = coding_count(model, genome_h5, genes)
        out[name] = (coding / scored if scored else 0.0, scored)
        log.info("%s: PSAURON calls %d of %d validation genes protein-coding", name, coding, scored)
    return out


def choose_final(
    val_h5, stages, out_gff3, out_tsv, junctions=None, held_out=None, models=(), decoding=None, coding=None
):
    """Copy the chosen stage's annotation to out_gff3 and write every stage's checks to out_tsv.
    stages: {name: annotation GFF3} in order, the first pass first; junctions: junction rows (the
    evidence check) or None; held_out: the pseudolabel genes (gff.Transcript) round 1 held out, for
    the check without evidence and to count the evidence genes; models: each round's best.pt (the
    stages after the first); decoding (with junctions): (genome.h5, {name: (predictions.h5,
    profile)}, DecodeConfig); coding: protein_scores() of the stages, reported beside the checks.
    Returns the chosen name."""
    names = list(stages)
    coding = coding or {}
    if not names or (models and len(models) != len(names) - 1):
        raise InputError(f"{len(models)} round model(s) for {len(names) - 1} round annotation(s)")
    chosen, decided, checks = judge(val_h5, stages, junctions, held_out, decoding, Path(out_tsv).parent)
    log.info("final annotation: %s", chosen)
    genic = dict(zip(names[1:], model_scores(val_h5, models))) if models else {}
    with atomic_path(out_tsv) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(ROUND_COLUMNS) + "\n")
        for check in checks:
            verdict = "decides" if check is decided else f"cannot decide: {check.cannot_decide}"
            for name in names:
                p, r, f = (f"{v:.4f}" for v in check.scores[name]) if name in check.scores else ("", "", "")
                share, n = coding.get(name, ("", None))
                held = f"{check.held_out[name]:.4f}" if name in check.held_out else ""
                score = f"{check.value(name):.4f}" if name in check.scores else ""
                cells = [
                    name,
                    str(stages[name]),
                    check.name,
                    _count(check.junctions),
                    _count(check.genes),
                    p,
                    r,
                    f,
                    held,
                    score,
                    f"{genic[name]:.4f}" if name in genic else "",
                    f"{share:.4f}" if n is not None else "",
                    _count(n),
                    verdict,
                    "yes" if check is decided and name == chosen else "no",
                ]
                fh.write("\t".join(cells) + "\n")
        if decided is None:
            fh.write(
                "\t".join(
                    [chosen, str(stages[chosen]), "none could decide"]
                    + [""] * 10
                    + ["the first pass stays final", "yes"]
                )
                + "\n"
            )
    with atomic_path(out_gff3) as tmp:
        shutil.copyfile(stages[chosen], tmp)
    return chosen


MAX_AUTO_ROUNDS = 3  # rounds: auto runs at most this many
CONVERGED = 0.99  # CDS-exon F1 between consecutive stages at which the rounds agree (GeneMark-ETP's rule)
VERDICT_COLUMNS = ("round", "cds_exon_f1_to_previous", "check", "best_stage", "decision", "reason")


def cds_exon_agreement(a, b):
    """F1 of the CDS exons (seqid, strand, start, end) of two annotations (lists of Transcript)."""

    def keys(ts):
        return {(t.seqid, t.strand, s, e) for t in ts for s, e in t.cds}

    ka, kb = keys(a), keys(b)
    hit = len(ka & kb)
    return metrics.prf(hit, len(kb), hit, len(ka))[2]


def round_verdict(
    round_no, val_h5, stages, out_tsv, junctions=None, held_out=None, decoding=None, max_rounds=MAX_AUTO_ROUNDS
):
    """Whether another round should run after `round_no` (stages: the first pass and rounds 1 to
    round_no, in order). Stop when the round changed little (CDS-exon F1 to the previous stage >=
    CONVERGED), when the check says the round is not the best stage so far, or at max_rounds.
    Writes one row (VERDICT_COLUMNS) and returns 'continue' or 'stop'."""
    names = list(stages)
    if len(names) != round_no + 1:
        raise InputError(f"round {round_no} needs {round_no + 1} stages (the first pass first), not {len(names)}")
    this, previous = names[-1], names[-2]
    agreement = cds_exon_agreement(*([t for t in read_gff3(stages[n]) if t.cds] for n in (previous, this)))
    chosen, decided, _ = judge(val_h5, stages, junctions, held_out, decoding, Path(out_tsv).parent)
    check = decided.name if decided else "none could decide"
    if agreement >= CONVERGED:
        decision, reason = "stop", f"the rounds agree: CDS-exon F1 {agreement:.4f} to {previous} (>= {CONVERGED})"
    elif decided is not None and chosen != this:
        decision, reason = "stop", f"the check stopped improving: {chosen} stays the best stage"
    elif round_no >= max_rounds:
        decision, reason = "stop", f"{max_rounds} rounds, the most rounds: auto runs"
    else:
        decision = "continue"
        reason = (
            f"{this} is the best stage so far" if decided else "no check could decide"
        ) + f"; CDS-exon F1 {agreement:.4f} to {previous}"
    log.info("after %s: %s (%s)", this, decision, reason)
    with atomic_path(out_tsv) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(VERDICT_COLUMNS) + "\n")
        fh.write("\t".join([str(round_no), f"{agreement:.4f}", check, chosen, decision, reason]) + "\n")
    return decision


def read_verdict(path):
    """'continue' or 'stop' of a verdict.tsv (round_verdict)."""
    rows = read_table(path, VERDICT_COLUMNS, "round verdict", "judge_round.py")
    if len(rows) != 1 or rows[0]["decision"] not in ("continue", "stop"):
        raise InputError(f"{path}: a verdict.tsv holds one row whose decision is continue or stop")
    return rows[0]["decision"]


def _count(n):
    return "" if n is None else str(n)


def add_stage_arguments(p):
    """The options choose_round.py and judge_round.py share: the stages and what checks them."""
    p.add_argument("--val-h5", required=True, help="round 1's validation_data.h5")
    p.add_argument("--first-pass", required=True, help="the first pass's annotation.gff3")
    p.add_argument("--annotations", nargs="+", required=True, help="each round's annotation.gff3, in round order")
    cli.optional_input(p, "--junctions", "junctions.tsv: the evidence check")
    p.add_argument("--genome-h5", help="with --junctions: genome.h5")
    p.add_argument(
        "--predictions",
        nargs="*",
        default=[],
        help="with --junctions: each stage's predictions.h5, the first pass first",
    )
    p.add_argument("--profiles", nargs="*", default=[], help="with --junctions: each stage's profile.yaml, in order")
    p.add_argument("--settings", help="with --junctions: the decoder settings (DecodeConfig)")
    p.add_argument("--pseudolabels", help="the gene models round 1 trained on (its checked pseudolabel genes)")
    p.add_argument("--genes-tsv", help="round 1's genes.tsv: which pseudolabel genes were kept")


def stage_inputs(a):
    """(stages, junctions, held_out, decoding, coding) from add_stage_arguments' options, as judge()
    takes them."""
    from genetune.decode import DecodeConfig, profile
    from genetune.evidence import splicing
    from genetune.pseudolabels.select import kept_genes

    stages = {"first_pass": a.first_pass, **{f"round{r}": path for r, path in enumerate(a.annotations, 1)}}
    junctions = splicing.read_tsv(a.junctions) if a.junctions else None
    held_out = kept_genes(a.pseudolabels, a.genes_tsv) if a.pseudolabels else None
    decoding = None
    if junctions:
        if not a.genome_h5 or len(a.predictions) != len(stages) or len(a.profiles) != len(stages):
            raise InputError(
                f"--junctions needs --genome-h5 and {len(stages)} --predictions and --profiles "
                "(one per stage, the first pass first)"
            )
        decoding = (
            a.genome_h5,
            {name: (pred, profile.load(prof)) for name, pred, prof in zip(stages, a.predictions, a.profiles)},
            DecodeConfig.from_dict(cli.load_settings(a.settings), cli.settings_source(a.settings)),
        )
    coding = None
    if getattr(a, "psauron_model", None):  # choose_round.py's option: reported beside the checks
        from genetune.deliver import protein_score

        if not a.genome_h5:
            raise InputError("--psauron-model needs --genome-h5 (the genes' sequences)")
        coding = protein_scores(a.val_h5, stages, a.genome_h5, protein_score.load(a.psauron_model))
    return stages, junctions, held_out, decoding, coding
