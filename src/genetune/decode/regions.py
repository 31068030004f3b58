"""Where on a strand the decoder runs, found by streaming P(intergenic) in blocks.

The exact Viterbi over a whole chromosome strand would hold ~200 bytes per base; instead a
first streamed pass picks pieces, and the decoder then reads and decodes one piece at a time:
  - `quiet_pieces` (genetune): the strand without the inner parts of long runs that are
    confidently intergenic and have no RNA-seq evidence (each piece keeps half the minimum run
    length of such a run at its edge); gene models never cross such a run anyway, so decoding
    the pieces separately gives the genes that decoding the strand at once gives.
  - `helixerpost_regions` (HelixerPost's pass 1, `analysis/window.rs`): only the stretches whose
    windowed genic probability rises above an edge threshold and peaks above a peak threshold;
    everything else is intergenic without decoding.

`read(a, b)` returns (P(intergenic), depth or None) for strand positions [a, b).
"""

import numpy as np

BLOCK = 1 << 20  # bases per streamed block

_SCALE = np.float32(1_000_000)  # HelixerPost's integer scale for window sums


def quiet_pieces(read, n, min_run, min_prob, min_depth, block=None):
    """[a, b) pieces of [0, n) to decode. Runs of >= min_run bases with P(intergenic) >= min_prob
    and depth < min_depth are left out except for min_run // 2 bases at each side that borders
    a piece, so pieces follow the gene-dense stretches and a long quiet run costs nothing."""
    block = block or BLOCK
    half = min_run // 2
    skipped, run_start, prev = [], None, False
    for a in range(0, n, block):
        b = min(n, a + block)
        p_ig, depth = read(a, b)
        quiet = p_ig >= min_prob
        if depth is not None:
            quiet &= depth < min_depth
        flips = np.flatnonzero(np.diff(np.concatenate([[prev], quiet]).astype(np.int8)))
        for i in flips:
            if quiet[i]:
                run_start = a + int(i)
            elif a + int(i) - run_start >= min_run:
                skipped.append((run_start + (half if run_start > 0 else 0), a + int(i) - half))
        prev = bool(quiet[-1]) if len(quiet) else prev
    if prev and n - run_start >= min_run:
        skipped.append((run_start + half if run_start > 0 else 0, n))
    pieces, at = [], 0
    for s, e in skipped:
        if s > at:
            pieces.append((at, s))
        at = e
    if at < n:
        pieces.append((at, n))
    return pieces


def genic_units(p_ig):
    """HelixerPost's per-base genic score: u64((1 - P(IG)) * 1e6) in float32 arithmetic."""
    genic = np.float32(1) - np.asarray(p_ig, dtype=np.float32)
    return np.maximum(genic * _SCALE, 0).astype(np.int64)


def helixerpost_regions(read, n, window=100, edge=0.1, peak=0.8, block=None):
    """HelixerPost's candidate regions for one strand, merged where they overlap.

    A region starts where the sum over a window of `window` bases reaches edge * window, runs
    while full windows stay there, and ends with the last such window (less its last base when
    a full window fell below the edge; at the sequence end it runs to the end); it is kept if
    its highest window sum is above peak * window. Sequences shorter than a window get none.
    HelixerPost decodes overlapping regions separately (and can emit overlapping genes); here
    they are merged into one piece.
    """
    block = block or BLOCK
    w = np.float32(window)
    edge_units = int(np.float32(edge) * _SCALE * w)
    peak_units = int(np.float32(peak) * _SCALE * w)
    last = n - window  # last position of a full window
    regions, start, best = [], None, 0
    for a in range(0, last + 1, block):
        b = min(last + 1, a + block)  # window positions [a, b) need bases [a, b + window - 1)
        p_ig, _ = read(a, b + window - 1)
        sums = np.concatenate([[0], np.cumsum(genic_units(p_ig))])
        totals = sums[window:] - sums[:-window]
        above = totals >= edge_units
        flips = np.flatnonzero(np.diff(np.concatenate([[start is not None], above]).astype(np.int8)))
        pos = 0
        for i in [*flips.tolist(), len(above)]:
            if start is not None and i > pos:
                best = max(best, int(totals[pos:i].max()))
            if i == len(above):
                break
            if above[i]:
                start, best = a + i, 0
            else:
                if best > peak_units:
                    regions.append((start, a + i + window - 1))
                start = None
            pos = i
    if start is not None and best > peak_units:
        regions.append((start, n))
    merged = []
    for s, e in regions:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged
