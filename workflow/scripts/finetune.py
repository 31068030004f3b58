#!/usr/bin/env python
"""Train a model (fine-tune a base model, or pretrain from scratch) with early stopping.

Writes best.pt, last.pt, metrics.tsv (long format) and learning_curves.svg into --out-dir; the
resume state goes to --state (default OUT_DIR/resume_state.pt): a rerun continues from it."""

import json
from pathlib import Path

import _bootstrap  # noqa: F401

from genetune.core import cli
from genetune.core.runlock import exclusive
from genetune.evaluate.curves import plot_learning_curves
from genetune.training.train import TrainConfig, train


def main():
    p = cli.parser(__doc__)
    p.add_argument("--train-h5", required=True)
    p.add_argument("--val-h5", required=True)
    p.add_argument("--base-model", help="checkpoint to start from (not needed for mode 'scratch')")
    p.add_argument("--settings", required=True, help="training settings (TrainConfig): a YAML/JSON file or inline JSON")
    p.add_argument("--model-card", help="model card stored in the checkpoint: a YAML/JSON file or inline JSON")
    p.add_argument("--no-resume", action="store_true", help="start afresh even where a resume state exists")
    p.add_argument("--state", help="resume state file (keep it outside the workflow's outputs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out-dir", required=True)
    a = p.parse_args()
    cli.keep_freed_memory()
    cfg = TrainConfig.from_dict(cli.load_settings(a.settings), cli.settings_source(a.settings))
    card = cli.load_settings(a.model_card) or None
    out = Path(a.out_dir)
    # one trainer per folder: a second one (a run started beside a live one) is refused, naming the first
    with exclusive(out.parent / f".{out.name}.trainer.lock", f"fine-tuning into {out}"):
        best = train(
            cfg,
            a.train_h5,
            a.val_h5,
            a.out_dir,
            a.base_model,
            resume=not a.no_resume,
            model_card=card,
            threads=a.threads,
            state_path=a.state,
            progress=not a.no_progress,
        )
        plot_learning_curves(out / "metrics.tsv", out / "learning_curves.svg")
    print(json.dumps(best))


if __name__ == "__main__":
    cli.run(main)
