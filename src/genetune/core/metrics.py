"""Base-level confusion matrices and Helixer's F1 definitions.

genic = TP/FP/FN summed over UTR, CDS and intron; sub_genic = over CDS and intron.
"""

import numpy as np

from genetune.core import layout

GENIC = (layout.UTR, layout.CDS, layout.INTRON)
SUB_GENIC = (layout.CDS, layout.INTRON)


def confusion(true_cls, pred_cls, n=4):
    """n x n counts, rows = truth, columns = prediction."""
    idx = true_cls.astype(np.int64) * n + pred_cls.astype(np.int64)
    return np.bincount(idx.ravel(), minlength=n * n).reshape(n, n)


def _prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def scores(cm, names=layout.CLASSES):
    """{name: (precision, recall, f1)} per class plus genic and sub_genic, and accuracy."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    out = {name: _prf(tp[i], fp[i], fn[i]) for i, name in enumerate(names)}
    for label, group in (("genic", GENIC), ("sub_genic", SUB_GENIC)):
        g = list(group)
        out[label] = _prf(tp[g].sum(), fp[g].sum(), fn[g].sum())
    out["accuracy"] = (tp.sum() / cm.sum() if cm.sum() else 0.0,) * 3
    return out


def prf(n_match_pred, n_pred, n_match_ref, n_ref):
    """Precision, recall (sensitivity) and F1 from matched counts (feature level)."""
    p = n_match_pred / n_pred if n_pred else 0.0
    r = n_match_ref / n_ref if n_ref else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f
