"""Keep the pseudolabels that are most likely right: per gene (default) or per chunk (Helixer's rule).

unit: gene. Every gene of the decoded annotation gets a score. Confidence: the mean probability
the network gave each of the gene's bases for the class the gene model says (CDS, UTR, intron).
With RNA-seq, evidence too: the share of its introns that spliced reads support (with junctions,
collect_junctions.py: the share of its introns that are read junctions exactly; from coverage
alone: mean spliced fraction s / (c + s) over the intron at least 0.5, with at least `min_depth`
reads) and the share of its exon bases that reads cover; evidence = their mean (exon coverage
alone for single-exon genes); score = (1 - evidence_weight) x confidence + evidence_weight x
evidence; single-exon genes' scores are multiplied by `single_exon_weight`. Genes are ranked as
BRAKER chooses training genes: multi-exon genes with every intron supported first, then by score;
the best `keep_fraction` of the genes are kept; every other gene is masked (sample weight 0, `mask_margin`
bases either side) on its strand, so training sees the kept genes and the intergenic sequence
around them but not the doubtful ones. The genes and their scores go to a TSV and the h5 attrs.
With read junctions, the genes were first checked against them (correct.py): a gene the reads
contradict and that could not be corrected is never kept, a junction inside no gene is masked, and
a kept gene whose every intron is a read junction weighs `evidence_gene_weight` times as much as the
network's own calls. Doubt is masked, not taught (doubt.py): the gap between two kept genes close
enough to be one split gene, with their stop and start codons, and intron bases beyond the model's
context from every exon.

unit: chunk. Helixer's stratified rule (filter-to-most-certain.py), with its
bugs fixed: confidence of a chunk = mean over valid bases (sample_weights > 0, not just
non-padding) of the predicted probability of the pseudolabel's class. Chunks are stratified
into `strata` quantile bins of their intergenic fraction, so gene-rich and gene-poor chunks are
both kept; each stratum contributes its most confident chunks, without replacement and without
spilling into other strata. Predictions and labels are paired by (seqid, start, end).
"""

import contextlib
import logging
from dataclasses import asdict, dataclass

import numpy as np

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path, open_h5, read_table, require
from genetune.core.intervals import runs
from genetune.core.progress import tracked
from genetune.core.settings import validate_section
from genetune.evidence.splicing import intron_keys
from genetune.io.chunks import StrandReader, check_same_chunks, read_keys, seq_lengths, strand_runs
from genetune.io.gff import read_gff3, select_transcripts
from genetune.io.subset import mask_genes, set_weights, write_subset
from genetune.pseudolabels.doubt import deep_intron_bases, split_gaps

log = logging.getLogger("genetune.select")
GENE_COLUMNS = (
    "seqid",
    "strand",
    "start",
    "end",
    "gene_id",
    "confidence",
    "intron_support",
    "exon_coverage",
    "score",
    "evidence",
    "kept",
)
DEFAULT_CONTEXT = 400  # bases either side a model sees when predictions.h5 does not say (geneML's)


@dataclass
class SelectConfig:
    unit: str = "gene"  # gene | chunk
    keep_fraction: float = 0.9  # of the genes (unit gene) or of the chunks (unit chunk)
    strata: int = 6  # unit chunk: intergenic-fraction strata
    evidence_weight: float = 0.5  # unit gene with RNA-seq: weight of the read evidence in the score
    min_depth: int = 3  # reads over a base before it counts as covered
    mask_margin: int = 50  # unit gene: bases either side of a rejected gene masked with it
    single_exon_weight: float = 0.5  # unit gene: single-exon genes' score x this (most false genes have one exon)
    evidence_gene_weight: int = 3  # unit gene: sample weight of kept genes whose every intron the reads show
    min_junction_reads: int = 3  # reads that make a junction well supported (correct.py)
    split_gap_quantile: float = 0.9  # unit gene: mask gaps up to this intron-length quantile (0: off)
    deep_intron_mask: bool = True  # unit gene: mask intron bases beyond the model's context from every exon

    @classmethod
    def from_dict(cls, d, source="--settings"):
        """Settings validated once, by the config schema's select section (settings.py)."""
        return cls(**validate_section("select", dict(d or {}), source))


def chunk_confidence(labels_h5, predictions_h5, block=64):
    """(confidence, intergenic fraction, has_valid) per chunk."""
    check_same_chunks(labels_h5, predictions_h5)
    with open_h5(labels_h5) as lab, open_h5(predictions_h5) as pred:
        require(lab, labels_h5, layout.Y, layout.SAMPLE_WEIGHTS, what="a labels.h5 from pseudolabels_to_h5.py")
        require(pred, predictions_h5, layout.PREDICTIONS, what="a predictions.h5 from predict.py")
        N = len(lab[layout.Y])
        conf = np.zeros(N)
        ig = np.zeros(N)
        valid_any = np.zeros(N, dtype=bool)
        for i in range(0, N, block):
            y = lab[layout.Y][i : i + block].astype(np.float32)
            w = lab[layout.SAMPLE_WEIGHTS][i : i + block] > 0
            p = pred[layout.PREDICTIONS][i : i + block].astype(np.float32)
            valid = w & (y.sum(-1) > 0)
            n = valid.sum(axis=1)
            agree = (y * p).sum(-1)
            conf[i : i + block] = np.where(n > 0, (agree * valid).sum(1) / np.maximum(n, 1), 0)
            ig[i : i + block] = np.where(n > 0, (y[..., layout.IG] * valid).sum(1) / np.maximum(n, 1), 1)
            valid_any[i : i + block] = n > 0
    return conf, ig, valid_any


def select_rows(conf, ig_fraction, usable, keep_fraction=0.5, n_strata=6):
    """Row indices to keep: the most confident chunks of each intergenic-fraction stratum."""
    if not 0 < keep_fraction <= 1:
        raise InputError(f"keep_fraction {keep_fraction} must be in (0, 1]")
    rows = np.flatnonzero(usable)
    n_keep = int(round(len(rows) * keep_fraction))
    if n_keep == 0:
        raise InputError("no chunk would be kept: too few usable chunks or keep_fraction too small")
    # quantile ranks, ties broken by row order so strata have equal size even with many ties
    order = np.lexsort((rows, ig_fraction[rows]))
    strata = np.array_split(rows[order], min(n_strata, len(rows)))
    keep = []
    per = [n_keep // len(strata) + (1 if k < n_keep % len(strata) else 0) for k in range(len(strata))]
    for stratum, n in zip(strata, per):
        best = stratum[np.lexsort((stratum, -conf[stratum]))][:n]
        keep.extend(best.tolist())
    return np.sort(np.array(keep, dtype=np.int64))


def _strand_interval(t, seq_len):
    """[a, b) of a transcript in 5'->3' positions of its strand."""
    return (t.start, t.end) if t.strand == "+" else (seq_len - t.end, seq_len - t.start)


def _gene_classes(t):
    """Per base of the gene's strand interval from a: the class its gene model gives it."""
    n = t.end - t.start
    cls = np.full(n, layout.INTRON, np.int64)
    for s, e in t.exons:
        cls[s - t.start : e - t.start] = layout.UTR
    for s, e in t.cds:
        cls[s - t.start : e - t.start] = layout.CDS
    return cls if t.strand == "+" else cls[::-1]


def gene_scores(transcripts, genome_h5, predictions_h5, coverage_h5=None, cfg: SelectConfig = None, junctions=None):
    """One dict per transcript (GENE_COLUMNS but `kept`). junctions: {(seqid, strand, start, end)} of
    read-supported introns; with them a gene's intron support is the share of its introns they hold."""
    cfg = cfg or SelectConfig()
    seqids, start_ends = read_keys(genome_h5)
    lengths = seq_lengths(seqids, start_ends)
    strands = {(r.seqid, r.strand): r for r in strand_runs(seqids, start_ends)}
    out = []
    with open_h5(predictions_h5) as p, open_h5(coverage_h5) if coverage_h5 else contextlib.nullcontext() as c:
        for t in tracked(transcripts, desc="gene scores", unit="gene"):
            run = strands.get((t.seqid, t.strand))
            if run is None:
                raise InputError(f"{predictions_h5}: no predictions for sequence {t.seqid} strand {t.strand}")
            L = lengths[t.seqid]
            a, b = _strand_interval(t, L)
            probs = StrandReader(run, p[layout.PREDICTIONS]).read(a, b)[0].astype(np.float32)
            cls = _gene_classes(t)
            row = {
                "seqid": t.seqid,
                "strand": t.strand,
                "start": t.start,
                "end": t.end,
                "gene_id": t.gene_id,
                "confidence": float(probs[np.arange(len(cls)), cls].mean()),
                "intron_support": None,
                "exon_coverage": None,
                "evidence": "",
            }
            evidence = None
            if coverage_h5:
                reader = StrandReader(run, c[layout.coverage_name()], [c[layout.spliced_coverage_name()]])
                cov, spl = (v.sum(1).astype(np.float64) for v in reader.read(a, b))  # all BAMs pooled
                exonic = cls != layout.INTRON
                row["exon_coverage"] = float(((cov + spl)[exonic] >= cfg.min_depth).mean())
                gaps = runs(~exonic)
                if gaps and junctions is None:  # with junctions, intron support is theirs (below)
                    ok = [
                        (
                            (cov[i:j] + spl[i:j]).mean() >= cfg.min_depth
                            and spl[i:j].sum() / max(1.0, (cov[i:j] + spl[i:j]).sum()) >= 0.5
                        )
                        for i, j in gaps
                    ]
                    row["intron_support"] = float(np.mean(ok))
                    evidence = (row["intron_support"] + row["exon_coverage"]) / 2
                else:
                    evidence = row["exon_coverage"]
            introns = intron_keys(t)
            if junctions is not None and introns:
                row["intron_support"] = float(np.mean([i in junctions for i in introns]))
                cover = row["exon_coverage"]
                evidence = row["intron_support"] if cover is None else (row["intron_support"] + cover) / 2
            row["score"] = (
                row["confidence"]
                if evidence is None
                else ((1 - cfg.evidence_weight) * row["confidence"] + cfg.evidence_weight * evidence)
            )
            if not introns:
                row["score"] *= cfg.single_exon_weight
            row["all_introns_supported"] = bool(introns) and row["intron_support"] == 1.0
            out.append(row)
    return out


def write_genes_tsv(rows, path):
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(GENE_COLUMNS) + "\n")
        for r in rows:
            vals = [r[k] for k in GENE_COLUMNS]
            fh.write(
                "\t".join("" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v) for v in vals) + "\n"
            )


def read_genes_tsv(path):
    """{(seqid, gene_id)} of the genes a genes.tsv (write_genes_tsv) kept."""
    rows = read_table(path, GENE_COLUMNS, "genes.tsv", "select_confident.py")
    return {(r["seqid"], r["gene_id"]) for r in rows if r["kept"] == "yes"}


def kept_genes(gff3, genes_tsv=None):
    """The coding gene models of gff3, only those the selection kept when its genes.tsv is given."""
    genes = [t for t in read_gff3(gff3) if t.cds]
    if genes_tsv is None:
        return genes
    kept = read_genes_tsv(genes_tsv)
    return [t for t in genes if (t.seqid, t.gene_id) in kept]


def select_confident(
    labels_h5,
    predictions_h5,
    out,
    cfg: SelectConfig = None,
    gff3=None,
    coverage_h5=None,
    genes_tsv=None,
    junctions=None,
    corrections=None,
    profile=None,
):
    """Write the selected pseudolabels to `out`; returns (kept chunk rows, chunk confidence).
    Genes are ranked BRAKER-style: multi-exon genes whose every intron the reads support
    (intron_support 1) first, then by score; single-exon genes' scores are down-weighted.
    corrections: correct.py's rows for these genes (masked genes are never kept, unexplained
    junctions are masked); profile: the species profile the split-gene gaps are judged by."""
    cfg = cfg or SelectConfig()
    conf, ig, valid = chunk_confidence(labels_h5, predictions_h5)
    with open_h5(labels_h5) as lab:
        usable = valid & lab[layout.IS_ANNOTATED][:]
    if not usable.any():
        raise InputError(f"{labels_h5}: no chunk has labelled bases to select from")
    genes, transcripts = [], []
    lengths = seq_lengths(*read_keys(labels_h5))
    if gff3 is not None:
        transcripts = select_transcripts(read_gff3(gff3, lengths))
        supported = None if junctions is None else {tuple(j[:4]) for j in junctions}
        genes = gene_scores(transcripts, labels_h5, predictions_h5, coverage_h5, cfg, supported)
    actions = {(r["seqid"], r["gene_id"]): r["action"] for r in corrections or () if r["gene_id"]}
    for g in genes:
        g["evidence"] = actions.get((g["seqid"], g["gene_id"]), "")
    attrs = {"selection": str(asdict(cfg)), "mean_confidence_all": float(conf[usable].mean())}
    if cfg.unit == "chunk":
        rows = select_rows(conf, ig, usable, cfg.keep_fraction, cfg.strata)
        for g in genes:
            g["kept"] = "chunk"
        attrs["mean_confidence_kept"] = float(conf[rows].mean())
    else:
        if gff3 is None:
            raise InputError("selection unit gene needs the gene models (--gff3)")
        if not genes:
            raise InputError(f"{gff3}: no coding genes to select from")
        rows = np.flatnonzero(usable)
        order = sorted(range(len(genes)), key=lambda i: (not genes[i]["all_introns_supported"], -genes[i]["score"], i))
        n_keep = max(1, int(round(cfg.keep_fraction * len(genes))))
        kept = {i for i in order[:n_keep] if genes[i]["evidence"] != "masked"}
        for i, g in enumerate(genes):
            g["kept"] = "yes" if i in kept else "no"
        attrs.update(
            n_genes=len(genes),
            n_genes_kept=len(kept),
            mean_gene_score_kept=float(np.mean([genes[i]["score"] for i in kept])) if kept else 0.0,
            mean_gene_score_all=float(np.mean([g["score"] for g in genes])),
        )
    rejected = [g for g in genes if g["kept"] == "no"]
    unexplained = [r for r in corrections or () if r["action"] == "unexplained_junction"]
    with atomic_path(out) as tmp:  # subset, masks and weights written before the output exists
        write_subset(labels_h5, rows, tmp, attrs=attrs)
        n = mask_genes(tmp, rejected, cfg.mask_margin, lengths) if rejected else 0
        if unexplained:
            attrs["masked_junction_bases"] = mask_genes(tmp, unexplained, cfg.mask_margin, lengths)
        if cfg.unit == "gene":
            kept_ts = [t for t, g in zip(transcripts, genes) if g["kept"] == "yes"]
            attrs.update(_mask_doubt(tmp, kept_ts, cfg, profile, _model_context(predictions_h5), lengths))
            backed = (
                (lambda g: g["evidence"] == "supported")
                if corrections is not None
                else (lambda g: g["all_introns_supported"])
            )  # correct.py's well-supported junctions when it ran
            heavy = [g for g in genes if g["kept"] == "yes" and backed(g)]
            if heavy and cfg.evidence_gene_weight != 1:
                attrs["evidence_weighted_bases"] = set_weights(tmp, heavy, 0, lengths, cfg.evidence_gene_weight)
            attrs["evidence_weighted_genes"] = len(heavy)
        with open_h5(tmp, "r+") as h5:
            h5.attrs.update({k: v for k, v in attrs.items() if k not in h5.attrs})
    if cfg.unit == "gene":
        log.info(
            "kept %d of %d genes (%d masked by the read junctions); %d bases of %d rejected genes masked; "
            "%d evidence-backed genes weigh %d",
            len(genes) - len(rejected),
            len(genes),
            sum(g["evidence"] == "masked" for g in genes),
            n,
            len(rejected),
            attrs.get("evidence_weighted_genes", 0),
            cfg.evidence_gene_weight,
        )
    if genes_tsv:
        write_genes_tsv(genes, genes_tsv)
    return rows, conf


def _model_context(predictions_h5):
    """Bases either side the model that made the predictions sees (None: the whole chunk)."""
    with open_h5(predictions_h5) as p:
        value = p.attrs.get("model_context")
    if value is None:
        log.info("%s does not say the model's context: %d bases assumed", predictions_h5, DEFAULT_CONTEXT)
        return DEFAULT_CONTEXT
    return None if int(value) < 0 else int(value)


def _mask_doubt(path, kept, cfg, profile, context, lengths):
    """Mask the split-gene gaps and the deep intron bases of the kept genes in `path`; returns attrs."""

    def regions(intervals):
        return [{"seqid": s, "strand": st, "start": a, "end": b} for s, st, a, b in intervals]

    attrs = {}
    if cfg.split_gap_quantile > 0 and profile is not None:
        gaps, pairs = split_gaps(kept, profile, cfg.split_gap_quantile)
        attrs["split_gaps"] = len(gaps)
        attrs["split_gap_bases"] = mask_genes(path, regions(gaps), 0, lengths)
        log.info(
            "%d pairs of kept genes close enough to be one split gene: %d bases between them masked",
            len(pairs),
            attrs["split_gap_bases"],
        )
    if cfg.deep_intron_mask and context is not None:
        deep = deep_intron_bases(kept, context)
        attrs["deep_intron_bases"] = mask_genes(path, regions(deep), 0, lengths)
        log.info(
            "%d intron bases beyond the model's context (%d bp) from every exon masked",
            attrs["deep_intron_bases"],
            context,
        )
    return attrs
