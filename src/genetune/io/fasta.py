"""FASTA -> genome.h5 in Helixer's layout (data/X, seqids, species, start_ends), streamed.

Plain, gzip and bgzip input. Sequences are upper-cased (soft-masking is lost, as in Helixer),
IUPAC codes become fractions (N = 0.25 each), and each sequence is cut into chunks of L bases
from position 0, plus strand then the reverse complement.
"""

import gzip
import re
import tempfile
from collections import defaultdict
from pathlib import Path

import h5py
import numpy as np

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path, open_binary
from genetune.core.progress import progress
from genetune.io.h5chunks import ChunkIO

# IUPAC code -> the bases it stands for.
IUPAC = {
    "A": "A",
    "C": "C",
    "G": "G",
    "T": "T",
    "R": "AG",
    "Y": "CT",
    "S": "CG",
    "W": "AT",
    "K": "GT",
    "M": "AC",
    "B": "CGT",
    "D": "AGT",
    "H": "ACT",
    "V": "ACG",
    "N": "ACGT",
}
_FRACTION = {1: 1.0, 2: 0.5, 3: 0.33, 4: 0.25}  # Helixer's AMBIGUITY_DECODE values

# byte -> row of the one-hot table; 255 marks an invalid byte.
CODE = np.full(256, 255, dtype=np.uint8)
ONE_HOT = np.zeros((len(IUPAC) + 1, 4), dtype=np.float16)  # last row = padding (all zero)
PAD_CODE = len(IUPAC)
for _i, (_letter, _bases) in enumerate(IUPAC.items()):
    CODE[ord(_letter)] = CODE[ord(_letter.lower())] = _i
    for _b in _bases:
        ONE_HOT[_i, layout.BASES.index(_b)] = _FRACTION[len(_bases)]
# the plain bases' codes, for sequence rules (decoder, simulator)
A, C, G, T = (int(CODE[ord(b)]) for b in "ACGT")
START_CODON_SEQ, STOP_CODON_SEQS = "ATG", ("TAA", "TAG", "TGA")  # one place: decoder, GeenuFF masks, simulator


def _lines(fh, path):
    """(line number, line) of an open FASTA; a gzip cut short or corrupt is one InputError."""
    import zlib

    try:
        yield from enumerate(fh, 1)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(
            f"{path}: the gzip stream is truncated or corrupt ({exc}); fetch or compress it again"
        ) from None


def fasta_pieces(path, piece_bases=1 << 20):
    """Stream a FASTA as (seqid, codes) pieces of about `piece_bases`; a new seqid starts a new
    record, and every record yields at least one piece. Validates as it goes: FASTQ, empty file,
    empty or over-long ids (Helixer's S50 would truncate them silently), duplicates, characters
    outside IUPAC (with their line number), records without bases."""
    path = Path(path)
    seen = set()
    seqid, header_line, pending, pending_lines, n_bases, n_pending = None, 0, [], [], 0, 0

    def flush():
        nonlocal n_pending
        n_pending = 0
        raw = np.frombuffer(b"".join(pending), dtype=np.uint8)
        codes = CODE[raw]
        bad = np.flatnonzero(codes == 255)
        if bad.size:
            pos = int(bad[0])
            for lineno, text in zip(pending_lines, pending):
                if pos < len(text):
                    char = text[pos : pos + 1].decode("latin-1")
                    raise InputError(f"{path} line {lineno}: character '{char}' is not a nucleotide (IUPAC) code")
                pos -= len(text)
        pending.clear()
        pending_lines.clear()
        return codes

    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a FASTA file")
    with open_binary(path) as fh:
        for lineno, line in _lines(fh, path):
            line = line.strip()
            if lineno == 1 and line.startswith(b"@"):
                raise InputError(f"{path} line 1: this looks like FASTQ ('@' header), not FASTA")
            if line.startswith(b">"):
                if seqid is not None:
                    if not n_bases:
                        raise InputError(f"{path} line {header_line}: sequence has no bases")
                    if pending:
                        yield seqid, flush()
                fields = line[1:].split(maxsplit=1)
                if not fields:
                    raise InputError(f"{path} line {lineno}: empty sequence id")
                seqid = fields[0].decode("utf-8", "replace")
                if len(fields[0]) > 50:
                    raise InputError(
                        f"{path} line {lineno}: sequence id '{seqid}' is longer than 50 bytes "
                        "(Helixer's S50 would truncate it silently)"
                    )
                if seqid in seen:
                    raise InputError(f"{path} line {lineno}: duplicate sequence id '{seqid}'")
                seen.add(seqid)
                header_line, n_bases = lineno, 0
            elif line:
                if seqid is None:
                    raise InputError(f"{path} line {lineno}: sequence before the first '>' header")
                pending.append(line)
                pending_lines.append(lineno)
                n_bases += len(line)
                n_pending += len(line)
                if n_pending >= piece_bases:
                    yield seqid, flush()
    if seqid is None:
        raise InputError(f"{path}: no sequences (empty FASTA)")
    if not n_bases:
        raise InputError(f"{path} line {header_line}: sequence has no bases")
    if pending:
        yield seqid, flush()


def read_fasta(path):
    """Yield (seqid, codes) per whole record (uint8 indices into ONE_HOT); for small files and tests."""
    current, parts = None, []
    for seqid, codes in fasta_pieces(path):
        if seqid != current and current is not None:
            yield current, np.concatenate(parts)
            parts = []
        current = seqid
        parts.append(codes)
    yield current, np.concatenate(parts)


def onehot_chunk(codes: np.ndarray, length: int) -> np.ndarray:
    """(length, 4) float16 one-hot of codes, zero-padded at the end."""
    out = np.zeros((length, 4), dtype=np.float16)
    out[: len(codes)] = ONE_HOT[codes]
    return out


def _reverse_complement_rows(x: np.ndarray, valid: int) -> np.ndarray:
    """Minus-strand chunk from a plus chunk of the same step: C,A,T,G columns reversed are the
    complements, so reverse complement = flip rows and columns; padding stays at the end."""
    out = np.zeros_like(x)
    out[:valid] = x[:valid][::-1, ::-1]
    return out


class _GenomeWriter:
    """Appends chunks to the four datasets of genome.h5, a block at a time. The bases of the
    current sequence are spooled to a temporary file (1 byte each) so that its minus chunks,
    which come in reverse order, never need the sequence in memory."""

    def __init__(self, h5, species, length, block_chunks, chunk_io, spool):
        self.length, self.block_chunks, self.species = length, block_chunks, species.encode()
        self.chunk_io, self.spool = chunk_io, spool
        self.X = layout.create_chunked(h5, layout.X, 0, (length, 4), np.float16)
        self.ids = layout.create_chunked(h5, layout.SEQIDS, 0, (), layout.SEQID_DTYPE)
        self.sp = layout.create_chunked(h5, layout.SPECIES, 0, (), layout.SPECIES_DTYPE)
        self.se = layout.create_chunked(h5, layout.START_ENDS, 0, (2,), np.int64)
        self.seqid = None

    @property
    def n(self):
        return self.X.shape[0]

    def append(self, seqid, block, coords):
        n, k = self.n, len(coords)
        for d in (self.X, self.ids, self.sp, self.se):
            d.resize(n + k, axis=0)
        self.chunk_io.write(self.X, n, block)
        self.ids[n : n + k] = seqid.encode()
        self.sp[n : n + k] = self.species
        self.se[n : n + k] = np.asarray(coords, dtype=np.int64)

    def feed(self, seqid, codes):
        """Bases of `seqid` in order; a new seqid finishes the previous sequence."""
        if seqid != self.seqid:
            self.finish()
            self.seqid, self.pos, self.block, self.coords = seqid, 0, [], []
            self.buffer = np.zeros(0, np.uint8)
            self.spool.seek(0)
            self.spool.truncate()
        self.spool.write(codes.tobytes())
        self.buffer = np.concatenate([self.buffer, codes]) if self.buffer.size else codes
        L = self.length
        while self.buffer.size >= L:
            self._plus_chunk(self.buffer[:L])
            self.buffer = self.buffer[L:]

    def _plus_chunk(self, codes):
        self.block.append(onehot_chunk(codes, self.length))
        self.coords.append((self.pos, self.pos + codes.size))
        self.pos += codes.size
        if len(self.block) == self.block_chunks:
            self._flush(self.block, self.coords)
            self.block, self.coords = [], []

    def _flush(self, block, coords):
        if block:
            self.append(self.seqid, np.stack(block), coords)

    def finish(self):
        """Last (padded) plus chunk, then the minus chunks from the spooled bases, 3' end first."""
        if self.seqid is None:
            return
        if self.buffer.size:
            self._plus_chunk(self.buffer)
        self._flush(self.block, self.coords)
        L, seq_len = self.length, self.pos
        self.spool.flush()
        plus_starts = list(range(0, seq_len, L))
        for b in range(len(plus_starts), 0, -self.block_chunks):
            block, coords = [], []
            for s in reversed(plus_starts[max(b - self.block_chunks, 0) : b]):
                e = min(s + L, seq_len)
                self.spool.seek(s)
                codes = np.frombuffer(self.spool.read(e - s), dtype=np.uint8)
                block.append(_reverse_complement_rows(onehot_chunk(codes, L), e - s))
                coords.append((e, s))
            self._flush(block, coords)
        self.seqid = None


def ingest_genome(fasta, species, out, length=layout.DEFAULT_SUBSEQUENCE_LENGTH, block_chunks=32, threads=None):
    """Write genome.h5 for `fasta`; returns the number of chunks. Streams: memory is a block of
    chunks, whatever the sequence or genome size; chunks are compressed in `threads` threads."""
    if length % layout.POOL_SIZE:
        raise InputError(f"subsequence length {length} is not divisible by the pool size {layout.POOL_SIZE}")
    if len(species.encode()) > 25:
        raise InputError(f"species name '{species}' is longer than 25 bytes (Helixer's S25)")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", species):
        raise InputError(f"species name '{species}' may hold only letters, digits, '_', '.' and '-'")
    with (
        atomic_path(out) as tmp,
        h5py.File(tmp, "w") as h5,
        ChunkIO(threads) as chunk_io,
        tempfile.TemporaryFile(dir=Path(tmp).parent) as spool,
    ):
        writer = _GenomeWriter(h5, species, length, block_chunks, chunk_io, spool)
        with progress(desc="ingest", unit="bp", unit_scale=True) as bar:
            for seqid, codes in fasta_pieces(fasta, piece_bases=length * block_chunks):
                writer.feed(seqid, codes)
                bar.update(len(codes))
        writer.finish()
        h5.attrs["source"] = str(fasta)
        h5.attrs["genetune_version"] = __import__("genetune").__version__
        return writer.n


_BASE_CODES = np.array([CODE[ord(b)] for b in layout.BASES], dtype=np.uint8)


def codes_from_onehot(x: np.ndarray) -> np.ndarray:
    """Plain bases back to codes; anything ambiguous becomes N."""
    one = x.view(np.uint16) == np.float16(1).view(np.uint16) if x.dtype == np.float16 else x == 1.0
    out = _BASE_CODES[one.argmax(axis=1)]
    out[~one.any(axis=1)] = CODE[ord("N")]
    return out


LETTERS = np.array(list(IUPAC) + ["N"])  # code -> letter (the padding code reads as N)


def plus_windows(h5, seqids, start_ends, wanted, chunk_io, width=3):
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
    rows = sorted(bases)
    for row, chunk in zip(rows, chunk_io.read(h5[layout.X], rows)):
        offsets = np.array([o for o, _, _ in bases[row]])
        x = chunk[offsets].astype(np.float32)
        for (_, key, k), code in zip(bases[row], codes_from_onehot(x)):
            letters[key][k] = LETTERS[code]
    out = {}
    for key, d in letters.items():
        k = 0
        while k in d:
            k += 1
        out[key] = "".join(d[i] for i in range(k))
    return out
