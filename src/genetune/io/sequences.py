"""Transcript sequences read back from genome.h5: the CDS or the spliced exons of each gene model,
5'->3' on its own strand, one window per gene (for translation, paralog checks and junction fixes)."""

import numpy as np

from genetune.core import layout
from genetune.core.fileio import open_h5
from genetune.io.chunks import StrandReader, read_keys, strand_runs
from genetune.io.fasta import codes_from_onehot


def cds_sequences(h5_path, transcripts, part="cds"):
    """{index: CDS bases 5'->3' as bytes of one-hot codes} of each transcript, read per strand from the
    file's chunks (a window per gene); part "exons": the spliced transcript, UTRs included."""
    by_strand = {}
    for k, t in enumerate(transcripts):
        by_strand.setdefault((t.seqid, t.strand), []).append(k)
    out = {}
    with open_h5(h5_path) as h5:
        for run in strand_runs(*read_keys(h5_path)):
            reader = StrandReader(run, h5[layout.X])
            for k in by_strand.get((run.seqid, run.strand), ()):
                t = transcripts[k]
                parts = t.cds if part == "cds" else t.exons
                segs = parts if t.strand == "+" else [(run.seq_len - e, run.seq_len - s) for s, e in reversed(parts)]
                a, b = segs[0][0], segs[-1][1]
                codes = codes_from_onehot(reader.read(a, b)[0].astype(np.float32))
                out[k] = b"".join(codes[s - a : e - a].astype(np.uint8).tobytes() for s, e in segs)
    return out
