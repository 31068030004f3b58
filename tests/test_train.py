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


RESIDUAL = dict(channels=8, groups=[[2, 5, 1], [1, 5, 2]])


@pytest.fixture(scope="module")
def residual_base(tmp_path_factory):
    from genetune.models.residual import ResidualArchitecture, ResidualCNN
    torch.manual_seed(0)
    model = ResidualCNN(ResidualArchitecture(**RESIDUAL))
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.2, 0.2)
    path = tmp_path_factory.mktemp("res") / "base.pt"
    save_checkpoint(path, model, input_channels(), model_card={"name": "residual base"})
    return path


def _changed_groups(base_state, ckpt, model):
    from genetune.checkpoint import build_model
    tuned = build_model(ckpt)
    names = {id(p): n for n, p in tuned.named_parameters()}
    changed = []
    for group, params in tuned.layer_groups():
        if any(not torch.equal(base_state[names[id(p)]], p.detach()) for p in params):
            changed.append(group)
    return changed


@pytest.mark.parametrize("mode,unfreeze,expect", [
    ("head", 0, ["head"]),
    ("unfreeze_last", 2, ["unit2", "unit3", "head"]),
    ("full", 0, ["stem", "unit1", "unit2", "unit3", "head"]),
])
def test_residual_modes_train_exactly_their_layer_groups(split, tmp_path, residual_base, mode, unfreeze, expect):
    """geneML-family fine-tuning on the 7 classes derived from the labels: only the mode's layer
    groups move, and batch-norm statistics stay the base model's (frozen while fine-tuning)."""
    base = load_checkpoint(residual_base)
    cfg = TrainConfig(mode=mode, unfreeze_last=unfreeze, epochs=1, batch_size=4, lr=3e-3, patience=2,
                      max_train_chunks=6, max_val_chunks=4)
    train(cfg, *split, tmp_path, base_model=residual_base)
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["family"] == "residual" and last["epoch"] == 1
    from genetune.checkpoint import build_model
    assert _changed_groups(base["model_state"], last, build_model(base)) == expect
    stats = [k for k in base["model_state"] if k.endswith(("running_mean", "running_var"))]
    assert stats and all(torch.equal(base["model_state"][k], last["model_state"][k]) for k in stats)


def test_unfreeze_last_beyond_the_trunk_and_without_a_count_are_errors(split, tmp_path, residual_base):
    with pytest.raises(InputError, match="unfreeze_last 9 exceeds the 4 trunk layer groups"):
        train(TrainConfig(mode="unfreeze_last", unfreeze_last=9, epochs=1), *split, tmp_path,
              base_model=residual_base)
    with pytest.raises(InputError, match="needs unfreeze_last >= 1"):
        TrainConfig.from_dict({"mode": "unfreeze_last"})


def test_a_new_boundary_head_learns_from_the_transitions(split, tmp_path):
    """A HybridModel base without boundaries gains a boundary head (add_boundary_head); training on
    the labels' transitions lowers its loss, and the checkpoint predicts boundaries."""
    from genetune.data import ChunkDataset
    from genetune.train import _weighted_ce

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "base.pt", HybridModel(HybridArchitecture(**ARCH)), input_channels())
    cfg = TrainConfig(mode="full", add_boundary_head=True, boundary_loss_weight=1.0, epochs=4, batch_size=2,
                      lr=1e-2, patience=5, transition_weights=None)
    train(cfg, *split, tmp_path / "ft", base_model=tmp_path / "base.pt")
    from genetune.checkpoint import load_model
    tuned, ckpt = load_model(tmp_path / "ft" / "last.pt")
    assert ckpt["outputs"] == ["genic", "phase", "boundary"] and ckpt["architecture"]["predict_boundaries"]
    batch = torch.utils.data.default_collate([ChunkDataset(split[0], [1, 1, 1, 1])[i] for i in range(4)])
    fresh = HybridModel(HybridArchitecture(**{**ARCH, "predict_boundaries": True}))
    fresh.load_state_dict(tuned.state_dict())
    with torch.no_grad():
        trained = _weighted_ce(tuned.eval()(batch["x"])["boundary"], batch["boundary"], batch["w"])
        torch.nn.init.normal_(fresh.boundary_head.weight, std=0.1)
        untrained = _weighted_ce(fresh.eval()(batch["x"])["boundary"], batch["boundary"], batch["w"])
    assert trained < untrained * 0.3
