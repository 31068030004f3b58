"""The shipped demo base model: small, loadable, with its model card inside."""

from pathlib import Path

import torch

from genetune.models.checkpoint import load_model

MODEL = Path(__file__).resolve().parents[1] / "resources" / "models" / "demo_base.pt"


def test_shipped_base_model_is_small_and_carries_its_model_card():
    assert MODEL.stat().st_size <= 10 * 1024 * 1024
    model, ckpt = load_model(MODEL)
    card = ckpt["model_card"]
    assert {"training_data", "classes", "inputs", "intended_use", "validation_metrics"} <= set(card)
    assert card["classes"] == ckpt["class_names"] == ["intergenic", "UTR", "CDS", "intron"]
    assert card["validation_metrics"]["genic_f1"] > 0.6
    assert ckpt["architecture"]["predict_phase"] and not ckpt["architecture"]["input_coverage"]
    assert ckpt["input_channels"]["coverage"] is None and ckpt["train_config"]["mode"] == "scratch"
    genic, phase = model.eval()(torch.zeros(1, 9 * 8, 4)).values()
    assert genic.shape == phase.shape == (1, 72, 4)
