"""Chunk geometry (Helixer's order: per sequence, plus chunks ascending then minus chunks) and
pairing of files by (seqid, start, end) keys, never by row index alone."""

from dataclasses import dataclass

import numpy as np

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.core.fileio import open_h5
from genetune.core.intervals import merge


def chunk_coords(seq_len: int, length: int):
    """Helixer's [start, end) pairs for one sequence: plus chunks, then minus chunks (start > end).

    >>> chunk_coords(51321, 21384)
    [(0, 21384), (21384, 42768), (42768, 51321), (51321, 42768), (42768, 21384), (21384, 0)]
    """
    starts = list(range(0, seq_len, length))
    plus = [(s, min(s + length, seq_len)) for s in starts]
    minus = [(e, s) for s, e in reversed(plus)]
    return plus + minus


@dataclass(frozen=True)
class StrandRun:
    """Consecutive rows of one sequence strand; offsets are positions along the strand 5'->3'."""

    seqid: str
    strand: str  # '+' or '-'
    rows: np.ndarray  # row indices in file order
    valid: np.ndarray  # valid (unpadded) length of each row
    seq_len: int

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.valid)[:-1]])


def read_keys(path):
    """(seqids, start_ends) of an h5 file, decoded."""
    with open_h5(path) as h5:
        if layout.SEQIDS not in h5 or layout.START_ENDS not in h5:
            raise InputError(f"{path}: not a genetune/Helixer h5 file (no {layout.SEQIDS}/{layout.START_ENDS})")
        seqids = h5[layout.SEQIDS][:].astype(str)
        start_ends = h5[layout.START_ENDS][:]
    return seqids, start_ends


def covered_intervals(path):
    """{seqid: [(lo, hi)]} of the genomic stretches a file's chunks hold (both strands, merged)."""
    seqids, start_ends = read_keys(path)
    spans = {}
    for s, (a, b) in zip(seqids, start_ends):
        spans.setdefault(str(s), []).append((int(min(a, b)), int(max(a, b))))
    return {s: merge(iv) for s, iv in spans.items()}


def inside(intervals, seqid, lo, hi):
    """Whether [lo, hi) on seqid lies inside one of the intervals ({seqid: [(lo, hi)]})."""
    return any(a <= lo and hi <= b for a, b in intervals.get(seqid, ()))


def seq_lengths(seqids, start_ends):
    """seqid -> sequence length, in file order, from the chunk keys."""
    lengths = {}
    for s, (a, b) in zip(seqids, start_ends):
        lengths[s] = max(lengths.get(s, 0), int(a), int(b))
    return lengths


def strand_runs(seqids, start_ends):
    """Group rows into per-(seqid, strand) runs in 5'->3' order of that strand."""
    runs = []
    n = len(seqids)
    i = 0
    while i < n:
        sid = seqids[i]
        plus = start_ends[i, 0] < start_ends[i, 1]
        j = i
        while j < n and seqids[j] == sid and (start_ends[j, 0] < start_ends[j, 1]) == plus:
            j += 1
        rows = np.arange(i, j)
        se = start_ends[i:j]
        valid = np.abs(se[:, 1] - se[:, 0])
        seq_len = int(se.max())
        runs.append(StrandRun(sid, "+" if plus else "-", rows, valid, seq_len))
        i = j
    return runs


def check_same_chunks(path_a, path_b):
    """Raise unless two files hold the same chunks in the same order (paired by key)."""
    ids_a, se_a = read_keys(path_a)
    ids_b, se_b = read_keys(path_b)
    if len(ids_a) != len(ids_b) or not (np.array_equal(ids_a, ids_b) and np.array_equal(se_a, se_b)):
        keys_a = set(zip(ids_a, map(tuple, se_a)))
        keys_b = set(zip(ids_b, map(tuple, se_b)))
        only_b = sorted(keys_b - keys_a)[:3]
        only_a = sorted(keys_a - keys_b)[:3]
        detail = (
            f"{len(keys_a - keys_b)} chunks only in {path_a} (e.g. {only_a}), "
            f"{len(keys_b - keys_a)} only in {path_b} (e.g. {only_b})"
        )
        if not (keys_a - keys_b) and not (keys_b - keys_a):
            detail = "same chunks but in a different order"
        raise InputError(f"{path_b}: chunks do not match {path_a} by (seqid, start, end): {detail}")


def row_index(seqids, start_ends):
    """Map (seqid, start, end) -> row."""
    return {(s, int(a), int(b)): i for i, (s, (a, b)) in enumerate(zip(seqids, start_ends))}


class StrandReader:
    """Reads strand positions [a, b) of one run from data/X (and coverage) without padding;
    with a `chunk_io` (h5chunks.ChunkIO) chunks are inflated by ISA-L, ~2x faster than h5py."""

    def __init__(self, run, X, cov_sets=(), chunk_io=None):
        self.run, self.X, self.cov_sets, self.chunk_io = run, X, cov_sets, chunk_io
        self.offsets = run.offsets
        self.ends = self.offsets + run.valid

    def read(self, a, b):
        i0 = int(np.searchsorted(self.ends, a, side="right"))
        i1 = int(np.searchsorted(self.offsets, b, side="left"))
        r0, r1 = int(self.run.rows[i0]), int(self.run.rows[i1 - 1]) + 1
        valid = self.run.valid[i0:i1]

        def gather(d):
            block = self.chunk_io.read_block(d, r0, r1) if self.chunk_io else d[r0:r1]
            return np.concatenate([block[k, :v] for k, v in enumerate(valid)])

        base = self.offsets[i0]
        x = gather(self.X)[a - base : b - base]
        cov = None
        if self.cov_sets:
            cov = np.concatenate([gather(d) for d in self.cov_sets], axis=-1)[a - base : b - base]
        return x, cov


def pieces(seqids, start_ends, n):
    """The genome cut into `n` pieces for scattered jobs: consecutive groups of whole sequences in
    file order, each close to 1/n of the bases (fewer pieces when there are fewer sequences).
    Returns a list of seqid lists; concatenated they are the sequences in file order."""
    lengths = seq_lengths(seqids, start_ends)
    names, sizes = list(lengths), np.array(list(lengths.values()), dtype=np.float64)
    n = max(1, min(int(n), len(names)))
    bounds = np.searchsorted(np.cumsum(sizes), np.arange(1, n) * sizes.sum() / n, side="left") + 1
    cuts = [0] + sorted(set(int(min(max(b, 1), len(names) - 1)) for b in bounds)) + [len(names)]
    return [names[a:b] for a, b in zip(cuts, cuts[1:]) if b > a]


def piece_of(seqids, start_ends, piece, n):
    """The seqids of piece `piece` (0-based) of `n`; an empty list when there are fewer pieces."""
    groups = pieces(seqids, start_ends, n)
    if not 0 <= piece < n:
        raise InputError(f"piece {piece} is not one of 0..{n - 1}")
    return groups[piece] if piece < len(groups) else []
