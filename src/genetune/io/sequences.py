"""Per-transcript values read back from a chunked file: the CDS or the spliced exons of each gene
model from genome.h5 (5'->3' on its own strand, for translation, paralog checks and junction fixes),
or any per-base dataset of the same chunks (RNA-seq coverage) over its exons. One window per gene."""

import numpy as np

from genetune.core import layout
from genetune.core.fileio import open_h5
from genetune.io.chunks import StrandReader, read_keys, strand_runs
from genetune.io.fasta import codes_from_onehot


def spliced_windows(h5_path, dataset, transcripts, part="cds"):
    """Yield (index, [per-base rows of each segment, 5'->3']) of each transcript's CDS (part "cds") or
    exons ("exons") from `dataset` (an (N, L, ...) dataset of the file's chunks), read per strand."""
    by_strand = {}
    for k, t in enumerate(transcripts):
        by_strand.setdefault((t.seqid, t.strand), []).append(k)
    with open_h5(h5_path) as h5:
        for run in strand_runs(*read_keys(h5_path)):
            reader = StrandReader(run, h5[dataset])
            for k in by_strand.get((run.seqid, run.strand), ()):
                t = transcripts[k]
                parts = t.cds if part == "cds" else t.exons
                segs = parts if t.strand == "+" else [(run.seq_len - e, run.seq_len - s) for s, e in reversed(parts)]
                a, b = segs[0][0], segs[-1][1]
                window = reader.read(a, b)[0]
                yield k, [window[s - a : e - a] for s, e in segs]


def cds_sequences(h5_path, transcripts, part="cds"):
    """{index: CDS bases 5'->3' as bytes of one-hot codes} of each transcript; part "exons": the
    spliced transcript, UTRs included."""
    return {
        k: b"".join(codes_from_onehot(seg.astype(np.float32)).astype(np.uint8).tobytes() for seg in segs)
        for k, segs in spliced_windows(h5_path, layout.X, transcripts, part)
    }
