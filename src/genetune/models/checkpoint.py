"""Checkpoints: one torch.save dict with weights, training state and the model card.

Keys: family (models.FAMILIES; a checkpoint without one is of models.DEFAULT_FAMILY),
model_state, architecture, input_channels (DNA columns; coverage BAM names, strandedness,
prefix and normalisation), class_names (the genic classes of its predictions), phase_names,
outputs, context, train_config, optimizer_state, step, epoch, best_metric, parent_sha256,
genetune_version, model_card. Loading checks the family, the architecture and the input
channels against the data and fails with a message saying what is missing (Helixer issues
#111/#189).
"""

import json
from pathlib import Path

import numpy as np
import torch

from genetune import __version__
from genetune.core import layout
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path, sha256  # noqa: F401  (sha256: checkpoint.sha256 for callers)
from genetune.models import build, family_of, input_channels  # noqa: F401  (input_channels: for callers)


def _plain(value):
    """numpy scalars to Python numbers; anything else JSON cannot hold is a bug here."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"checkpoint metadata cannot hold {type(value).__name__}")


def save_checkpoint(path, model, channels, **extra):
    """Equal weights and metadata give equal bytes: the metadata goes through one JSON round
    trip, so how the objects were built (a resumed run, numpy scalars) leaves no trace in the
    pickle and the file's sha256, printed into every GFF3 header, names the model."""
    meta = {
        "family": model.family,
        "architecture": model.arch.to_dict(),
        "input_channels": channels,
        "class_names": list(layout.CLASSES),
        "phase_names": list(layout.PHASE_CLASSES),
        "outputs": list(model.outputs),
        "context": model.context,
        "genetune_version": __version__,
        **extra,
    }
    ckpt = {"model_state": model.state_dict(), **json.loads(json.dumps(meta, default=_plain))}
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)


def load_checkpoint(path, map_location="cpu"):
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: model checkpoint not found")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise InputError(f"{path}: not a readable genetune checkpoint ({exc})") from None
    for key in ("model_state", "architecture", "input_channels"):
        if key not in ckpt:
            raise InputError(f"{path}: not a genetune checkpoint (no '{key}')")
    if list(ckpt.get("class_names", layout.CLASSES)) != list(layout.CLASSES):
        raise InputError(f"{path}: class order {ckpt['class_names']} differs from {list(layout.CLASSES)}")
    return ckpt


def build_model(ckpt, path="checkpoint"):
    """The checkpoint's model with its weights (family and architecture from the record)."""
    model = build(family_of(ckpt), ckpt["architecture"], str(path))
    try:
        model.load_state_dict(ckpt["model_state"])
    except RuntimeError as exc:
        raise InputError(f"{path}: weights do not fit the stored {family_of(ckpt)} architecture ({exc})") from None
    return model


def load_model(path, map_location="cpu"):
    ckpt = load_checkpoint(path, map_location)
    return build_model(ckpt, path), ckpt


def check_channels(ckpt, n_bams, path="model", data="data"):
    """Fail at once when the model's inputs and the data's channels differ."""
    cov = ckpt["input_channels"].get("coverage")
    if cov and not n_bams:
        raise InputError(
            f"{path}: model needs RNA-seq coverage from {len(cov['bams'])} BAM(s) "
            f"({', '.join(cov['bams'])}, {', '.join(cov['strandedness'])}) but {data} has none; "
            "pass --coverage-h5 made from the same BAMs in the same order"
        )
    if cov and n_bams != len(cov["bams"]):
        raise InputError(
            f"{path}: model was trained on coverage from {len(cov['bams'])} BAM(s) "
            f"({', '.join(cov['bams'])}) but {data} has {n_bams}"
        )
