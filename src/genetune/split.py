"""Train/validation split by whole sequence (Helixer's N90 grouping, but seeded and never empty),
or by whole region where a genome has too few sequences to hold any out.

Sequences are grouped into the large ones up to N90 by chunk count and the short tail;
each group with two or more members sends ~val_fraction of them to validation. Both strands
of a sequence go to the same side, so validation measures unseen sequence. A genome of fewer
than `min_units` sequences (a few scaffolds, or one chromosome piece) is cut into regions of
consecutive chunks first, each region one unit with both of its strands: validation then holds
whole unseen regions instead of one short scaffold or nothing.
"""

import numpy as np

from . import layout
from .chunks import read_keys
from .errors import InputError
from .fileio import open_h5, require
from .subset import write_subset

MIN_UNITS = 10  # fewer sequences than this: split by region


def split_seqids(seqids, val_fraction=0.2, seed=1):
    """(train_ids, val_ids) from per-chunk unit ids; deterministic for a seed."""
    if not 0 < val_fraction < 1:
        raise InputError(f"val_fraction {val_fraction} must lie strictly between 0 and 1")
    ids, counts = np.unique(np.asarray(seqids), return_counts=True)
    if len(ids) < 2:
        raise InputError(f"cannot split {len(ids)} sequence(s) into training and validation: need at least 2")
    order = np.lexsort((ids, -counts))  # by count descending, then name: stable across runs
    ids, counts = ids[order], counts[order]
    n90 = int(np.searchsorted(np.cumsum(counts), int(0.9 * counts.sum()))) + 1
    rng = np.random.default_rng(seed)
    val = []
    for group in (ids[:n90], ids[n90:]):
        if len(group) >= 2:
            n_val = int(np.ceil(val_fraction * len(group)))
            n_val = min(n_val, len(group) - 1)
            val.extend(rng.choice(group, n_val, replace=False).tolist())
    if not val:
        val = [str(rng.choice(ids))]
    val_set = set(val)
    train = [str(i) for i in ids if i not in val_set]
    return sorted(train), sorted(str(v) for v in val_set)


def split_units(seqids, start_ends, length, min_units=MIN_UNITS):
    """Per-chunk unit ids: the seqid, or with fewer than `min_units` sequences "seqid:k" for the
    k-th region of `region_chunks` chunks (both strands of a region share its id). Returns
    (unit ids, region_chunks or 0)."""
    seqids = np.asarray(seqids).astype(str)
    names = np.unique(seqids)
    if len(names) >= min_units:
        return seqids, 0
    lo = np.minimum(start_ends[:, 0], start_ends[:, 1])
    plus_chunks = int((start_ends[:, 0] < start_ends[:, 1]).sum())
    region_chunks = max(1, plus_chunks // min_units)
    region = lo // (region_chunks * length)
    return np.array([f"{s}:{r}" for s, r in zip(seqids, region)]), region_chunks


def split_train_val(labels_h5, out_train, out_val, coverage_h5=None, val_fraction=0.2, seed=1,
                    min_units=MIN_UNITS):
    """Write the two files; returns (training units, validation units)."""
    seqids, start_ends = read_keys(labels_h5)
    with open_h5(labels_h5) as h5:
        require(h5, labels_h5, layout.X, layout.Y, layout.SAMPLE_WEIGHTS, what="a labels.h5 with pseudolabels")
        length = h5[layout.X].shape[1]
    units, region_chunks = split_units(seqids, start_ends, length, min_units)
    train_ids, val_ids = split_seqids(units, val_fraction, seed)
    if out_train == out_val:
        raise InputError(f"{out_train}: the training and validation outputs are the same file")
    attrs = {"val_fraction": val_fraction, "seed": seed, "region_chunks": region_chunks}
    for out, chosen in ((out_train, train_ids), (out_val, val_ids)):
        rows = np.flatnonzero(np.isin(units, chosen))
        write_subset(labels_h5, rows, out, coverage_h5, attrs={**attrs, "units": ",".join(chosen)})
    return train_ids, val_ids
