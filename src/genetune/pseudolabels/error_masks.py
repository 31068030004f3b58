"""Helixer's sample-weight error masks, computed from the GFF3 as GeenuFF's importer does.

GeenuFF (`GFFErrorHandling.resolve_errors`, rare-geenuff 0.1.1) flags suspicious gene models
and geenuff2h5 sets `sample_weights` to 0 over each flag of the exported (longest coding)
transcript. A flag at a gene end reaches "halfway" to the neighbouring gene on the same strand:
to min(gap // 2, isqrt-ish(gap) * 10) past the gene, or to the sequence end.

Flags (all per coding transcript):
- no 5' UTR (CDS starts at the transcript start) / no 3' UTR: from the CDS end outwards (not
  raised with `utr_flags=False`, for annotations that have no UTRs at all: a CDS-only gene caller
  such as geneML writes none, and flagging every gene would mask all intergenic sequence);
- no ATG at the CDS start / no stop codon in the last three CDS bases: outwards likewise;
- 5'-most CDS phase not 0: upstream; 3'-most CDS phase not matching its length: downstream;
- introns shorter than 20 bp: the intron itself;
- an intron touching the transcript end ("hanging", partial genes): outwards;
- neighbouring genes that overlap when one of them lacks a UTR on the overlapping side: the
  region up to the next gene that overlaps nothing; nested genes drop their UTR flags;
- an exon on the other strand: the whole gene.

Everything runs in strand-oriented coordinates (the minus strand mirrored, 5' -> 3' ascending),
which makes GeenuFF's two strand-specific code paths one. Only GeenuFF's quirks that change
the mask are kept: the first gene's upstream anchor is 0 on '+' but -1 on '-', and a flag
with start > end ("backwards", from overlapping genes) is dropped at the end.
"""

import math
from dataclasses import dataclass, field

from genetune.io.fasta import START_CODON_SEQ, STOP_CODON_SEQS

MIN_INTRON = 20  # GeenuFF's default min_intron_length
_RC = str.maketrans("ACGT", "TGCA")

NO_UTR_5P, NO_UTR_3P = "missing_utr_5p", "missing_utr_3p"
NO_START, NO_STOP = "missing_start_codon", "missing_stop_codon"
PHASE_5P, PHASE_3P = "wrong_starting_phase", "mismatched_ending_phase"
SHORT_INTRON, HANGING_INTRON = "too_short_intron", "truncated_intron"
GENE_OVERLAP, STRAND_MIX = "super_loci_overlap_error", "missmatching_strands"


def reverse_complement(seq: str) -> str:
    return seq.translate(_RC)[::-1]


@dataclass
class _Model:
    """One transcript, strand-oriented: [start, end) ascending from 5' to 3'."""

    transcript: object
    span: tuple
    cds: tuple = None
    introns: list = field(default_factory=list)
    phases: tuple = (0, 0)  # GFF phase of the 5'-most and the 3'-most CDS line
    errors: list = field(default_factory=list)  # (start, end, kind)


@dataclass
class _Locus:
    start: int
    end: int
    models: list
    strand_mix: bool


class _Strand:
    """Error flags for the genes of one sequence strand, in GeenuFF's order of work."""

    def __init__(self, loci, seq_len, first_anchor, utr_flags=True):
        self.loci, self.L, self.first_anchor, self.utr_flags = loci, seq_len, first_anchor, utr_flags

    def errors(self, i):
        return [e[2] for m in self.loci[i].models for e in m.errors]

    def status(self, i):
        """How locus i relates to locus i-1 (GeenuFF `_sl_neighbor_status`)."""
        prev, cur = self.loci[i - 1], self.loci[i]
        if prev.end <= cur.start:
            return "normal"
        if prev.end > cur.end:
            kinds = set(self.errors(i))
            ends = (NO_UTR_5P in kinds, NO_UTR_3P in kinds)
            return {
                (True, True): "nested_error_both",
                (False, True): "nested_error_3p",
                (True, False): "nested_error_5p",
            }.get(ends, "nested")
        status = "overlap_error_5p" if NO_UTR_3P in self.errors(i - 1) else "overlap"
        if NO_UTR_5P in self.errors(i):
            status = "overlap_error_3p" if status == "overlap" else "overlap_error_both"
        return status

    def border(self, i):
        """Where a flag between locus i and i+1 stops: part-way into the intergenic gap."""
        gap = self.loci[i + 1].start - self.loci[i].end
        return self.loci[i].end + (min(gap // 2, int(math.sqrt(gap)) * 10) if gap > 0 else 0)

    def upstream(self, i, m, pos, kind, past_overlaps=False):
        j = i
        while past_overlaps and j > 0 and self.status(j) != "normal":
            j -= 1
        anchor = self.border(j - 1) if j > 0 else self.first_anchor
        if not anchor == pos == 0:
            m.errors.append((anchor, pos, kind))

    def downstream(self, i, m, pos, kind, past_overlaps=False):
        j = i
        while past_overlaps and j < len(self.loci) - 1 and self.status(j + 1) != "normal":
            j += 1
        anchor = self.border(j) if j < len(self.loci) - 1 else self.L
        if not anchor == pos == self.L:
            m.errors.append((pos, anchor, kind))

    def resolve(self, codon):
        for i, locus in enumerate(self.loci):
            if locus.strand_mix:
                locus.models[0].errors.append((locus.start, locus.end, STRAND_MIX))
                continue
            for m in locus.models:
                if m.cds is not None:
                    self._check(i, m, codon)
        for locus in self.loci:
            for m in locus.models:
                m.errors = [e for e in m.errors if e[0] <= e[1]]

    def _check(self, i, m, codon):
        (lo, hi), (ts, te) = m.cds, m.span
        phase5, phase3 = m.phases
        if lo == ts and self.utr_flags:
            self.upstream(i, m, lo, NO_UTR_5P)
        if hi == te and self.utr_flags:
            self.downstream(i, m, hi, NO_UTR_3P)
        if codon(lo) != START_CODON_SEQ:
            self.upstream(i, m, lo, NO_START)
        if codon(hi - 3) not in STOP_CODON_SEQS:
            self.downstream(i, m, hi, NO_STOP)
        if phase5 != 0:
            self.upstream(i, m, lo, PHASE_5P)
        if i > 0:
            status = self.status(i)
            if status in ("overlap_error_5p", "overlap_error_both"):
                self.downstream(i, m, self.loci[i - 1].end, GENE_OVERLAP, past_overlaps=True)
            elif status == "overlap_error_3p":
                self.upstream(i, m, self.loci[i].start, GENE_OVERLAP, past_overlaps=True)
            elif status.startswith("nested_error"):
                m.errors = [e for e in m.errors if e[2] not in (NO_UTR_5P, NO_UTR_3P)]
        if m.introns:
            last_exon_start = max([e for _, e in m.introns if lo < e < hi], default=lo)
            if phase3 != (hi - last_exon_start) % 3:
                self.downstream(i, m, hi, PHASE_3P)
        for s, e in m.introns:
            if e - s < MIN_INTRON:
                m.errors.append((s, e, SHORT_INTRON))
        for s, e in m.introns:
            if s == ts:
                self.upstream(i, m, s, HANGING_INTRON)
            if e == te:
                self.downstream(i, m, e, HANGING_INTRON)


def _oriented(interval, strand, seq_len):
    a, b = interval
    return (a, b) if strand == "+" else (seq_len - b, seq_len - a)


def masked_intervals(genes, seq_lengths, window, longest_only=True, utr_flags=True):
    """(seqid, strand) -> [start, end) genomic intervals where sample_weights must be 0.

    `genes` are gff.Gene records in file order; the flags of each gene's longest coding
    transcript (the one Helixer exports), or of every coding transcript, are returned.
    `window(seqid, start)` gives the plus-strand bases at [start, start + 3), clipped."""
    by_strand = {}
    for g in genes:
        if g.strand in ("+", "-"):
            by_strand.setdefault((g.seqid, g.strand), []).append(g)
    out = {}
    for (seqid, strand), group in by_strand.items():
        L = seq_lengths[seqid]
        loci = []
        for g in group if strand == "+" else group[::-1]:
            models = []
            for t in g.transcripts:
                m = _Model(t, _oriented((t.start, t.end), strand, L))
                if t.cds:
                    m.cds = _oriented(t.cds_span, strand, L)
                    m.introns = sorted(_oriented(i, strand, L) for i in t.introns)
                    m.phases = t.end_phases if strand == "+" else t.end_phases[::-1]
                models.append(m)
            start, end = _oriented((g.start, g.end), strand, L)
            strand_mix = any(t.cds and t.strand_conflict for t in g.transcripts)
            loci.append(_Locus(start, end, models, strand_mix))
        loci.sort(key=lambda locus: locus.start)

        def codon(pos, seqid=seqid, strand=strand, L=L):
            if strand == "+":
                return window(seqid, pos) if pos >= 0 else ""
            start = L - pos - 3  # the mirrored window [pos, pos + 3) on the plus strand
            return reverse_complement(window(seqid, start)) if start >= 0 else ""

        work = _Strand(loci, L, 0 if strand == "+" else -1, utr_flags)
        work.resolve(codon)
        intervals = []
        for locus in loci:
            coding = [m for m in locus.models if m.cds is not None]
            if not coding:
                continue
            if longest_only:  # the first of equally long ones, as GeenuFF
                coding = [m for m in coding if m.transcript.selection_length >= 0]
                coding = [max(coding, key=lambda m: m.transcript.selection_length)] if coding else []
            for s, e, _ in (e for m in coding for e in m.errors):
                a, b = _oriented((max(s, 0), min(e, L)), strand, L)
                if a < b:
                    intervals.append((a, b))
        out[(seqid, strand)] = sorted(intervals)
    return out
