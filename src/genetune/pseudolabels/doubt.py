"""Where a pseudolabel is least likely to be right, so that training ignores it (sample weight 0)
instead of teaching it.

  - Split genes: two genes on one strand whose gap is no longer than an intron of this species
    (the profile's `quantile` of intron lengths) may be one gene the network split at a long intron
    whose acceptor it missed. The gap, the first gene's stop codon and the second gene's start codon
    are masked: teaching them would train the network to end and start genes at that intron.
  - Deep intron bases: a model with finite context (the residual CNN: `context` bases either side)
    cannot see an exon from the middle of an intron longer than twice its context; labelling those
    bases intron teaches it nothing it can learn, and the decoder's long-intron states do not need
    them. Bases farther than `margin` from every exon of their gene are masked.
Intervals are (seqid, strand, start, end) on the gene's strand, genomic coordinates.
"""

from genetune.decode.profile import intron_quantile
from genetune.evidence.splicing import intron_keys

CODON_MARGIN = 6  # bases masked beyond the stop and start codons at a possible split (the codon and its flanks)


def split_gaps(genes, profile, quantile=0.9):
    """(intervals, pairs): the masked stretch for each pair of consecutive same-strand coding genes
    whose gap is at most the profile's `quantile` intron length, and the pairs (gene ids) it joins."""
    max_gap = intron_quantile(profile, quantile)
    by_strand = {}
    for t in genes:
        if t.cds:
            by_strand.setdefault((t.seqid, t.strand), []).append(t)
    intervals, pairs = [], []
    for (seqid, strand), ts in by_strand.items():
        ts = sorted(ts, key=lambda t: (t.start, t.end))
        for a, b in zip(ts, ts[1:]):
            gap = b.cds[0][0] - a.cds[-1][1]
            if 0 <= gap <= max_gap:
                lo, hi = a.cds[-1][1] - 3 - CODON_MARGIN, b.cds[0][0] + 3 + CODON_MARGIN
                intervals.append((seqid, strand, max(lo, a.start), min(hi, b.end)))
                pairs.append((a.gene_id, b.gene_id))
    return intervals, pairs


def deep_intron_bases(genes, margin):
    """Intervals of intron bases farther than `margin` bases from both of their intron's exons."""
    out = []
    for t in genes:
        for seqid, strand, a, b in intron_keys(t):
            if b - a > 2 * margin:
                out.append((seqid, strand, a + margin, b - margin))
    return out
