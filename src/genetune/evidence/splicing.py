"""Read-supported introns (junctions) from RNA-seq BAMs and AUGUSTUS/BRAKER hints files.

A junction is an intron the reads show as a whole: (seqid, strand, start, end, reads), 0-based
half-open genomic intron coordinates. The decoder takes each as evidence for the whole intron,
whatever the network says inside it; the profile learns intron lengths from them; the final
check scores annotations by how well their introns agree with them on held-out sequences.

Sources:
  - BAM (pysam): every alignment's N gaps, on the transcript strand its library protocol gives
    (bam.sense_is_minus: the one place for strandedness semantics);
  - hints GFF (AUGUSTUS/BRAKER, e.g. augustus-doc's tutorial-cgp hints): `intron` lines (1-based,
    inclusive) with `mult=N` as the read count; strand '.' is read from the splice motif (GT-AG /
    GC-AG on the plus strand, CT-AC / CT-GC on the minus strand), junctions without one are dropped.
Junctions of several sources are summed per intron.
"""

import logging
from collections import Counter

import numpy as np

from genetune.core import metrics
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path, open_h5
from genetune.core.intervals import merge
from genetune.evidence.coverage import MOTIFS, PROTOCOLS
from genetune.io import bam
from genetune.io.chunks import inside, read_keys, seq_lengths
from genetune.io.fasta import plus_windows
from genetune.io.gff import gff_lines
from genetune.io.h5chunks import ChunkIO

log = logging.getLogger("genetune.evidence")
COLUMNS = ("seqid", "strand", "start", "end", "reads")
MIN_MAPQ = 1
MIN_READS = 2  # a junction with fewer reads is not evidence (the split, the final check, the decoder fit)


def junctions_from_bam(path, strandedness, lengths):
    """Counter {(seqid, strand, start, end): reads} of a coordinate-sorted BAM's N gaps."""
    import pysam

    protocol = PROTOCOLS[strandedness]
    counts = Counter()
    try:
        fh = pysam.AlignmentFile(str(path), "rb")
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read as a BAM ({exc})") from None
    with fh:
        for read in fh.fetch(until_eof=True):
            if read.is_unmapped or read.is_secondary or read.is_supplementary or read.mapping_quality < MIN_MAPQ:
                continue
            if read.reference_name not in lengths or "N" not in (read.cigarstring or ""):
                continue
            code = 1 * read.is_reverse + 2 * (read.is_read1 or not read.is_paired)
            strand = "-" if bam.sense_is_minus(code, protocol) else "+"
            pos = read.reference_start
            for op, n in read.cigartuples:
                if op == 3:  # N: an intron
                    counts[(read.reference_name, strand, pos, pos + n)] += 1
                if op in (0, 2, 3, 7, 8):  # M, D, N, =, X consume the reference
                    pos += n
    return counts


def intron_keys(t):
    """The (seqid, strand, start, end) junction keys of a transcript's introns (between its exons)."""
    return [(t.seqid, t.strand, t.exons[k][1], t.exons[k + 1][0]) for k in range(len(t.exons) - 1)]


def validation_junctions(junctions, intervals, min_reads=MIN_READS):
    """{(seqid, strand, start, end)} of the junctions with >= min_reads reads inside the intervals
    ({seqid: [(lo, hi)]})."""
    return {tuple(j[:4]) for j in junctions if j[4] >= min_reads and inside(intervals, j[0], j[2], j[3])}


def intron_agreement(transcripts, junctions, intervals, min_reads=MIN_READS):
    """(precision, recall, f1) of the transcripts' introns against junctions with >= min_reads reads,
    both counted inside the intervals only."""
    pred = {i for t in transcripts for i in intron_keys(t) if inside(intervals, i[0], i[2], i[3])}
    truth = validation_junctions(junctions, intervals, min_reads)
    hit = len(pred & truth)
    return metrics.prf(hit, len(pred), hit, len(truth))


def junctions_per_chunk(seqids, start_ends, junctions, min_reads=MIN_READS):
    """(N,) the junctions (>= min_reads reads) whose intron starts inside each chunk (either strand)."""
    starts = {}
    for j in junctions:
        if j[4] >= min_reads:
            starts.setdefault(j[0], []).append(j[2])
    starts = {s: np.sort(v) for s, v in starts.items()}
    out = np.zeros(len(seqids), np.int64)
    for r, (s, (a, b)) in enumerate(zip(seqids, start_ends)):
        found = starts.get(str(s))
        if found is not None:
            out[r] = np.searchsorted(found, max(a, b)) - np.searchsorted(found, min(a, b))
    return out


def evidence_intervals(h5_path, junctions, min_reads=MIN_READS):
    """{seqid: [(lo, hi)]} of the chunks of a file that hold a read junction (>= min_reads): where the
    reads could show an annotation's introns. Introns predicted where no read reached are no errors."""
    seqids, start_ends = read_keys(h5_path)
    spans = {}
    for s, (a, b), n in zip(seqids, start_ends, junctions_per_chunk(seqids, start_ends, junctions, min_reads)):
        if n:
            spans.setdefault(str(s), []).append((int(min(a, b)), int(max(a, b))))
    return {s: merge(v) for s, v in spans.items()}


def evidence_share(h5_path, junctions):
    """Share of a file's chunk bases in chunks that hold a read junction: how much of an annotation
    of it is decoded with reads."""
    seqids, start_ends = read_keys(h5_path)
    lengths = np.abs(start_ends[:, 1] - start_ends[:, 0])
    with_reads = junctions_per_chunk(seqids, start_ends, junctions) > 0
    return float(lengths[with_reads].sum() / lengths.sum()) if lengths.sum() else 0.0


def _mult(attributes):
    for field in attributes.split(";"):
        key, _, value = field.strip().partition("=")
        if key == "mult":
            try:
                return max(1, int(float(value)))
            except ValueError:
                return 1
    return 1


def junctions_from_hints(path, lengths, genome_h5):
    """Counter {(seqid, strand, start, end): reads} of a hints GFF's intron lines."""
    raw = Counter()
    outside = 0
    try:
        for k, line in gff_lines(path):
            if not line.strip():
                continue
            cols = line.split("\t")
            if len(cols) != 9:
                raise InputError(f"{path} line {k}: a hints line has 9 tab-separated columns, not {len(cols)}")
            if cols[2] != "intron":  # exonpart, intronpart, ...: no exact intron
                continue
            try:
                start, end = int(cols[3]) - 1, int(cols[4])
            except ValueError:
                raise InputError(f"{path} line {k}: start and end must be whole numbers") from None
            if cols[0] not in lengths:
                raise InputError(f"{path} line {k}: sequence {cols[0]!r} is not in the genome")
            if start < 0 or start >= end:
                raise InputError(f"{path} line {k}: intron {cols[3]}-{cols[4]} is empty or starts before 1")
            if end > lengths[cols[0]]:  # hints made on a longer assembly of the sequence
                outside += 1
                continue
            if cols[6] not in ("+", "-", "."):
                raise InputError(f"{path} line {k}: strand {cols[6]!r} is none of +, -, .")
            raw[(cols[0], cols[6], start, end)] += _mult(cols[8])
    except OSError as exc:
        raise InputError(f"{path}: cannot read the hints file ({exc.strerror})") from None
    if outside:
        log.info("%s: %d intron hints reach past the end of their sequence and were left out", path, outside)
    unknown = {(s, p) for (s, strand, a, e) in raw if strand == "." for p in (a, e - 2)}  # motif starts
    motifs = {}
    if unknown:
        seqids, start_ends = read_keys(genome_h5)
        with open_h5(genome_h5) as g, ChunkIO(threads=1) as io:
            motifs = plus_windows(g, seqids, start_ends, unknown, io, width=2)
    out = Counter()
    dropped = 0
    for (seqid, strand, start, end), n in raw.items():
        if strand == ".":
            minus = MOTIFS.get((motifs.get((seqid, start), ""), motifs.get((seqid, end - 2), "")))
            if minus is None:
                dropped += 1
                continue
            strand = "-" if minus else "+"
        out[(seqid, strand, start, end)] += n
    if dropped:
        log.info(
            "%s: %d unstranded intron hints without a GT-AG/GC-AG motif on either strand were left out", path, dropped
        )
    return out


def collect(genome_h5, bams=(), strandedness=(), hints=()):
    """Sorted junction rows (seqid, strand, start, end, reads) of all BAMs and hints files."""
    lengths = seq_lengths(*read_keys(genome_h5))
    total = Counter()
    for path, protocol in zip(bams, strandedness):
        counts = junctions_from_bam(path, protocol, lengths)
        log.info("%s: %d junctions from %d spliced reads", path, len(counts), sum(counts.values()))
        total.update(counts)
    for path in hints:
        counts = junctions_from_hints(path, lengths, genome_h5)
        log.info("%s: %d junctions (%d reads)", path, len(counts), sum(counts.values()))
        total.update(counts)
    order = {s: k for k, s in enumerate(lengths)}
    return sorted(
        ((s, st, a, e, n) for (s, st, a, e), n in total.items()), key=lambda r: (order[r[0]], r[2], r[3], r[1])
    )


def write_tsv(rows, path):
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(COLUMNS) + "\n")
        for row in rows:
            fh.write("\t".join(map(str, row)) + "\n")


def read_tsv(path):
    """Junction rows of a junctions.tsv (write_tsv)."""
    rows = []
    try:
        fh = open(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the junctions ({exc.strerror})") from None
    with fh:
        header = fh.readline().rstrip("\n").split("\t")
        if tuple(header) != COLUMNS:
            raise InputError(f"{path}: not a junctions table (columns {', '.join(COLUMNS)})")
        for k, line in enumerate(fh, 2):
            cols = line.rstrip("\n").split("\t")
            try:
                rows.append((cols[0], cols[1], int(cols[2]), int(cols[3]), int(cols[4])))
            except (IndexError, ValueError):
                raise InputError(f"{path} line {k}: needs seqid, strand and three whole numbers") from None
    return rows
