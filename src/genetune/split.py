"""Whole-sequence train/validation split (Helixer's N90 grouping, but seeded and never empty).

Sequences are grouped into the large ones up to N90 by chunk count and the short tail;
each group with two or more sequences sends ~val_fraction of its sequences to validation.
Both strands of a sequence go to the same side, so validation measures unseen sequence.
"""

import numpy as np

from .chunks import read_keys
from .errors import InputError
from .subset import write_subset


def split_seqids(seqids, val_fraction=0.2, seed=1):
    """(train_ids, val_ids) from per-chunk seqids; deterministic for a seed."""
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


def split_train_val(labels_h5, out_train, out_val, coverage_h5=None, val_fraction=0.2, seed=1):
    seqids, _ = read_keys(labels_h5)
    train_ids, val_ids = split_seqids(seqids, val_fraction, seed)
    attrs = {"val_fraction": val_fraction, "seed": seed}
    for out, chosen in ((out_train, train_ids), (out_val, val_ids)):
        rows = np.flatnonzero(np.isin(seqids, chosen))
        write_subset(labels_h5, rows, out, coverage_h5, attrs={**attrs, "seqids": ",".join(chosen)})
    return train_ids, val_ids
