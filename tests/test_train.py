import pytest
import torch

from genetune.core.errors import InputError
from genetune.models.checkpoint import input_channels, load_checkpoint, save_checkpoint
from genetune.models.hybrid import HybridArchitecture, HybridModel
from genetune.pseudolabels.split import split_train_val
from genetune.training.train import TrainConfig, lr_at, train

ARCH = dict(cnn_layers=1, filter_depth=8, kernel_size=9, units=8)


def test_lr_warms_up_then_decays_to_the_floor():
    cfg = TrainConfig(lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    lrs = [lr_at(s, 100, cfg) for s in range(101)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[100] == pytest.approx(1e-4)
    assert lr_at(50, 100, TrainConfig(lr=1e-3, schedule="constant")) == 1e-3


def _torch_lrs(scheduler_factory, steps, lr=1e-3):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = scheduler_factory(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_cosine_restarts_and_multistep_match_torchs_schedulers():
    cfg = TrainConfig(lr=1e-3, schedule="cosine_restarts", restart_steps=7, restart_mult=2, min_lr_ratio=0.0)
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=7, T_mult=2), 40)
    assert [lr_at(s, 40, cfg) for s in range(40)] == pytest.approx(ref, rel=1e-6, abs=1e-12)
    cfg = TrainConfig(lr=1e-3, schedule="multistep", milestones=[5, 12], gamma=0.3)
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[5, 12], gamma=0.3), 20)
    assert [lr_at(s, 20, cfg) for s in range(20)] == pytest.approx(ref)


def test_plateau_cuts_the_lr_as_reduce_lr_on_plateau_would_after_the_warmup():
    from genetune.training.schedule import plateau_reductions

    history = [0.5, 0.6, 0.6, 0.59, 0.6, 0.61, 0.61, 0.605, 0.6, 0.6, 0.6, 0.62]
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="max", factor=0.5, patience=3, threshold=0.0, threshold_mode="abs"
    )
    for k, value in enumerate(history, 1):
        ref.step(value)
        assert 0.5 ** plateau_reductions(history[:k], 3) == pytest.approx(opt.param_groups[0]["lr"])
    cfg = TrainConfig(lr=1e-3, schedule="plateau", warmup_steps=4, min_lr_ratio=0.01)
    assert lr_at(1, 100, cfg, reductions=2) == pytest.approx(5e-4)  # still warming up
    assert lr_at(10, 100, cfg, reductions=2) == pytest.approx(2.5e-4)
    assert lr_at(10, 100, cfg, reductions=20) == pytest.approx(1e-5)  # floored at min_lr_ratio


def test_focal_loss_gamma_and_alpha_change_the_loss():
    from genetune.training.losses import weighted_loss

    logits = torch.tensor([[4.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 0, 3.0]])
    target, w = torch.tensor([0, 1, 2]), torch.ones(3)
    ce = weighted_loss(logits, target, w)
    assert weighted_loss(logits, target, w, "focal", gamma=0.0) == pytest.approx(ce)
    focal = weighted_loss(logits, target, w, "focal", gamma=2.0)
    assert focal < ce
    p = torch.softmax(logits, -1)[torch.arange(3), target]
    assert focal == pytest.approx(float(((1 - p) ** 2 * -p.log()).mean()))
    alpha = [1.0, 1.0, 4.0, 1.0]
    assert weighted_loss(logits, target, w, "focal", 2.0, alpha) > focal
    with pytest.raises(InputError, match="one weight per class"):
        weighted_loss(logits, target, w, "focal", 2.0, [1.0, 2.0])
    masked = torch.tensor([0, -1, 2])
    assert weighted_loss(logits, masked, w) == pytest.approx(
        float(weighted_loss(logits[[0, 2]], target[[0, 2]], w[[0, 2]]))
    )


@pytest.fixture(scope="module")
def split(tiny_species, tmp_path_factory):
    d = tmp_path_factory.mktemp("split")
    split_train_val(tiny_species["dir"] / "labels.h5", d / "t.h5", d / "v.h5", val_fraction=0.3, seed=2)
    return d / "t.h5", d / "v.h5"


def _rows(path):
    from genetune.training.metrics_table import read_metrics

    return read_metrics(path)


def test_training_from_scratch_learns_and_keeps_best_and_last(split, tmp_path):
    cfg = TrainConfig(mode="scratch", epochs=3, batch_size=4, lr=3e-3, architecture=ARCH, patience=5)
    best = train(cfg, *split, tmp_path)
    rows = _rows(tmp_path / "metrics.tsv")
    assert (tmp_path / "metrics.tsv").read_text().startswith("epoch\tstep\tsplit\tmetric\tvalue\tlr\n")
    assert sorted({r["epoch"] for r in rows}) == [0, 1, 2, 3]  # the baseline, then every epoch
    losses = [r["value"] for r in rows if r["split"] == "train" and r["metric"] == "loss"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert not [r for r in rows if r["split"] == "train" and r["epoch"] == 0]  # the baseline has no train loss
    ckpt = load_checkpoint(tmp_path / "best.pt")
    assert ckpt["train_config"]["mode"] == "scratch" and ckpt["architecture"]["units"] == 8
    val_f1 = [r["value"] for r in rows if r["metric"] == "genic_f1"]
    assert best["genic_f1"] == pytest.approx(max(val_f1), abs=1e-5)
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 3


def test_checks_every_n_steps_and_patience_stops_early(split, tmp_path):
    cfg = TrainConfig(
        mode="scratch", epochs=50, batch_size=4, lr=1e-9, architecture=ARCH, patience=2, check_every=3, min_delta=0.5
    )  # nothing can improve by 0.5: stop after 2 checks
    train(cfg, *split, tmp_path)
    steps = sorted({r["step"] for r in _rows(tmp_path / "metrics.tsv")})
    assert steps == [0, 3, 6]
    assert load_checkpoint(tmp_path / "best.pt")["step"] == 0  # best.pt is still the starting model


def test_a_second_run_of_finished_training_changes_nothing(split, tmp_path):
    cfg = TrainConfig(mode="scratch", epochs=2, batch_size=4, lr=3e-3, architecture=ARCH, patience=5)
    train(cfg, *split, tmp_path)
    before = (tmp_path / "metrics.tsv").read_text(), load_checkpoint(tmp_path / "best.pt")["model_state"]
    train(cfg, *split, tmp_path)
    assert (tmp_path / "metrics.tsv").read_text() == before[0]
    assert all(torch.equal(v, before[1][k]) for k, v in load_checkpoint(tmp_path / "best.pt")["model_state"].items())
    cfg3 = TrainConfig(**{**cfg.__dict__, "epochs": 3})  # other settings: the state is set aside
    train(cfg3, *split, tmp_path)
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 3


def test_a_run_cut_off_mid_epoch_resumes_to_identical_weights_and_metrics(split, tmp_path):
    """The state saved every save_every steps holds the position in the epoch's seeded batch order:
    a run killed after step 5 (of 2 epochs) and rerun ends exactly as one uninterrupted run."""
    import genetune.training.train as tr

    cfg = TrainConfig(
        mode="scratch", epochs=2, batch_size=2, lr=3e-3, architecture=ARCH, patience=5, save_every=2, seed=4
    )
    train(cfg, *split, tmp_path / "whole")
    calls = {"n": 0}
    real = tr.batch_loss

    def dying(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    tr.batch_loss = dying
    try:
        with pytest.raises(KeyboardInterrupt):
            train(cfg, *split, tmp_path / "cut")
    finally:
        tr.batch_loss = real
    state = torch.load(tmp_path / "cut" / "resume_state.pt", weights_only=False)
    assert state["step"] == 4 and state["batch"] == 4  # the last save before the kill
    train(cfg, *split, tmp_path / "cut")
    assert (tmp_path / "cut" / "metrics.tsv").read_text() == (tmp_path / "whole" / "metrics.tsv").read_text()
    a, b = (load_checkpoint(tmp_path / d / "last.pt")["model_state"] for d in ("whole", "cut"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_diverging_loss_stops_with_one_clear_error_and_keeps_the_last_good_weights(split, tmp_path, monkeypatch):
    import genetune.training.train as tr

    real, calls = tr.batch_loss, {"n": 0}

    def diverging(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(tr, "batch_loss", diverging)
    cfg = TrainConfig(mode="scratch", epochs=3, batch_size=4, lr=3e-3, architecture=ARCH)
    with pytest.raises(InputError, match=r"training diverged: the loss is nan at step 3 .*Lower lr"):
        train(cfg, *split, tmp_path)
    assert load_checkpoint(tmp_path / "best.pt")["step"] == 0 and (tmp_path / "metrics.tsv").exists()


def test_trunk_trains_at_its_lower_lr_ratio(split, tmp_path):
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "base.pt", HybridModel(HybridArchitecture(**ARCH)), input_channels())
    from genetune.training.train import freeze_for_mode

    model = HybridModel(HybridArchitecture(**ARCH))
    groups = freeze_for_mode(model, TrainConfig(mode="full", trunk_lr_ratio=0.1))
    assert [g["lr_ratio"] for g in groups] == [1.0, 0.1]
    head = {id(p) for p in model.layer_groups()[-1][1]}
    assert {id(p) for p in groups[0]["params"]} == head


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
    with pytest.raises(InputError, match="finetune: unknown key epoch"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(InputError, match='finetune.mode: "everything" is not one of'):
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
    from genetune.models.checkpoint import build_model

    tuned = build_model(ckpt)
    names = {id(p): n for n, p in tuned.named_parameters()}
    changed = []
    for group, params in tuned.layer_groups():
        if any(not torch.equal(base_state[names[id(p)]], p.detach()) for p in params):
            changed.append(group)
    return changed


@pytest.mark.parametrize(
    "mode,unfreeze,expect",
    [
        ("head", 0, ["head"]),
        ("unfreeze_last", 2, ["unit2", "unit3", "head"]),
        ("full", 0, ["stem", "unit1", "unit2", "unit3", "head"]),
    ],
)
def test_residual_modes_train_exactly_their_layer_groups(split, tmp_path, residual_base, mode, unfreeze, expect):
    """geneML-family fine-tuning on the 7 classes derived from the labels: only the mode's layer
    groups move, and batch-norm statistics stay the base model's (frozen while fine-tuning)."""
    base = load_checkpoint(residual_base)
    cfg = TrainConfig(
        mode=mode,
        unfreeze_last=unfreeze,
        epochs=1,
        batch_size=4,
        lr=3e-3,
        patience=2,
        max_train_chunks=6,
        max_val_chunks=4,
    )
    train(cfg, *split, tmp_path, base_model=residual_base)
    last = load_checkpoint(tmp_path / "last.pt")
    assert last["family"] == "residual" and last["epoch"] == 1
    from genetune.models.checkpoint import build_model

    assert _changed_groups(base["model_state"], last, build_model(base)) == expect
    stats = [k for k in base["model_state"] if k.endswith(("running_mean", "running_var"))]
    assert stats and all(torch.equal(base["model_state"][k], last["model_state"][k]) for k in stats)


def test_unfreeze_last_beyond_the_trunk_and_without_a_count_are_errors(split, tmp_path, residual_base):
    with pytest.raises(InputError, match="unfreeze_last 9 exceeds the 4 trunk layer groups"):
        train(TrainConfig(mode="unfreeze_last", unfreeze_last=9, epochs=1), *split, tmp_path, base_model=residual_base)
    with pytest.raises(InputError, match="needs unfreeze_last >= 1"):
        TrainConfig.from_dict({"mode": "unfreeze_last"})


def test_a_new_boundary_head_learns_from_the_transitions(split, tmp_path):
    """A HybridModel base without boundaries gains a boundary head (add_boundary_head); training on
    the labels' transitions lowers its loss, and the checkpoint predicts boundaries."""
    from genetune.training.data import ChunkDataset
    from genetune.training.losses import weighted_loss as _weighted_ce

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "base.pt", HybridModel(HybridArchitecture(**ARCH)), input_channels())
    cfg = TrainConfig(
        mode="full",
        add_boundary_head=True,
        boundary_loss_weight=1.0,
        epochs=4,
        batch_size=2,
        lr=1e-2,
        patience=5,
        transition_weights=None,
    )
    train(cfg, *split, tmp_path / "ft", base_model=tmp_path / "base.pt")
    from genetune.models.checkpoint import load_model

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


def test_with_read_backed_genes_in_validation_checkpoints_follow_them(split, tmp_path):
    """Validation bases of genes the reads back (sample weight > 1) are scored on their own; with
    enough of them best.pt follows that score, not agreement with the network's own pseudolabels."""
    import shutil

    import h5py

    from genetune.core import layout
    from genetune.training.data import ChunkDataset
    from genetune.training.train import MIN_EVIDENCE_BASES, checkpoint_metric

    train_h5, val_h5 = split
    shutil.copy(val_h5, tmp_path / "v.h5")
    with h5py.File(tmp_path / "v.h5", "r+") as h5:
        sw = h5[layout.SAMPLE_WEIGHTS][:]
        y = h5[layout.Y][:]
        genic = (y[..., layout.IG] == 0) & (sw > 0)
        sw[genic] = 3  # every genic base backed by reads
        h5[layout.SAMPLE_WEIGHTS][...] = sw
    item = ChunkDataset(tmp_path / "v.h5")[0]
    assert item["evidence"].sum() == genic[ChunkDataset(tmp_path / "v.h5").rows[0]].sum()
    cfg = TrainConfig(mode="scratch", epochs=2, batch_size=4, lr=3e-3, architecture=ARCH, patience=5)
    best = train(cfg, train_h5, tmp_path / "v.h5", tmp_path / "run")
    assert best["evidence_bases"] >= MIN_EVIDENCE_BASES
    assert checkpoint_metric(cfg, best) == "evidence_genic_f1"
    rows = _rows(tmp_path / "run" / "metrics.tsv")
    evidence_f1 = [r["value"] for r in rows if r["metric"] == "evidence_genic_f1"]
    assert best["evidence_genic_f1"] == pytest.approx(max(evidence_f1), abs=1e-5)
    assert checkpoint_metric(cfg, {"evidence_bases": MIN_EVIDENCE_BASES - 1}) == "genic_f1"
    assert checkpoint_metric(TrainConfig(checkpoint_metric="genic_f1"), best) == "genic_f1"
