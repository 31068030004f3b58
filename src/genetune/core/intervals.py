"""Half-open [start, end) intervals: runs of a mask, overlapping intervals merged, overlap tests."""

import numpy as np


def runs(mask):
    """[start, end) runs of True in a boolean array."""
    d = np.diff(np.concatenate([[0], np.asarray(mask).astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def merge(intervals):
    """Sorted (start, end) intervals with overlapping and touching ones joined."""
    out = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def any_overlap(a, b):
    """Whether some interval of `a` shares a base with some interval of `b`."""
    return any(s1 < e2 and s2 < e1 for s1, e1 in a for s2, e2 in b)
