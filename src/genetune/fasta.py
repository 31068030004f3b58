"""FASTA -> genome.h5 in Helixer's layout (data/X, seqids, species, start_ends), streamed.

Plain, gzip and bgzip input. Sequences are upper-cased (soft-masking is lost, as in Helixer),
IUPAC codes become fractions (N = 0.25 each), and each sequence is cut into chunks of L bases
from position 0, plus strand then the reverse complement (HELIXER_NOTES §1.2).
"""

import gzip
from pathlib import Path

import h5py
import numpy as np

from . import layout
from .chunks import chunk_coords
from .errors import InputError
from .fileio import atomic_path

# IUPAC code -> the bases it stands for.
IUPAC = {
    "A": "A", "C": "C", "G": "G", "T": "T",
    "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
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
# complement code of each code (for reverse complement of code arrays)
_COMP_LETTER = dict(zip("ACGTRYSWKMBDHVN", "TGCAYRSWMKVHDBN"))
COMPLEMENT_CODE = np.arange(len(IUPAC) + 1, dtype=np.uint8)
for _letter, _c in _COMP_LETTER.items():
    COMPLEMENT_CODE[CODE[ord(_letter)]] = CODE[ord(_c)]
# the plain bases' codes, for sequence rules (decoder, simulator)
A, C, G, T = (int(CODE[ord(b)]) for b in "ACGT")


def open_text(path):
    """Open plain or gzip/bgzip text by magic bytes."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    return open(path)


def read_fasta(path):
    """Yield (seqid, codes) per record, codes as uint8 indices into ONE_HOT. Validates as it goes."""
    path = Path(path)
    seen = set()
    seqid, parts, header_line = None, [], 0
    n_records = 0
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if lineno == 1 and line.startswith("@"):
                raise InputError(f"{path} line 1: this looks like FASTQ ('@' header), not FASTA")
            if line.startswith(">"):
                if seqid is not None:
                    yield seqid, _encode(path, header_line, parts)
                    n_records += 1
                seqid = line[1:].split(maxsplit=1)[0] if line[1:].strip() else ""
                if not seqid:
                    raise InputError(f"{path} line {lineno}: empty sequence id")
                if len(seqid.encode()) > 50:
                    raise InputError(f"{path} line {lineno}: sequence id '{seqid}' is longer than 50 bytes "
                                     "(Helixer's S50 would truncate it silently)")
                if seqid in seen:
                    raise InputError(f"{path} line {lineno}: duplicate sequence id '{seqid}'")
                seen.add(seqid)
                parts, header_line = [], lineno
            elif line.strip():
                if seqid is None:
                    raise InputError(f"{path} line {lineno}: sequence before the first '>' header")
                parts.append((lineno, line.strip()))
    if seqid is not None:
        yield seqid, _encode(path, header_line, parts)
        n_records += 1
    if n_records == 0:
        raise InputError(f"{path}: no sequences (empty FASTA)")


def _encode(path, header_line, parts):
    if not parts:
        raise InputError(f"{path} line {header_line}: sequence has no bases")
    raw = np.frombuffer("".join(p for _, p in parts).encode("ascii", "replace"), dtype=np.uint8)
    codes = CODE[raw]
    bad = np.flatnonzero(codes == 255)
    if bad.size:
        # find the line of the first bad character for the message
        pos = int(bad[0])
        for lineno, text in parts:
            if pos < len(text):
                raise InputError(f"{path} line {lineno}: character '{text[pos]}' is not a nucleotide (IUPAC) code")
            pos -= len(text)
    return codes


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    return COMPLEMENT_CODE[codes[::-1]]


def encode_chunk(codes: np.ndarray, length: int) -> np.ndarray:
    """(length, 4) float16 one-hot of codes, zero-padded at the end."""
    out = np.zeros((length, 4), dtype=np.float16)
    out[: len(codes)] = ONE_HOT[codes]
    return out


def ingest_genome(fasta, species, out, length=layout.DEFAULT_SUBSEQUENCE_LENGTH, block_chunks=64):
    """Write genome.h5 for `fasta`; returns the number of chunks. Memory: one sequence's codes + a block."""
    if length % layout.POOL_SIZE:
        raise InputError(f"subsequence length {length} is not divisible by the pool size {layout.POOL_SIZE}")
    if len(species.encode()) > 25:
        raise InputError(f"species name '{species}' is longer than 25 bytes (Helixer's S25)")
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
        X = layout.create_chunked(h5, layout.X, 0, (length, 4), np.float16)
        ids = layout.create_chunked(h5, layout.SEQIDS, 0, (), layout.SEQID_DTYPE)
        sp = layout.create_chunked(h5, layout.SPECIES, 0, (), layout.SPECIES_DTYPE)
        se = layout.create_chunked(h5, layout.START_ENDS, 0, (2,), np.int64)
        n = 0
        for seqid, codes in read_fasta(fasta):
            coords = chunk_coords(len(codes), length)
            rc = reverse_complement_codes(codes)
            total = n + len(coords)
            for d in (X, ids, sp, se):
                d.resize(total, axis=0)
            ids[n:total] = seqid.encode()
            sp[n:total] = species.encode()
            se[n:total] = np.array(coords, dtype=np.int64)
            for b0 in range(0, len(coords), block_chunks):
                block = coords[b0: b0 + block_chunks]
                arr = np.zeros((len(block), length, 4), dtype=np.float16)
                for k, (s, e) in enumerate(block):
                    if s < e:
                        arr[k] = encode_chunk(codes[s:e], length)
                    else:  # minus chunk: reverse complement of [e, s)
                        L = len(codes)
                        arr[k] = encode_chunk(rc[L - s: L - e], length)
                X[n + b0: n + b0 + len(block)] = arr
            n = total
        h5.attrs["source"] = str(fasta)
        h5.attrs["genetune_version"] = __import__("genetune").__version__
    return n


def fasta_lengths(path):
    """seqid -> length, validating the file (used by GFF/BAM checks)."""
    return {sid: len(codes) for sid, codes in read_fasta(path)}


def strand_codes(h5, run):
    """Codes (5'->3' on the run's strand) reconstructed from data/X of one StrandRun: decoder input."""
    parts = []
    for r, v in zip(run.rows, run.valid):
        x = h5[layout.X][r, :v].astype(np.float32)
        parts.append(codes_from_onehot(x))
    return np.concatenate(parts) if parts else np.zeros(0, np.uint8)


_BASE_CODES = np.array([CODE[ord(b)] for b in layout.BASES], dtype=np.uint8)


def codes_from_onehot(x: np.ndarray) -> np.ndarray:
    """Plain bases back to codes; anything ambiguous becomes N."""
    out = np.full(len(x), CODE[ord("N")], dtype=np.uint8)
    hard = x.max(axis=1) == 1.0
    out[hard] = _BASE_CODES[x[hard].argmax(axis=1)]
    return out
