"""Write a subset of a Helixer-format file's chunks, optionally merging coverage by key.

Every dataset whose first axis is N is copied for the chosen rows; other ("short") arrays
are copied whole, so metadata survives (Helixer's filter dropped it).
"""

import h5py
import numpy as np

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path, open_h5
from genetune.io.chunks import read_keys, row_index


def _walk(group, prefix=""):
    for name, obj in group.items():
        path = f"{prefix}{name}"
        if isinstance(obj, h5py.Dataset):
            yield path, obj
        else:
            yield from _walk(obj, path + "/")


def _copy(src, dst, rows, n, block):
    for name, d in _walk(src):
        if d.shape and d.shape[0] == n:
            out = layout.create_chunked(dst, name, len(rows), d.shape[1:], d.dtype, fillvalue=d.fillvalue)
            for i in range(0, len(rows), block):
                out[i : i + block] = d[np.sort(rows[i : i + block])]
        else:
            dst.create_dataset(name, data=d[()])


def write_subset(src_path, rows, out_path, coverage_path=None, attrs=None, block=64):
    """Copy `rows` (sorted row indices) of src_path, plus matching coverage rows, to out_path."""
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    with open_h5(src_path) as src, atomic_path(out_path) as tmp, h5py.File(tmp, "w") as dst:
        n = len(src[layout.X])
        _copy(src, dst, rows, n, block)
        if coverage_path:
            ids, se = read_keys(src_path)
            cids, cse = read_keys(coverage_path)
            index = row_index(cids, cse)
            try:
                crows = np.array([index[(ids[r], int(se[r, 0]), int(se[r, 1]))] for r in rows], dtype=np.int64)
            except KeyError as exc:
                raise InputError(f"{coverage_path}: has no chunk {exc.args[0]} of {src_path}") from None
            with open_h5(coverage_path) as cov:
                cn = len(cov[layout.SEQIDS])
                for name, d in _walk(cov["evaluation"], "evaluation/"):
                    if d.shape and d.shape[0] == cn:
                        out = layout.create_chunked(
                            dst, name, len(rows), d.shape[1:], d.dtype, fillvalue=d.fillvalue, compression="lzf"
                        )
                        for i in range(0, len(rows), block):
                            out[i : i + block] = _take(d, crows[i : i + block])
                    else:
                        dst.create_dataset(name, data=d[()])
        for k, v in (attrs or {}).items():
            dst.attrs[k] = v
    return len(rows)


def _take(d, rows):
    """d[rows] for any row order (h5py fancy indexing wants increasing indices)."""
    if np.all(np.diff(rows) > 0):
        return d[rows]
    return np.stack([d[r] for r in rows])


def concatenate(paths, out_path, block=64):
    """One file with the chunks of several (e.g. several species' training files), in order."""
    with atomic_path(out_path) as tmp, h5py.File(tmp, "w") as dst:
        srcs = [open_h5(p) for p in paths]
        try:
            names = [name for name, d in _walk(srcs[0]) if d.shape and d.shape[0] == len(srcs[0][layout.X])]
            total = sum(len(s[layout.X]) for s in srcs)
            for name in names:
                d0 = srcs[0][name]
                out = layout.create_chunked(dst, name, total, d0.shape[1:], d0.dtype, fillvalue=d0.fillvalue)
                pos = 0
                for s, path in zip(srcs, paths):
                    if name not in s:
                        raise InputError(f"{path}: has no {name}, unlike {paths[0]}")
                    d = s[name]
                    for i in range(0, len(d), block):
                        part = d[i : i + block]
                        out[pos : pos + len(part)] = part
                        pos += len(part)
        finally:
            for s in srcs:
                s.close()
    return total


def mask_genes(path, genes, margin, lengths):
    """sample_weights 0 over each gene (+ margin) on its strand, in the chunks of file `path`; returns
    the bases that had weight before."""
    return set_weights(path, genes, margin, lengths, 0)


def set_weights(path, regions, margin, lengths, value):
    """sample_weights `value` over each region (dicts with seqid, strand, start, end; + margin) on its
    strand, in the chunks of file `path`. A value above 0 only replaces weights above 0: a masked base
    stays masked. Returns the bases that had weight before and were changed."""
    seqids, start_ends = read_keys(path)
    by_seq = {}
    for r, (s, (a, b)) in enumerate(zip(seqids, start_ends)):
        by_seq.setdefault((s, "+" if a < b else "-"), []).append((r, int(a), int(b)))
    changed = 0
    with h5py.File(path, "r+") as h5:
        sw = h5[layout.SAMPLE_WEIGHTS]
        for g in regions:
            lo, hi = max(0, g["start"] - margin), min(lengths[g["seqid"]], g["end"] + margin)
            for r, a, b in by_seq.get((g["seqid"], g["strand"]), ()):
                c_lo, c_hi = min(a, b), max(a, b)
                s, e = max(lo, c_lo), min(hi, c_hi)
                if s >= e:
                    continue
                i0, i1 = (s - a, e - a) if a < b else (a - e, a - s)
                row = sw[r]
                part = row[i0:i1]
                changed += int(((part > 0) & (part != value)).sum())
                row[i0:i1] = np.where(part > 0, value, 0)
                sw[r] = row
    return changed
