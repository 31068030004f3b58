#!/usr/bin/env python
"""Train a model (fine-tune a base model, or pretrain from scratch) with early stopping; writes best.pt, last.pt."""

import json

import _bootstrap  # noqa: F401

from genetune import cli
from genetune.train import TrainConfig, train


def main():
    p = cli.parser(__doc__)
    p.add_argument("--train-h5", required=True)
    p.add_argument("--val-h5", required=True)
    p.add_argument("--base-model", help="checkpoint to start from (not needed for mode 'scratch')")
    p.add_argument("--settings", required=True, help="training settings (TrainConfig): a YAML/JSON file or inline JSON")
    p.add_argument("--model-card", help="model card stored in the checkpoint: a YAML/JSON file or inline JSON")
    p.add_argument("--no-resume", action="store_true", help="ignore an existing last.pt in --out-dir")
    p.add_argument("--out-dir", required=True)
    a = p.parse_args()
    cli.keep_freed_memory()
    cfg = TrainConfig.from_dict(cli.load_settings(a.settings))
    card = cli.load_settings(a.model_card) or None
    best = train(cfg, a.train_h5, a.val_h5, a.out_dir, a.base_model, resume=not a.no_resume, model_card=card,
                 threads=a.threads)
    print(json.dumps(best))


if __name__ == "__main__":
    cli.run(main)
