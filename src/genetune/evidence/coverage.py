"""RNA-seq BAM(s) -> per-base coverage and spliced coverage per chunk, Helixer's semantics.

Rules (`add_ngs_coverage.py`): per alignment, M/=/X operations add 1 to
coverage over their reference interval and N/D operations add 1 to spliced coverage; soft
clips and insertions add nothing. Unmapped, secondary and QC-fail alignments are skipped;
supplementary, duplicate and any-MAPQ alignments count, as in Helixer (`min_mapq` and
`skip_duplicates` are options). Secondary alignments without SEQ (where Helixer's HTSeq
crashes) are simply skipped. Parts of an alignment past the sequence end are clipped. Coverage
is assigned to the transcript's (sense) strand by the library protocol:

  reverse     dUTP / Illumina stranded: read 1 (and unpaired reads) antisense, read 2 sense
              (Helixer's --second-read-is-sense-strand)
  forward     read 1 (and unpaired reads) sense, read 2 antisense (--first-read-is-sense-strand)
  unstranded  the alignment strand as it is (Helixer's --unstranded: split, not summed)

Each BAM is one int64 channel (HDF5 chunks of one row and one channel, as Helixer writes),
oriented 5'->3' like data/X; padding is -1. The output is its own file (inputs are never
modified; a missing index is built in a temporary directory) with the chunk keys copied for
pairing. Work is split into (sequence, BAM) tasks run in threads; records are decoded by
bam.py, a window of chunks at a time, so memory does not grow with the BAM or the genome.
"""

import logging
import tempfile
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pysam

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path, open_h5
from genetune.core.progress import tracked
from genetune.io import bam, fasta, h5chunks
from genetune.io.chunks import read_keys, seq_lengths

log = logging.getLogger("genetune.coverage")

STRANDEDNESS = ("reverse", "forward", "unstranded")
PROTOCOLS = {"reverse": bam.REVERSE, "forward": bam.FORWARD, "unstranded": bam.UNSTRANDED}


def bam_references(path, seq_lengths):
    """The BAM's reference names (header order), checked against the genome's sequences."""
    try:
        bam = pysam.AlignmentFile(str(path), "rb", check_sq=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable BAM file ({exc})") from None
    with bam:
        if not bam.is_bam:
            raise InputError(f"{path}: not a BAM file (CRAM/SAM: convert with samtools view -b)")
        refs = dict(zip(bam.references, bam.lengths))
        order = bam.header.to_dict().get("HD", {}).get("SO")
    if order == "queryname":
        raise InputError(
            f"{path}: sorted by read name, not by coordinate (its header says SO:queryname); "
            "samtools sort it, then samtools index it"
        )
    for index in (Path(f"{path}.bai"), Path(path).with_suffix(".bai")):
        if index.exists() and index.stat().st_mtime < Path(path).stat().st_mtime - 1:
            raise InputError(
                f"{index}: older than {path}, so it may index another version of it; samtools index the BAM again"
            )
    extra = [s for s in refs if s not in seq_lengths]
    missing = [s for s in seq_lengths if s not in refs]
    other = [f"{s} ({refs[s]} vs {n} bp)" for s, n in seq_lengths.items() if s in refs and refs[s] != n]
    problems = [
        f"{what}: {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}"
        for what, names in (("not in the genome", extra), ("absent", missing), ("other length", other))
        if names
    ]
    if problems:
        raise InputError(f"{path}: BAM header does not match the genome: " + "; ".join(problems))
    return list(refs)


def first_offsets(path, n_ref, tmpdir):
    """Virtual offset of each reference's first record, building an index in tmpdir if needed."""
    try:
        return bam.first_record_offsets(path, n_ref)
    except InputError as exc:
        if "no index" not in str(exc):
            raise
    index = Path(tmpdir) / f"{Path(path).name}.{abs(hash(str(path)))}.bai"
    log.info("%s has no index: indexing it into a temporary file", path)
    try:
        pysam.index(str(path), str(index))
    except pysam.utils.SamtoolsError as exc:
        raise InputError(f"{path}: cannot index the BAM; is it coordinate-sorted (samtools sort)? ({exc})") from None
    return bam.first_record_offsets_from(index, path, n_ref)


def windows(intervals, span):
    """Group sorted, non-overlapping [lo, hi) intervals into windows of at most `span` bases."""
    out = []
    for lo, hi in intervals:
        if out and hi - out[-1][0] <= span:
            out[-1][1] = hi
            out[-1][2].append((lo, hi))
        else:
            out.append([lo, hi, [(lo, hi)]])
    return out


@dataclass
class _Task:
    seqid: str
    seq_len: int
    bam_index: int
    windows: list


class _Writer:
    """Rows of one channel: padded with -1, compressed in the calling thread, stored under a lock."""

    def __init__(self, cov, spl, L):
        self.cov, self.spl, self.L, self.lock = cov, spl, L, threading.Lock()
        self.encode = h5chunks.channel_encoder(cov)

    def put(self, row, channel, cov, spl):
        chunks = []
        for values in (cov, spl):
            full = np.full(self.L, -1, np.int64)
            full[: len(values)] = values
            chunks.append(self.encode(full))
        with self.lock:
            for dset, chunk in zip((self.cov, self.spl), chunks):
                dset.id.write_direct_chunk((row, 0, channel), chunk)


def _count(task, path, ref, offset, protocol, rows, writer, min_mapq, skip_duplicates, introns):
    """Stream one sequence of one BAM window by window; returns the alignments counted and
    the number of introns sampled into `introns`."""
    span = max(hi - lo for lo, hi, _ in task.windows) + 1
    diff = np.zeros((4, span), np.int64)
    running = np.zeros(4, np.int64)
    carry = np.zeros((1024, 3), np.int64)
    state = np.array([-(1 << 62), 0, 0], np.int64)
    n_carry, finished = 0, offset is None
    reader = bam.BgzfReader(path)
    try:
        if not finished:
            skip = reader.seek(offset)
            buf, pos = np.frombuffer(reader.read() or b"", np.uint8), skip
        for g0, g1, intervals in task.windows:
            d = diff[:, : g1 - g0 + 1]
            d[:] = 0
            n_carry = bam.apply_carry(carry, n_carry, d, running, g0, g1)
            while not finished:
                status, pos, n_carry = bam.scan(
                    buf,
                    pos,
                    ref,
                    g0,
                    g1,
                    task.seq_len,
                    d,
                    running,
                    carry,
                    n_carry,
                    state,
                    introns,
                    protocol,
                    min_mapq,
                    skip_duplicates,
                )
                if status == bam.NEED_MORE:
                    more = reader.read()
                    if more is None:
                        if pos < len(buf):
                            raise InputError(f"{path}: truncated BAM (a record is cut off at the end of the file)")
                        finished = True
                    else:
                        buf, pos = np.concatenate([buf[pos:], np.frombuffer(more, np.uint8)]), 0
                elif status == bam.CARRY_FULL:
                    carry = np.concatenate([carry, np.zeros_like(carry)])
                elif status == bam.WINDOW_DONE:
                    break
                elif status == bam.OTHER_SEQUENCE:
                    finished = True
                elif status == bam.UNSORTED:
                    raise InputError(
                        f"{path}: not coordinate-sorted (positions go backwards on '{task.seqid}' "
                        f"after {state[0] + 1}); sort it with samtools sort"
                    )
                else:
                    raise InputError(f"{path}: corrupt BAM record on '{task.seqid}' near position {state[0] + 1}")
            counts = running[:, None] + np.cumsum(d[:, :-1], axis=1)
            running += d.sum(axis=1)
            for lo, hi in intervals:
                a, b = lo - g0, hi - g0
                for strand, row in rows[(lo, hi)]:
                    if strand == "+":
                        writer.put(row, task.bam_index, counts[0, a:b], counts[2, a:b])
                    else:
                        writer.put(row, task.bam_index, counts[1, a:b][::-1], counts[3, a:b][::-1])
    finally:
        reader.close()
    return int(state[1]), int(state[2])


def add_coverage(
    genome_h5,
    bams,
    strandedness,
    out,
    prefix=layout.DEFAULT_COVERAGE_PREFIX,
    min_mapq=0,
    skip_duplicates=False,
    threads=None,
    block_chunks=16,
    report=None,
):
    """coverage.h5 with evaluation/{prefix}_coverage and _spliced_coverage (N, L, n_bams);
    returns the number of alignments counted per BAM. Each BAM's protocol is checked against
    its intron motifs (log, and the TSV `report` if given)."""
    if isinstance(strandedness, str):
        strandedness = [strandedness] * len(bams)
    if len(strandedness) != len(bams):
        raise InputError(f"{len(bams)} BAM(s) but {len(strandedness)} strandedness value(s)")
    for s in strandedness:
        if s not in STRANDEDNESS:
            raise InputError(f"strandedness '{s}' is not one of {', '.join(STRANDEDNESS)}")
    seqids, start_ends = read_keys(genome_h5)
    lengths = seq_lengths(seqids, start_ends)
    refs = [{name: k for k, name in enumerate(bam_references(b, lengths))} for b in bams]
    rows = defaultdict(lambda: defaultdict(list))  # seqid -> (lo, hi) -> [(strand, row)]
    for r, (sid, (a, b)) in enumerate(zip(seqids, start_ends)):
        a, b = int(a), int(b)
        rows[sid][(min(a, b), max(a, b))].append(("+" if a < b else "-", r))
    threads = threads or h5chunks.default_threads()
    with (
        tempfile.TemporaryDirectory(prefix="genetune-bai-") as tmpdir,
        open_h5(genome_h5) as g,
        atomic_path(out) as tmp,
        h5py.File(tmp, "w") as o,
    ):
        offsets = [first_offsets(b, len(r), tmpdir) for b, r in zip(bams, refs)]
        N, L = g[layout.X].shape[:2]
        for name in (layout.SEQIDS, layout.SPECIES, layout.START_ENDS):
            o.create_dataset(name, data=g[name][:])
        cov, spl = (
            o.create_dataset(
                name,
                shape=(N, L, len(bams)),
                dtype=np.int64,
                chunks=(1, L, 1),
                maxshape=(None, L, None),
                fillvalue=-1,
                compression="gzip",
                shuffle=True,
            )
            for name in (layout.coverage_name(prefix), layout.spliced_coverage_name(prefix))
        )
        o.create_dataset(
            layout.bam_files_name(prefix), data=np.array([str(b) for b in bams], dtype=layout.BAM_FILES_DTYPE)
        )
        o.create_dataset(layout.strandedness_name(prefix), data=np.array([s.encode() for s in strandedness]))
        writer = _Writer(cov, spl, L)
        tasks = []
        for sid in sorted(rows, key=lambda s: -lengths[s]):  # longest first: better balance
            intervals = sorted(rows[sid])
            if any(b[0] < a[1] for a, b in zip(intervals, intervals[1:])):
                raise InputError(f"{genome_h5}: chunks of '{sid}' overlap; cannot add coverage")
            for j in range(len(bams)):
                tasks.append(_Task(sid, lengths[sid], j, windows(intervals, block_chunks * L)))
        n_reads = [0] * len(bams)
        sampled = defaultdict(list)  # BAM -> [(seqid, introns)]

        def run(task):
            j = task.bam_index
            ref = refs[j][task.seqid]
            introns = np.zeros((INTRONS_PER_TASK, 3), np.int64)
            n, k = _count(
                task,
                bams[j],
                ref,
                offsets[j][ref],
                PROTOCOLS[strandedness[j]],
                rows[task.seqid],
                writer,
                min_mapq,
                skip_duplicates,
                introns,
            )
            return j, task.seqid, n, introns[:k]

        with ThreadPoolExecutor(threads) as pool:
            for j, sid, n, introns in tracked(pool.map(run, tasks), total=len(tasks), desc="coverage", unit="sequence"):
                n_reads[j] += n
                sampled[j].append((sid, introns))
        for j, b in enumerate(bams):
            if n_reads[j] == 0:
                log.warning("%s: no usable alignments on the genome's sequences; its coverage is all zero", b)
        o.attrs["genome_h5"] = str(genome_h5)
        with h5chunks.ChunkIO(threads) as chunk_io:
            checks = [
                check_strandedness(b, strandedness[j], sampled[j], g, seqids, start_ends, chunk_io)
                for j, b in enumerate(bams)
            ]
            for j, row in enumerate(checks):
                row["alignments"] = n_reads[j]
                if n_reads[j] == 0:
                    row["verdict"] = "no usable alignments: coverage all zero (a BAM of another assembly?)"
    if report:
        write_strandedness_report(checks, report)
    return n_reads


INTRONS_PER_TASK = 5000  # spliced gaps sampled per (sequence, BAM) for the strandedness check
MOTIFS = {("GT", "AG"): False, ("GC", "AG"): False, ("CT", "AC"): True, ("CT", "GC"): True}  # -> on minus
MIN_INFORMATIVE = 50
REPORT_COLUMNS = (
    "bam",
    "declared",
    "alignments",
    "introns_sampled",
    "introns_with_motif",
    "agree_declared",
    "agree_forward",
    "agree_reverse",
    "looks",
    "verdict",
)


def check_strandedness(path, declared, sampled, genome, seqids, start_ends, chunk_io):
    """Compare the strand each protocol gives a spliced alignment with its intron's motif
    (GT-AG / GC-AG read on the plus strand, CT-AC / CT-GC on the minus strand), as RSeQC's
    infer_experiment does with gene models. Warns when the declared protocol looks wrong."""
    wanted = {(sid, int(p)) for sid, introns in sampled for s, e, _ in introns for p in (s, e - 2)}
    bases = fasta.plus_windows(genome, seqids, start_ends, wanted, chunk_io, width=2)
    minus, codes = [], []
    for sid, introns in sampled:
        for s, e, code in introns:
            strand = MOTIFS.get((bases.get((sid, int(s)), ""), bases.get((sid, int(e) - 2), "")))
            if strand is not None:
                minus.append(strand)
                codes.append(code)
    minus, codes = np.array(minus, bool), np.array(codes, np.int64)

    def agree(protocol):
        if not len(codes):
            return float("nan")
        return float(np.mean([bam.sense_is_minus(c, PROTOCOLS[protocol]) for c in codes] == minus))

    fwd, rev = agree("forward"), agree("reverse")
    row = {
        "bam": str(path),
        "declared": declared,
        "introns_sampled": sum(len(i) for _, i in sampled),
        "introns_with_motif": len(codes),
        "agree_declared": agree(declared),
        "agree_forward": fwd,
        "agree_reverse": rev,
    }
    if len(codes) < MIN_INFORMATIVE:
        row["looks"], row["verdict"] = "unknown", f"too few spliced alignments with a canonical motif ({len(codes)})"
        log.warning("%s: strandedness not checked: %s", path, row["verdict"])
        return row
    row["looks"] = "reverse" if rev >= 0.8 else "forward" if fwd >= 0.8 else "unstranded"
    if row["looks"] == declared:
        row["verdict"] = "ok"
        log.info(
            "%s: spliced alignments agree with the declared '%s' protocol (%.1f%% of %d introns)",
            path,
            declared,
            100 * row["agree_declared"],
            len(codes),
        )
    else:
        row["verdict"] = f"declared '{declared}' but the reads look '{row['looks']}'"
        log.warning(
            "!!! %s: %s: %.1f%% of %d introns agree with forward, %.1f%% with reverse. Check the "
            "library protocol (strandedness) in the config: wrong strands put the coverage on the "
            "wrong genes.",
            path,
            row["verdict"],
            100 * fwd,
            len(codes),
            100 * rev,
        )
    return row


def write_strandedness_report(rows, path):
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(REPORT_COLUMNS) + "\n")
        for row in rows:
            fh.write(
                "\t".join(f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c]) for c in REPORT_COLUMNS) + "\n"
            )
