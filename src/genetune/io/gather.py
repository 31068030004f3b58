"""Gathering scattered jobs: the pieces' predictions (predict.py --piece) and gene models
(decode.py --piece) joined in genome order into the files one unscattered job writes. Pieces are
consecutive groups of whole sequences (chunks.pieces). No torch here: gathering runs anywhere."""

from pathlib import Path

import h5py
import numpy as np

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path, open_h5
from genetune.io.chunks import read_keys, row_index


def gather_predictions(genome_h5, piece_files, out):
    """One predictions.h5 in genome.h5's row order from the pieces' files (each holding the rows of
    its sequences): compressed chunks are copied as they are, so the result has the same arrays as
    one unscattered run; pieces must cover every chunk exactly once."""
    seqids, start_ends = read_keys(genome_h5)
    index = row_index(seqids, start_ends)
    owner = np.full(len(seqids), -1)
    sources = []
    for k, path in enumerate(piece_files):
        ids, se = read_keys(path)
        rows = []
        for s, (a, b) in zip(ids, se):
            key = (s, int(a), int(b))
            if key not in index:
                raise InputError(f"{path}: chunk {key} is not in {genome_h5}")
            if owner[index[key]] >= 0:
                raise InputError(f"{path}: chunk {key} is also in {piece_files[owner[index[key]]]}")
            owner[index[key]] = k
            rows.append(index[key])
        sources.append(rows)
    if (owner < 0).any():
        r = int(np.flatnonzero(owner < 0)[0])
        raise InputError(f"the pieces miss chunk ({seqids[r]}, {start_ends[r][0]}, {start_ends[r][1]}) of {genome_h5}")
    opened = [open_h5(p) for p in piece_files]
    try:
        first = next(h for h, rows in zip(opened, sources) if rows)
        names = [n for n in (layout.PREDICTIONS, layout.PREDICTIONS_PHASE, layout.PREDICTIONS_BOUNDARY) if n in first]
        with open_h5(genome_h5) as g, atomic_path(out) as tmp, h5py.File(tmp, "w") as o:
            for name in (layout.SEQIDS, layout.SPECIES, layout.START_ENDS):
                o.create_dataset(name, data=g[name][:])
            for name in names:
                d0 = first[name]
                dst = layout.create_chunked(o, name, len(seqids), d0.shape[1:], d0.dtype)
                for h, rows in zip(opened, sources):
                    src = h[name]
                    for i, r in enumerate(rows):
                        mask, data = src.id.read_direct_chunk((i, 0, 0))
                        dst.id.write_direct_chunk((r, 0, 0), data, mask)
            for key, value in first.attrs.items():
                if key != "piece":
                    o.attrs[key] = value
            o.attrs["pieces"] = len(piece_files)
    finally:
        for h in opened:
            h.close()
    return len(seqids)


def gather_gff3(piece_files, out):
    """One GFF3 from the pieces' files (consecutive groups of sequences, chunks.pieces): the first
    piece's header (every sequence-region), then each piece's features in piece order, which is
    what one unscattered decode writes."""
    header, bodies = None, []
    for path in piece_files:
        lines = Path(path).read_text().splitlines(keepends=True)
        head = [ln for ln in lines if ln.startswith("#")]
        body = [ln for ln in lines if not ln.startswith("#")]
        if header is None:
            header = head
        elif head != header:
            raise InputError(f"{path}: its header differs from {piece_files[0]}'s: pieces of different runs?")
        bodies.append("".join(body))
    with atomic_path(out) as tmp:
        Path(tmp).write_text("".join(header) + "".join(bodies))
