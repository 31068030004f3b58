"""Compare predicted gene models with a reference GFF3 at base, CDS-exon, transcript and gene level.

Base level: Helixer's classes and F1 definitions (metrics.py) over every base of both strands,
plus phase F1 on reference CDS bases. CDS-exon level: exact (seqid, strand, start, end).
Transcript level: same strand, same CDS intron chain and CDS ends. Gene level: a predicted
gene is right when one of its transcripts matches a reference transcript, and a reference
gene is found when one of its transcripts is matched. The reference keeps all transcripts
for feature levels and the longest coding one per gene for base level (as the labels do).
With `reference_loci_only`, predictions not overlapping any reference gene are ignored
(for incomplete references). A reference whose every gene is one of its own transcripts (UCSC's
refGene GTF gives each transcript its own gene_id; a GFF3 without gene lines) is grouped into
loci first: transcripts whose CDS overlap on the same strand are one gene, as gffcompare's loci,
so that isoforms of one locus do not count as genes no prediction could all match. Partial
reference genes (cut by a sequence end) are scored as they are: a prediction matches them only
with the same cut ends.
"""

import dataclasses
from collections import defaultdict

import numpy as np

from genetune.core import layout, metrics
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path
from genetune.core.progress import tracked
from genetune.evaluate import taxonomy
from genetune.io.chunks import read_keys, seq_lengths
from genetune.io.gff import read_gff3, select_transcripts
from genetune.pseudolabels.labels import Overlaps, by_seq_strand, label_chunk


def _overlaps_reference(t, ref_spans):
    return any(t.start < e and s < t.end for s, e in ref_spans.get((t.seqid, t.strand), []))


def base_confusion(ref, pred, lengths, length=100_000):
    """Genic (4x4) and phase (4x4) confusion over all bases of both strands."""

    def index(transcripts):
        return {k: Overlaps(ts, lambda t: (t.start, t.end)) for k, ts in by_seq_strand(transcripts).items()}

    by_ref, by_pred, nothing = index(ref), index(pred), Overlaps([], lambda t: (t.start, t.end))
    cm = np.zeros((4, 4), np.int64)
    pcm = np.zeros((4, 4), np.int64)
    for sid, n in tracked(lengths.items(), total=len(lengths), desc="evaluate", unit="sequence"):
        for strand in "+-":
            for a in range(0, n, length):
                b = min(n, a + length)
                se = (a, b) if strand == "+" else (b, a)
                yr, pr, *_ = label_chunk(by_ref.get((sid, strand), nothing)(a - 1, b + 1), *se, b - a)
                yp, pp, *_ = label_chunk(by_pred.get((sid, strand), nothing)(a - 1, b + 1), *se, b - a)
                cm += metrics.confusion(yr.argmax(1), yp.argmax(1))
                cds = yr[:, layout.CDS] == 1
                pcm += metrics.confusion(pr[cds].argmax(1), pp[cds].argmax(1))
    return cm, pcm


def _cds_key(t):
    return (t.seqid, t.strand, tuple(t.cds))


def feature_scores(ref_all, pred):
    """{level: (precision, recall, f1, n_reference, n_predicted)} for CDS exons, transcripts, genes."""
    out = {}
    ref_ex = {(t.seqid, t.strand, s, e) for t in ref_all for s, e in t.cds}
    pred_ex = {(t.seqid, t.strand, s, e) for t in pred for s, e in t.cds}
    hit = len(ref_ex & pred_ex)
    out["cds_exon"] = (*metrics.prf(hit, len(pred_ex), hit, len(ref_ex)), len(ref_ex), len(pred_ex))
    ref_keys = {_cds_key(t) for t in ref_all if t.cds}
    pred_keys = {_cds_key(t) for t in pred if t.cds}
    hit = len(ref_keys & pred_keys)
    out["transcript"] = (*metrics.prf(hit, len(pred_keys), hit, len(ref_keys)), len(ref_keys), len(pred_keys))
    ref_genes, pred_genes = defaultdict(set), defaultdict(set)
    for t in ref_all:
        if t.cds:
            ref_genes[(t.seqid, t.gene_id)].add(_cds_key(t))
    for t in pred:
        if t.cds:
            pred_genes[(t.seqid, t.gene_id)].add(_cds_key(t))
    found = sum(bool(k & pred_keys) for k in ref_genes.values())
    right = sum(bool(k & ref_keys) for k in pred_genes.values())
    out["gene"] = (*metrics.prf(right, len(pred_genes), found, len(ref_genes)), len(ref_genes), len(pred_genes))
    return out


def group_into_loci(transcripts):
    """Copies of coding transcripts with gene_id set to their locus: CDS spans overlapping on the same
    strand (transitively) form one locus."""
    out = []
    by_strand = defaultdict(list)
    for t in transcripts:
        by_strand[(t.seqid, t.strand)].append(t)
    k = 0
    for (seqid, strand), ts in by_strand.items():
        end = None
        for t in sorted(ts, key=lambda t: t.cds[0][0]):
            if end is None or t.cds[0][0] >= end:
                k += 1
                end = t.cds[-1][1]
            end = max(end, t.cds[-1][1])
            out.append(dataclasses.replace(t, gene_id=f"locus{k}:{seqid}:{strand}"))
    return out


def reference_spread(reference_gff3, genome_h5, qc):
    """QC row: on how many of the evaluated sequences (and how much of the genome) the reference has genes."""
    lengths = seq_lengths(*read_keys(genome_h5))
    ref = {t.seqid for t in read_gff3(reference_gff3, lengths) if t.cds}
    covered = sum(n for s, n in lengths.items() if s in ref) / max(1, sum(lengths.values()))
    detail = f"{reference_gff3}: genes on {len(ref)} of {len(lengths)} sequences ({100 * covered:.0f}% of the bases)"
    if covered < 0.5:
        qc.warn(
            "reference_spread",
            covered,
            detail + "; predictions elsewhere count as false positives "
            "(set reference_is_incomplete if the reference covers only part of the genome)",
        )
    else:
        qc.ok("reference_spread", covered, detail)


def _reference(reference_gff3, lengths):
    """The reference's coding transcripts, grouped into loci when every gene is one transcript."""
    ref_all = [t for t in read_gff3(reference_gff3, lengths) if t.cds]
    if not ref_all:
        raise InputError(f"{reference_gff3}: no coding genes to evaluate against (an empty reference)")
    if all(t.gene_id == t.transcript_id for t in ref_all):
        ref_all = group_into_loci(ref_all)
    return ref_all


def _score(ref_all, ref_base, pred, lengths, reference_loci_only):
    """(rows, base-level confusion matrix, error taxonomy rows) of one prediction against the reference."""
    if reference_loci_only:
        spans = defaultdict(list)
        for t in ref_all:
            spans[(t.seqid, t.strand)].append((t.start, t.end))
        pred = [t for t in pred if _overlaps_reference(t, spans)]
    cm, pcm = base_confusion(ref_base, select_transcripts(pred), lengths)
    rows = []
    for name, (p, r, f) in metrics.scores(cm).items():
        rows.append(("base", name, p, r, f))
    phase = metrics.scores(pcm, layout.PHASE_CLASSES)
    rows.append(("base", "phase", *phase["accuracy"]))
    table = [(lvl, feat, p, r, f, "", "") for lvl, feat, p, r, f in rows]
    for lvl, scores_and_counts in feature_scores(ref_all, pred).items():
        table.append((lvl, lvl, *scores_and_counts))
    return table, cm, taxonomy.summarise(taxonomy.classify(ref_all, pred))


@dataclasses.dataclass
class Evaluation:
    """Per stage: metric rows, base-level confusion matrix, error taxonomy rows (taxonomy.summarise)."""

    tables: dict
    confusions: dict
    taxonomies: dict


def evaluate_stages(reference_gff3, predictions, genome_h5, reference_loci_only=False):
    """Evaluation of predictions {stage: GFF3}; the reference is read once and every stage's bases
    are painted once (the confusion figure reuses them)."""
    lengths = seq_lengths(*read_keys(genome_h5))
    ref_all = _reference(reference_gff3, lengths)
    ref_base = select_transcripts(ref_all)
    result = Evaluation({}, {}, {})
    for stage, gff3 in predictions.items():
        pred = [t for t in read_gff3(gff3, lengths) if t.cds]
        (result.tables[stage], result.confusions[stage], result.taxonomies[stage]) = _score(
            ref_all, ref_base, pred, lengths, reference_loci_only
        )
    return result


def evaluate(reference_gff3, prediction_gff3, genome_h5, reference_loci_only=False):
    """Rows of (level, feature, precision, recall, f1, n_reference, n_predicted)."""
    return evaluate_stages(reference_gff3, {"prediction": prediction_gff3}, genome_h5, reference_loci_only).tables[
        "prediction"
    ]


HEADER = ("stage", "level", "feature", "precision", "recall", "f1", "n_reference", "n_predicted")


def write_tsv(tables, path):
    """tables: {stage: rows from evaluate()}."""
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(HEADER) + "\n")
        for stage, rows in tables.items():
            for lvl, feat, p, r, f, nr, npred in rows:
                fh.write(f"{stage}\t{lvl}\t{feat}\t{p:.4f}\t{r:.4f}\t{f:.4f}\t{nr}\t{npred}\n")


def plot(tables, path):
    """Before/after figure (SVG): F1 per stage for the headline metrics, and precision against
    recall per level with an arrow from each stage to the next."""
    from genetune.core.figures import plt, save_svg

    wanted = [
        ("base", "genic"),
        ("base", "CDS"),
        ("base", "intron"),
        ("base", "UTR"),
        ("base", "phase"),
        ("cds_exon", "cds_exon"),
        ("transcript", "transcript"),
        ("gene", "gene"),
    ]
    levels = [("base", "genic"), ("cds_exon", "cds_exon"), ("transcript", "transcript"), ("gene", "gene")]
    stages = list(tables)
    rows = {stage: {(r[0], r[1]): r for r in tables[stage]} for stage in stages}
    fig, (ax, pr) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [2, 1]})
    width = 0.8 / max(1, len(stages))
    for k, stage in enumerate(stages):
        vals = [rows[stage][w][4] if w in rows[stage] else 0.0 for w in wanted]
        ax.bar(np.arange(len(wanted)) + k * width, vals, width, label=stage)
    ax.set_xticks(np.arange(len(wanted)) + width * (len(stages) - 1) / 2)
    ax.set_xticklabels([f"{lvl}\n{feat}" if lvl != feat else lvl for lvl, feat in wanted], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1")
    ax.legend()
    for level, colour, marker, size in zip(
        levels, plt.rcParams["axes.prop_cycle"].by_key()["color"], "osD^", (9, 8, 7, 5)
    ):  # equal points stay visible
        points = [(rows[s][level][2], rows[s][level][3]) for s in stages if level in rows[s]]
        pr.plot(*zip(*points), marker, ms=size, color=colour, label=" ".join(dict.fromkeys(level)))
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            pr.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "color": colour})
    pr.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="precision",
        ylabel="recall (sensitivity)",
        title=" -> ".join(stages),
        aspect="equal",
    )
    pr.legend(fontsize=8)
    save_svg(fig, path)


def plot_confusion(confusions, path):
    """Row-normalised base-level confusion (truth rows, predicted columns) over the 4 classes, one
    panel per stage of {stage: confusion matrix} (evaluate_stages; SVG)."""
    from genetune.core.figures import plt, save_svg

    fig, axes = plt.subplots(1, len(confusions), figsize=(3.6 * len(confusions), 3.4), squeeze=False)
    for ax, (name, cm) in zip(axes[0], confusions.items()):
        norm = cm / np.maximum(1, cm.sum(axis=1, keepdims=True))
        ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        for i in range(4):
            for j in range(4):
                ax.text(
                    j,
                    i,
                    f"{norm[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if norm[i, j] > 0.6 else "black",
                )
        ax.set_xticks(range(4), layout.CLASSES, fontsize=7)
        ax.set_yticks(range(4), layout.CLASSES, fontsize=7)
        ax.set(title=name, xlabel="predicted", ylabel="reference")
    save_svg(fig, path)
