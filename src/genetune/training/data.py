"""Training data: chunks of a Helixer-format h5 read lazily, with per-base loss weights.

Kept chunks follow Helixer's rule (is_annotated and err_samples). Weights per base: sample_weights
(0 masked, 1, more for evidence-backed genes: select.py) x class weight of the true class x the
transition factor of its 9-bp timestep
(Helixer's maxpooled transition weights, 1 where no transition). Helixer sums class weights
over the classes present in a timestep; genetune weights each base by its own class. Each item
carries the target of every model output (targets.py), so either family trains from one file.
"""

import numpy as np
import torch

from genetune.core import layout
from genetune.core.fileio import open_h5, require
from genetune.training.targets import boundary_targets, geneml_targets


class ChunkDataset(torch.utils.data.Dataset):
    def __init__(self, path, class_weights=None, transition_weights=None, coverage_prefix=None, max_chunks=0, seed=0):
        self.path = str(path)
        with open_h5(self.path) as h5:
            require(
                h5,
                self.path,
                layout.X,
                layout.Y,
                layout.PHASES,
                layout.TRANSITIONS,
                layout.SAMPLE_WEIGHTS,
                what="training or validation data with labels",
            )
            keep = np.ones(len(h5[layout.X]), dtype=bool)
            if layout.IS_ANNOTATED in h5:
                keep &= h5[layout.IS_ANNOTATED][:] & h5[layout.ERR_SAMPLES][:]
            self.rows = np.flatnonzero(keep)
            self.minus = h5[layout.START_ENDS][:, 0] > h5[layout.START_ENDS][:, 1]
            self.length = h5[layout.X].shape[1]
            self.coverage_prefix = coverage_prefix
            self.n_bams = h5[layout.coverage_name(coverage_prefix)].shape[2] if coverage_prefix else 0
        if max_chunks and len(self.rows) > max_chunks:
            rng = np.random.default_rng(seed)
            self.rows = np.sort(rng.choice(self.rows, max_chunks, replace=False))
        self.class_weights = np.asarray(class_weights if class_weights is not None else [1, 1, 1, 1], np.float32)
        self.transition_weights = np.asarray(transition_weights, np.float32) if transition_weights is not None else None
        self._h5 = None

    def __len__(self):
        return len(self.rows)

    def _file(self):
        if self._h5 is None:
            self._h5 = open_h5(self.path)
        return self._h5

    def __getitem__(self, i):
        h5 = self._file()
        r = self.rows[i]
        x = h5[layout.X][r].astype(np.float32)
        y = h5[layout.Y][r]
        sample_weights = h5[layout.SAMPLE_WEIGHTS][r]
        valid = y.any(axis=1) & (sample_weights > 0)
        target = np.where(valid, y.argmax(axis=1), -1).astype(np.int64)
        ph = h5[layout.PHASES][r]
        phase = np.where(valid & ph.any(axis=1), ph.argmax(axis=1), -1).astype(np.int64)
        w = np.where(valid, self.class_weights[np.maximum(target, 0)] * sample_weights, 0.0).astype(np.float32)
        transitions = h5[layout.TRANSITIONS][r]
        if self.transition_weights is not None:
            t = transitions.reshape(-1, layout.POOL_SIZE, 6).max(axis=1)
            s = (t * self.transition_weights).sum(axis=1)
            s[s == 0] = 1.0
            w *= np.repeat(s, layout.POOL_SIZE)
        boundary = boundary_targets(target, transitions, self.minus[r])
        item = {
            "x": x,
            "y": target,
            "phase": phase,
            "boundary": boundary,
            "classes": geneml_targets(target, boundary),
            "w": w,
            "evidence": valid & (sample_weights > 1),
        }  # bases of genes the reads back (select.py)
        if self.coverage_prefix:
            cov = h5[layout.coverage_name(self.coverage_prefix)][r]
            spl = h5[layout.spliced_coverage_name(self.coverage_prefix)][r]
            item["coverage"] = np.concatenate([cov, spl], axis=1).astype(np.float32)
        return item
