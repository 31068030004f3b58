import pytest
import torch

from genetune.checkpoint import input_channels, load_checkpoint, save_checkpoint
from genetune.errors import InputError
from genetune.models.hybrid import HybridArchitecture, HybridModel
from genetune.split import split_train_val
from genetune.train import TrainConfig, lr_at, train

ARCH = dict(cnn_layers=1, filter_depth=8, kernel_size=9, units=8)


def test_lr_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    lrs = [lr_at(s, 100, cfg) for s in range(101)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[100] == pytest.approx(1e-4)
    assert lr_at(50, 100, TrainConfig(lr=1e-3, schedule="constant")) == 1e-3


@pytest.fixture(scope="module")
def split(tiny_species, tmp_path_factory):
    d = tmp_path_factory.mktemp("split")
    split_train_val(tiny_species["dir"] / "labels.h5", d / "t.h5", d / "v.h5", val_fraction=0.3, seed=2)
    return d / "t.h5", d / "v.h5"


def test_training_from_scratch_learns_and_keeps_best_and_last(split, tmp_path):
    cfg = TrainConfig(mode="scratch", epochs=3, batch_size=4, lr=3e-3, architecture=ARCH, patience=5)
    best = train(cfg, *split, tmp_path)
    rows = (tmp_path / "metrics.tsv").read_text().splitlines()
    assert rows[0].startswith("epoch\tstep\ttrain_loss") and len(rows) == 1 + 4  # epoch 0 .. 3
    losses = [float(r.split("\t")[2]) for r in rows[2:]]
    assert losses[-1] < losses[0]
    ckpt = load_checkpoint(tmp_path / "best.pt")
    assert ckpt["train_config"]["mode"] == "scratch" and ckpt["architecture"]["units"] == 8
    assert best["genic_f1"] == pytest.approx(max(float(r.split("\t")[4]) for r in rows[1:]), abs=1e-5)
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 3


def test_resume_continues_from_last_checkpoint(split, tmp_path):
    cfg = TrainConfig(mode="scratch", epochs=2, batch_size=4, lr=3e-3, architecture=ARCH, patience=5)
    train(cfg, *split, tmp_path)
    step_after_two = load_checkpoint(tmp_path / "last.pt")["step"]
    cfg3 = TrainConfig(**{**cfg.__dict__, "epochs": 3})
    with pytest.raises(InputError, match="other settings"):
        train(cfg3, *split, tmp_path)
    train(cfg, *split, tmp_path)  # already finished: nothing more to do
    assert load_checkpoint(tmp_path / "last.pt")["step"] == step_after_two


def test_finetune_baseline_is_evaluated_first_and_best_only_replaced_on_improvement(split, tmp_path):
    torch.manual_seed(0)
    base = HybridModel(HybridArchitecture(**ARCH))
    save_checkpoint(tmp_path / "base.pt", base, input_channels(), model_card={"name": "base"})
    cfg = TrainConfig(mode="head", epochs=1, batch_size=4, lr=1e-9, patience=1)  # lr ~0: no real change
    train(cfg, *split, tmp_path / "ft", base_model=tmp_path / "base.pt")
    ckpt = load_checkpoint(tmp_path / "ft" / "best.pt")
    assert ckpt["epoch"] == 0  # nothing beat the starting model
    assert ckpt["parent_sha256"] and ckpt["model_card"]["name"] == "base"
    for k, v in base.state_dict().items():
        assert torch.equal(v, ckpt["model_state"][k])


def test_unknown_training_setting_and_bad_mode_are_errors():
    with pytest.raises(InputError, match="unknown fine-tuning settings: epoch"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(InputError, match="mode 'everything'"):
        TrainConfig.from_dict({"mode": "everything"})


def test_coverage_mode_needs_coverage_in_the_training_data(split, tmp_path):
    save_checkpoint(tmp_path / "base.pt", HybridModel(HybridArchitecture(**ARCH)), input_channels())
    with pytest.raises(InputError, match="needs RNA-seq coverage"):
        train(TrainConfig(mode="coverage", epochs=1), *split, tmp_path / "ft", base_model=tmp_path / "base.pt")
