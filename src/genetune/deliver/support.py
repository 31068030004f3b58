"""Per-gene confidence and evidence, written into the final GFF3 as attributes of the gene and mRNA
lines, and the high-confidence subset they choose.

- column 6 (`score`): the decoder's confidence in [0, 1] (decode/genes.py gene_score);
- `introns`, `introns_supported`: the transcript's introns, and how many a read junction with at
  least splicing.MIN_READS reads shows exactly (same strand, same ends);
- `exon_coverage`: the share of its exonic bases that at least one read covers (coverage.h5, every
  BAM pooled, the gene's strand), where BAMs are given;
- `coding_score`: PSAURON's protein-coding score of the CDS in its own frame, where psauron_model is
  given;
- `evidence`: `full` (at least one intron, every intron supported), `partial` (some), `none`.

High confidence: a gene whose introns the reads all show (`evidence=full`), or whose confidence is at
least `min_confidence`. Both thresholds were chosen on real genomes against their references
(README, benchmarks/real_genomes.py).
"""

import numpy as np

from genetune.core import layout
from genetune.evidence.splicing import MIN_READS, intron_keys
from genetune.io.sequences import cds_sequences, spliced_windows

HEADER = (
    "column 6 of gene and mRNA lines: the decoder's confidence in [0, 1], the mean probability the "
    "network gives each base's class, averaged with the mean boundary probability at the start, stop and "
    "splice sites; introns/introns_supported: introns and those a read junction shows exactly; "
    "exon_coverage: share of exonic bases under reads; coding_score: PSAURON's protein-coding score; "
    "evidence: full (every intron supported), partial, none"
)


def intron_support(transcripts, junctions, min_reads=MIN_READS):
    """[(introns, introns a junction with >= min_reads reads shows)] per transcript."""
    shown = {tuple(j[:4]) for j in junctions if j[4] >= min_reads}
    return [(len(keys), sum(k in shown for k in keys)) for keys in map(intron_keys, transcripts)]


def exon_coverage(coverage_h5, transcripts, min_depth=1):
    """[share of exonic bases with >= min_depth reads, all BAMs pooled] per transcript."""
    out = [0.0] * len(transcripts)
    for k, segs in spliced_windows(coverage_h5, layout.coverage_name(), transcripts, part="exons"):
        depth = np.concatenate([np.asarray(s).reshape(len(s), -1).sum(1) for s in segs])
        out[k] = float(np.mean(depth >= min_depth)) if len(depth) else 0.0
    return out


def coding_scores(model, genome_h5, transcripts):
    """[PSAURON's own-frame score, None under its minimum length] per transcript."""
    from genetune.deliver.protein_score import score_cds

    seqs = cds_sequences(genome_h5, transcripts)
    return [None if x is None else x[0] for x in score_cds(model, [seqs[k] for k in range(len(transcripts))])]


def evidence_class(introns, supported):
    if introns and supported == introns:
        return "full"
    return "partial" if supported else "none"


def annotate(transcripts, junctions=None, coverage_h5=None, psauron=None, genome_h5=None):
    """The transcripts with their support attributes set (returned as new dicts of attributes, in order)."""
    rows = [{} for _ in transcripts]
    if junctions is not None:
        for row, (n, shown) in zip(rows, intron_support(transcripts, junctions)):
            row.update(introns=n, introns_supported=shown, evidence=evidence_class(n, shown))
    else:
        for row, t in zip(rows, transcripts):
            row["introns"] = len(t.exons) - 1
    if coverage_h5 is not None:
        for row, share in zip(rows, exon_coverage(coverage_h5, transcripts)):
            row["exon_coverage"] = round(share, 3)
    if psauron is not None:
        for row, score in zip(rows, coding_scores(psauron, genome_h5, transcripts)):
            if score is not None:
                row["coding_score"] = round(score, 3)
    return rows


def high_confidence(transcript, support, min_confidence):
    """Whether a gene is in the high-confidence subset."""
    return support.get("evidence") == "full" or (transcript.score is not None and transcript.score >= min_confidence)
