"""Test helpers shared by several test modules."""

import h5py
import numpy as np

from genetune import layout


def perfect_predictions(labels_h5, out, sharpness=0.9, noise=0.0, seed=0):
    """A predictions.h5 whose probabilities come from the labels (optionally noisy)."""
    rng = np.random.default_rng(seed)
    with h5py.File(labels_h5) as lab, h5py.File(out, "w") as o:
        for src, dst in ((layout.Y, layout.PREDICTIONS), (layout.PHASES, layout.PREDICTIONS_PHASE)):
            y = lab[src][:].astype(np.float32)
            valid = y.sum(-1, keepdims=True) > 0
            p = y * sharpness + (1 - sharpness) / 4
            if noise:
                p = p + rng.random(p.shape) * noise
                p /= p.sum(-1, keepdims=True)
            o[dst] = (p * valid).astype(np.float16)
        for k in (layout.SEQIDS, layout.START_ENDS, layout.SPECIES):
            o[k] = lab[k][:]
    return out
