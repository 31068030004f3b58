"""Keep the chunks where the first-pass network agrees most with its own decoded gene models.

Helixer's stratified rule (HELIXER_NOTES §3, filter-to-most-certain.py), with its bugs fixed:
confidence of a chunk = mean over valid bases (sample_weights > 0, not just non-padding) of
the predicted probability of the pseudolabel's class. Chunks are stratified into `n_strata`
quantile bins of their intergenic fraction, so gene-rich and gene-poor chunks are both kept;
each stratum contributes its most confident chunks, without replacement and without
spilling into other strata. Predictions and labels are paired by (seqid, start, end).
"""

import h5py
import numpy as np

from . import layout
from .chunks import check_same_chunks
from .errors import InputError
from .subset import write_subset


def chunk_confidence(labels_h5, predictions_h5, block=64):
    """(confidence, intergenic fraction, has_valid) per chunk."""
    check_same_chunks(labels_h5, predictions_h5)
    with h5py.File(labels_h5, "r") as lab, h5py.File(predictions_h5, "r") as pred:
        N = len(lab[layout.Y])
        conf = np.zeros(N)
        ig = np.zeros(N)
        valid_any = np.zeros(N, dtype=bool)
        for i in range(0, N, block):
            y = lab[layout.Y][i: i + block].astype(np.float32)
            w = lab[layout.SAMPLE_WEIGHTS][i: i + block] > 0
            p = pred[layout.PREDICTIONS][i: i + block].astype(np.float32)
            valid = w & (y.sum(-1) > 0)
            n = valid.sum(axis=1)
            agree = (y * p).sum(-1)
            conf[i: i + block] = np.where(n > 0, (agree * valid).sum(1) / np.maximum(n, 1), 0)
            ig[i: i + block] = np.where(n > 0, (y[..., layout.IG] * valid).sum(1) / np.maximum(n, 1), 1)
            valid_any[i: i + block] = n > 0
    return conf, ig, valid_any


def select_rows(conf, ig_fraction, usable, keep_fraction=0.5, n_strata=6):
    """Row indices to keep: the most confident chunks of each intergenic-fraction stratum."""
    if not 0 < keep_fraction <= 1:
        raise InputError(f"keep_fraction {keep_fraction} must be in (0, 1]")
    rows = np.flatnonzero(usable)
    n_keep = int(round(len(rows) * keep_fraction))
    if n_keep == 0:
        raise InputError("no chunk would be kept: too few usable chunks or keep_fraction too small")
    # quantile ranks, ties broken by row order so strata have equal size even with many ties
    order = np.lexsort((rows, ig_fraction[rows]))
    strata = np.array_split(rows[order], min(n_strata, len(rows)))
    keep = []
    per = [n_keep // len(strata) + (1 if k < n_keep % len(strata) else 0) for k in range(len(strata))]
    for stratum, n in zip(strata, per):
        best = stratum[np.lexsort((stratum, -conf[stratum]))][:n]
        keep.extend(best.tolist())
    return np.sort(np.array(keep, dtype=np.int64))


def select_confident(labels_h5, predictions_h5, out, keep_fraction=0.5, n_strata=6):
    conf, ig, valid = chunk_confidence(labels_h5, predictions_h5)
    with h5py.File(labels_h5, "r") as lab:
        usable = valid & lab[layout.IS_ANNOTATED][:]
    rows = select_rows(conf, ig, usable, keep_fraction, n_strata)
    write_subset(labels_h5, rows, out, attrs={"keep_fraction": keep_fraction, "n_strata": n_strata,
                                              "mean_confidence_kept": float(conf[rows].mean()),
                                              "mean_confidence_all": float(conf[usable].mean())})
    return rows, conf
