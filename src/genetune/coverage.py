"""RNA-seq BAM(s) -> per-base coverage and spliced coverage per chunk, Helixer's semantics.

Rules (HELIXER_NOTES §2, `add_ngs_coverage.py`): per alignment, M/=/X operations add 1 to
coverage over their reference interval and N/D operations add 1 to spliced coverage; soft
clips and insertions add nothing. Unmapped, secondary and QC-fail alignments are skipped;
supplementary, duplicate and any-MAPQ alignments count (filters are options). Coverage is
assigned to the transcript's (sense) strand by the library protocol:

  reverse     dUTP / Illumina stranded: read 1 (and unpaired reads) antisense, read 2 sense
              (Helixer's --second-read-is-sense-strand)
  forward     read 1 (and unpaired reads) sense, read 2 antisense (--first-read-is-sense-strand)
  unstranded  the alignment strand as it is (Helixer's --unstranded: split, not summed)

Each BAM is one int64 channel, oriented 5'->3' like data/X; padding is -1. The output is
its own file (inputs are never modified) with the chunk keys copied for pairing.
"""

import logging

import h5py
import numpy as np
import pysam

from . import layout
from .chunks import read_keys, seq_lengths
from .errors import InputError
from .fileio import atomic_path

log = logging.getLogger("genetune.coverage")

STRANDEDNESS = ("reverse", "forward", "unstranded")
COVERAGE_OPS = (0, 7, 8)  # M, =, X
SPLICED_OPS = (2, 3)  # D, N


def sense_is_minus(read, strandedness):
    """True when the read's transcript (sense) strand is the minus strand."""
    if strandedness == "unstranded":
        return read.is_reverse
    first = read.is_read1 or not read.is_paired
    flip = first if strandedness == "reverse" else not first
    return read.is_reverse != flip


def open_bam(path, seq_lengths):
    """Open a BAM, index it if needed, check its sequences against the genome."""
    try:
        bam = pysam.AlignmentFile(str(path), "rb")
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable BAM file ({exc})") from None
    if not bam.has_index():
        if bam.header.get("HD", {}).get("SO") != "coordinate":
            raise InputError(f"{path}: BAM is not coordinate-sorted (header SO is not 'coordinate'); "
                             "sort it with samtools sort")
        bam.close()
        try:
            pysam.index(str(path))
        except pysam.utils.SamtoolsError as exc:
            raise InputError(f"{path}: cannot index BAM ({exc})") from None
        bam = pysam.AlignmentFile(str(path), "rb")
    bam_lengths = dict(zip(bam.references, bam.lengths))
    missing = [s for s in seq_lengths if s not in bam_lengths]
    other = [f"{s} ({bam_lengths[s]} vs {n} bp)" for s, n in seq_lengths.items()
             if s in bam_lengths and bam_lengths[s] != n]
    if missing or other:
        raise InputError(f"{path}: BAM header does not match the genome: "
                         + "; ".join(filter(None, [missing and f"absent: {', '.join(missing[:10])}",
                                                   other and f"other length: {', '.join(other[:10])}"])))
    return bam


def count_region(bam, seqid, a, b, strandedness, min_mapq=0, skip_duplicates=False):
    """int64 arrays (4, b-a): coverage +, coverage -, spliced +, spliced - over [a, b)."""
    diff = np.zeros((4, b - a + 1), dtype=np.int64)
    n = 0
    for read in bam.fetch(seqid, a, b):
        if read.is_unmapped or read.is_secondary or read.is_qcfail:
            continue
        if read.mapping_quality < min_mapq or (skip_duplicates and read.is_duplicate):
            continue
        minus = sense_is_minus(read, strandedness)
        pos = read.reference_start
        for op, length in read.cigartuples:
            if op in COVERAGE_OPS or op in SPLICED_OPS:
                s, e = max(pos, a), min(pos + length, b)
                if s < e:
                    row = (2 if op in SPLICED_OPS else 0) + (1 if minus else 0)
                    diff[row, s - a] += 1
                    diff[row, e - a] -= 1
                pos += length
        n += read.reference_start >= a  # count each read once, in the region where it starts
    return np.cumsum(diff, axis=1)[:, :-1], n


def add_coverage(genome_h5, bams, strandedness, out, prefix=layout.DEFAULT_COVERAGE_PREFIX,
                 min_mapq=0, skip_duplicates=False, block_chunks=32):
    """coverage.h5 with evaluation/{prefix}_coverage and _spliced_coverage (N, L, n_bams)."""
    if isinstance(strandedness, str):
        strandedness = [strandedness] * len(bams)
    if len(strandedness) != len(bams):
        raise InputError(f"{len(bams)} BAM(s) but {len(strandedness)} strandedness value(s)")
    for s in strandedness:
        if s not in STRANDEDNESS:
            raise InputError(f"strandedness '{s}' is not one of {', '.join(STRANDEDNESS)}")
    seqids, start_ends = read_keys(genome_h5)
    lengths = seq_lengths(seqids, start_ends)
    handles = [open_bam(b, lengths) for b in bams]
    with h5py.File(genome_h5, "r") as g, atomic_path(out) as tmp, h5py.File(tmp, "w") as o:
        N, L = g[layout.X].shape[:2]
        for name in (layout.SEQIDS, layout.SPECIES, layout.START_ENDS):
            o.create_dataset(name, data=g[name][:])
        cov = layout.create_chunked(o, layout.coverage_name(prefix), N, (L, len(bams)), np.int64,
                                    fillvalue=-1, compression="lzf")
        spl = layout.create_chunked(o, layout.spliced_coverage_name(prefix), N, (L, len(bams)), np.int64,
                                    fillvalue=-1, compression="lzf")
        o.create_dataset(layout.bam_files_name(prefix),
                         data=np.array([str(b) for b in bams], dtype=layout.BAM_FILES_DTYPE))
        o.create_dataset(layout.strandedness_name(prefix), data=np.array([s.encode() for s in strandedness]))
        n_reads = [0] * len(bams)
        for i0 in range(0, N, block_chunks):
            rows = list(range(i0, min(N, i0 + block_chunks)))
            # group the block's rows by sequence, read each (seqid, span) once per BAM
            by_seq = {}
            for r in rows:
                a, b = sorted(map(int, start_ends[r]))
                lo, hi = by_seq.get(seqids[r], (a, b))
                by_seq[seqids[r]] = (min(lo, a), max(hi, b))
            cblock = np.full((len(rows), L, len(bams)), -1, np.int64)
            sblock = np.full((len(rows), L, len(bams)), -1, np.int64)
            for j, (bam, strd) in enumerate(zip(handles, strandedness)):
                counts = {}
                for sid, (lo, hi) in by_seq.items():
                    arr, n = count_region(bam, sid, lo, hi, strd, min_mapq, skip_duplicates)
                    counts[sid] = (lo, arr)
                    n_reads[j] += n
                for k, r in enumerate(rows):
                    lo, arr = counts[seqids[r]]
                    s, e = map(int, start_ends[r])
                    if s < e:
                        c, sp = arr[0, s - lo: e - lo], arr[2, s - lo: e - lo]
                    else:
                        c, sp = arr[1, e - lo: s - lo][::-1], arr[3, e - lo: s - lo][::-1]
                    cblock[k, : len(c), j] = c
                    sblock[k, : len(sp), j] = sp
            cov[i0: i0 + len(rows)] = cblock
            spl[i0: i0 + len(rows)] = sblock
        for j, b in enumerate(bams):
            if n_reads[j] == 0:
                log.warning("%s: no usable alignments on the genome's sequences; its coverage is all zero", b)
        o.attrs["genome_h5"] = str(genome_h5)
    for h in handles:
        h.close()
    return n_reads
