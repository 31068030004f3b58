"""Fast sequential reading of coordinate-sorted BAM files for coverage counting.

pysam opens, checks and indexes the BAM; the records themselves are decoded here, because a
Python object per alignment (pysam's iterator) costs more than all the counting. The file is
read as BGZF blocks (SAMv1 §4.1), inflated by ISA-L, and the records (§4.2) are scanned by a
numba kernel that turns each alignment's CIGAR into +1/-1 events in per-window difference
arrays. Each sequence is reached through the BAM index (.bai or .csi): the smallest virtual
offset of its bins is where its first record lies.
"""

import gzip
import struct
from pathlib import Path

import numba
import numpy as np
from isal import isal_zlib

from genetune.core.errors import InputError

# Scan results
NEED_MORE, WINDOW_DONE, OTHER_SEQUENCE, UNSORTED, CARRY_FULL, BAD_RECORD = range(6)
# Library protocols (coverage.STRANDEDNESS order)
REVERSE, FORWARD, UNSTRANDED = range(3)
_READ_BATCH = 1 << 20  # compressed bytes read and inflated at a time (~10 MB inflated)


def _min_offsets_bai(data, n_ref):
    if data[:4] != b"BAI\1":
        return None
    (n,) = struct.unpack_from("<i", data, 4)
    pos, out = 8, []
    for _ in range(n):
        (n_bin,) = struct.unpack_from("<i", data, pos)
        pos += 4
        best = None
        for _ in range(n_bin):
            b, n_chunk = struct.unpack_from("<Ii", data, pos)
            pos += 8
            if b != 37450 and n_chunk:  # 37450: the pseudo-bin of counts
                begs = np.frombuffer(data, "<u8", n_chunk * 2, pos)[0::2]
                best = int(begs.min()) if best is None else min(best, int(begs.min()))
            pos += 16 * n_chunk
        (n_intv,) = struct.unpack_from("<i", data, pos)
        pos += 4 + 8 * n_intv
        out.append(best)
    return out if n == n_ref else None


def _min_offsets_csi(data, n_ref):
    if data[:4] != b"CSI\1":
        return None
    min_shift, depth, l_aux = struct.unpack_from("<iii", data, 4)
    pos = 16 + l_aux
    (n,) = struct.unpack_from("<i", data, pos)
    pos += 4
    pseudo = ((1 << ((depth + 1) * 3)) - 1) // 7 + 1
    out = []
    for _ in range(n):
        (n_bin,) = struct.unpack_from("<i", data, pos)
        pos += 4
        best = None
        for _ in range(n_bin):
            b, _loffset, n_chunk = struct.unpack_from("<IQi", data, pos)
            pos += 16
            if b != pseudo and n_chunk:
                begs = np.frombuffer(data, "<u8", n_chunk * 2, pos)[0::2]
                best = int(begs.min()) if best is None else min(best, int(begs.min()))
            pos += 16 * n_chunk
        out.append(best)
    return out if n == n_ref else None


def first_record_offsets(bam_path, n_ref):
    """Per reference (header order): the virtual offset of its first record, None if it has no
    records; from the .bai or .csi index next to the BAM."""
    bam_path = Path(bam_path)
    for idx in (Path(f"{bam_path}.bai"), bam_path.with_suffix(".bai"), Path(f"{bam_path}.csi")):
        if idx.exists():
            return first_record_offsets_from(idx, bam_path, n_ref)
    raise InputError(f"{bam_path}: no index (.bai or .csi) found")


def first_record_offsets_from(idx, bam_path, n_ref):
    raw = Path(idx).read_bytes()
    try:
        offsets = _min_offsets_bai(raw, n_ref) or _min_offsets_csi(gzip.decompress(raw), n_ref)
    except (struct.error, OSError, ValueError, EOFError):
        offsets = None
    if offsets is None:
        raise InputError(f"{idx}: not a BAM index for {bam_path} (unreadable or other sequences)")
    return offsets


class BgzfReader:
    """Inflated bytes of a BGZF file from a virtual offset on, a batch of blocks at a time."""

    def __init__(self, path, pool=None):
        self.path, self.fh, self.pool = path, open(path, "rb"), pool
        self.coffset = 0

    def close(self):
        self.fh.close()

    def seek(self, voffset):
        """Position at a virtual offset; returns the bytes skipped inside the first block."""
        self.coffset = voffset >> 16
        return voffset & 0xFFFF

    def read(self):
        """The next inflated bytes; None at the end of the file."""
        self.fh.seek(self.coffset)
        raw = self.fh.read(_READ_BATCH)
        if not raw:
            return None
        blocks, pos = [], 0
        while pos + 18 <= len(raw):
            if raw[pos : pos + 4] != b"\x1f\x8b\x08\x04":
                raise InputError(
                    f"{self.path}: no BGZF block at byte {self.coffset + pos}: the BAM is corrupt, or "
                    "its index (.bai) belongs to another file or sort order; samtools index it again"
                )
            (xlen,) = struct.unpack_from("<H", raw, pos + 10)
            bsize = _bsize(raw, pos, xlen)
            if bsize is None:
                raise InputError(f"{self.path}: BGZF block without its size at byte {self.coffset + pos}")
            if pos + bsize > len(raw):
                break
            blocks.append(memoryview(raw)[pos + 12 + xlen : pos + bsize - 8])
            pos += bsize
        if not blocks and pos < len(raw):
            raise InputError(f"{self.path}: truncated BGZF block at byte {self.coffset + pos}")
        self.coffset += pos
        inflate = _inflate
        parts = list(self.pool.map(inflate, blocks) if self.pool and len(blocks) > 8 else map(inflate, blocks))
        return b"".join(parts)


def _bsize(raw, pos, xlen):
    x, end = pos + 12, pos + 12 + xlen
    while x + 4 <= end:
        si1, si2, slen = raw[x], raw[x + 1], struct.unpack_from("<H", raw, x + 2)[0]
        if si1 == 66 and si2 == 67 and slen == 2:
            return struct.unpack_from("<H", raw, x + 4)[0] + 1
        x += 4 + slen
    return None


def _inflate(block):
    return isal_zlib.decompress(block, wbits=-15)


@numba.njit(cache=True, inline="always")
def _u32(b, p):
    return np.int64(b[p]) | (np.int64(b[p + 1]) << 8) | (np.int64(b[p + 2]) << 16) | (np.int64(b[p + 3]) << 24)


@numba.njit(cache=True, inline="always")
def _i32(b, p):
    v = _u32(b, p)
    return v - (np.int64(1) << 32) if v >= (np.int64(1) << 31) else v


@numba.njit(cache=True, inline="always")
def _u16(b, p):
    return np.int64(b[p]) | (np.int64(b[p + 1]) << 8)


@numba.njit(cache=True)
def _cg_tag(b, p, end):
    """Offset and count of a CG:B:I tag (CIGARs of over 65535 operations), or (-1, 0)."""
    sizes = {ord("c"): 1, ord("C"): 1, ord("A"): 1, ord("s"): 2, ord("S"): 2, ord("i"): 4, ord("I"): 4, ord("f"): 4}
    while p + 3 <= end:
        t0, t1, typ = b[p], b[p + 1], b[p + 2]
        p += 3
        if typ == ord("Z") or typ == ord("H"):
            while p < end and b[p] != 0:
                p += 1
            p += 1
        elif typ == ord("B"):
            sub = b[p]
            n = _i32(b, p + 1)
            if t0 == ord("C") and t1 == ord("G") and sub == ord("I"):
                return p + 5, n
            p += 5 + n * sizes.get(sub, 1)
        else:
            p += sizes.get(typ, 1)
    return -1, 0


@numba.njit(cache=True)
def sense_is_minus(code, protocol):
    """The transcript strand of an alignment: code = 1 * reverse + 2 * (read 1 or unpaired).
    reverse (dUTP): read 1 antisense, read 2 sense; forward: the other way round;
    unstranded: the alignment strand."""
    reverse, first = (code & 1) != 0, (code & 2) != 0
    if protocol == UNSTRANDED:
        return reverse
    return reverse != (first if protocol == REVERSE else not first)


@numba.njit(cache=True, inline="always")
def _event(diff, running, carry, n_carry, g0, g1, where, row, delta):
    if where < g0:
        running[row] += delta
    elif where <= g1:
        diff[row, where - g0] += delta
    else:
        carry[n_carry, 0] = where
        carry[n_carry, 1] = row
        carry[n_carry, 2] = delta
        n_carry += 1
    return n_carry


@numba.njit(cache=True, nogil=True)
def apply_carry(carry, n_carry, diff, running, g0, g1):
    """Move carried events up to g1 into the window (or the running sums); returns
    how many stay carried."""
    keep = 0
    for k in range(n_carry):
        where, row, delta = carry[k, 0], carry[k, 1], carry[k, 2]
        if where < g0:
            running[row] += delta
        elif where <= g1:
            diff[row, where - g0] += delta
        else:
            carry[keep, 0], carry[keep, 1], carry[keep, 2] = where, row, delta
            keep += 1
    return keep


@numba.njit(cache=True, nogil=True)
def scan(buf, pos, ref, g0, g1, seq_len, diff, running, carry, n_carry, state, introns, protocol, min_mapq, skip_dup):
    """Count the records of reference `ref` starting before g1 from byte `pos` of `buf` on.

    diff (4, g1 - g0 + 1) gets +1/-1 at the ends of each interval in rows: coverage +,
    coverage -, spliced +, spliced - (the sense strand by `protocol`); events before g0 go to
    `running`, events past g1 to `carry` (rows: position, row, delta). `state` holds
    [last position seen, records counted, introns sampled]; `introns` gets the first N gaps
    (start, end, 1 * reverse + 2 * first-in-pair-or-unpaired) for the strandedness check.
    Returns (status, pos, n_carry)."""
    n = len(buf)
    while True:
        if pos + 4 > n:
            return NEED_MORE, pos, n_carry
        block = _i32(buf, pos)
        if block < 32:
            return BAD_RECORD, pos, n_carry
        if pos + 4 + block > n:
            return NEED_MORE, pos, n_carry
        refid = _i32(buf, pos + 4)
        start = _i32(buf, pos + 8)
        if refid != ref:
            return OTHER_SEQUENCE, pos, n_carry
        if start < state[0]:
            return UNSORTED, pos, n_carry
        if start >= g1:
            return WINDOW_DONE, pos, n_carry
        state[0] = start
        l_name = np.int64(buf[pos + 12])
        mapq = np.int64(buf[pos + 13])
        n_cigar = _u16(buf, pos + 16)
        flag = _u16(buf, pos + 18)
        l_seq = _i32(buf, pos + 20)
        end = pos + 4 + block
        usable = (flag & (4 | 256 | 512)) == 0 and mapq >= min_mapq and not (skip_dup and (flag & 1024) != 0)
        if usable and n_cigar > 0:
            cig = pos + 36 + l_name
            first = _u32(buf, cig)
            if n_cigar == 2 and (first & 15) == 4 and (first >> 4) == l_seq:  # real CIGAR in the CG tag
                tags = cig + 4 * n_cigar + (l_seq + 1) // 2 + l_seq
                p, count = _cg_tag(buf, tags, end)
                if p >= 0:
                    cig, n_cigar = p, count
            if n_carry + 2 * n_cigar > carry.shape[0]:
                return CARRY_FULL, pos, n_carry
            code = (1 if (flag & 16) != 0 else 0) + (2 if ((flag & 64) != 0 or (flag & 1) == 0) else 0)
            strand_row = 1 if sense_is_minus(code, protocol) else 0
            cursor = start
            for k in range(n_cigar):
                c = _u32(buf, cig + 4 * k)
                op, length = c & 15, c >> 4
                if op == 0 or op == 7 or op == 8 or op == 2 or op == 3:  # M = X: coverage; D N: spliced
                    row = strand_row + (2 if (op == 2 or op == 3) else 0)
                    s, e = max(cursor, 0), min(cursor + length, seq_len)
                    if s < e:
                        n_carry = _event(diff, running, carry, n_carry, g0, g1, s, row, 1)
                        n_carry = _event(diff, running, carry, n_carry, g0, g1, e, row, -1)
                    if op == 3 and cursor >= 0 and cursor + length <= seq_len and state[2] < introns.shape[0]:
                        k2 = state[2]
                        introns[k2, 0], introns[k2, 1], introns[k2, 2] = cursor, cursor + length, code
                        state[2] += 1
                    cursor += length
            state[1] += 1
        pos = end
