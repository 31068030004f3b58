"""One training loop for pretraining, fine-tuning and resuming (nanoGPT-style, top to bottom).

Modes, for every model family: scratch (new model of `family` from `architecture`), full (all
weights of the base model train), head (trunk frozen, the pretrained head trains),
unfreeze_last (the last `unfreeze_last` layer groups of the trunk and the head train, as
OpenSpliceAI's --unfreeze), coverage (HybridModel: trunk frozen, a head that also reads RNA-seq
coverage, started as the base head so step 0 equals the base model). Frozen batch norms run in
inference mode. The loss is cross-entropy of each output the model has against its target
(targets.py): genic or geneML's classes, phase, boundaries.
The starting model is evaluated before any step (epoch 0) and best.pt is only replaced on a
real improvement of validation genic F1 (Helixer never evaluates the baseline, §9.7).
"""

import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn.functional as F

from . import layout, metrics
from .checkpoint import build_model, input_channels, load_checkpoint, save_checkpoint, sha256
from .data import ChunkDataset
from .errors import InputError
from .models import build
from .models.hybrid import with_boundary_head, with_coverage_head

log = logging.getLogger("genetune.train")
MODES = ("scratch", "full", "head", "unfreeze_last", "coverage")
# the batch key each model output is trained on (targets.py, data.ChunkDataset)
TARGET_OF_OUTPUT = {"genic": "y", "classes": "classes", "phase": "phase", "boundary": "boundary"}


@dataclass
class TrainConfig:
    mode: str = "full"
    epochs: int = 10
    batch_size: int = 8
    lr: float = 1e-4
    min_lr_ratio: float = 0.1
    warmup_steps: int = 0
    schedule: str = "cosine"  # cosine | constant
    weight_decay: float = 3.5e-5
    grad_clip: float = 3.0
    patience: int = 3
    class_weights: list = field(default_factory=lambda: [0.7, 1.6, 1.2, 1.2])
    transition_weights: list = field(default_factory=lambda: [1, 12, 3, 1, 12, 3])
    phase_loss_weight: float = 0.2
    boundary_loss_weight: float = 0.2  # for models with a boundary head
    unfreeze_last: int = 0  # mode unfreeze_last: trunk layer groups that train, counted from the top
    add_boundary_head: bool = False  # HybridModel without one: train a new boundary head too
    # "frozen": batch norms keep the base model's statistics (inference mode) while their scale and
    # shift may train; "train": batch statistics as in pretraining; "auto": frozen unless mode scratch
    batch_norm: str = "auto"
    seed: int = 1
    max_train_chunks: int = 0  # 0 = all
    max_val_chunks: int = 0
    coverage_hidden_layer: bool = False
    family: str = "hybrid"  # scratch mode only
    architecture: dict = field(default_factory=dict)  # scratch mode only
    log_every: int = 20

    @classmethod
    def from_dict(cls, d):
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        unknown = set(d) - set(known)
        if unknown:
            raise InputError(f"unknown fine-tuning settings: {', '.join(sorted(unknown))}")
        cfg = cls(**known)
        if cfg.mode not in MODES:
            raise InputError(f"fine-tuning mode '{cfg.mode}' is not one of {', '.join(MODES)}")
        if cfg.batch_norm not in ("auto", "frozen", "train"):
            raise InputError(f"fine-tuning setting batch_norm: {cfg.batch_norm!r} is not auto, frozen or train")
        if (cfg.mode == "unfreeze_last") != (cfg.unfreeze_last > 0):
            raise InputError("fine-tuning: mode 'unfreeze_last' needs unfreeze_last >= 1 (the trunk layer groups "
                             f"that train), and only that mode takes it (mode {cfg.mode}, unfreeze_last "
                             f"{cfg.unfreeze_last})")
        return cfg


def lr_at(step, total_steps, cfg: TrainConfig):
    """Linear warm-up, then cosine decay to min_lr_ratio * lr (or constant)."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant" or total_steps <= cfg.warmup_steps:
        return cfg.lr
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def pick_device():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device):
    """bf16 autocast on CUDA (where it helps), nothing on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _with_flanks(model, x):
    """Zero (N) flanks for models whose forward() consumes context at both ends."""
    f = model.flank
    return F.pad(x, (0, 0, f, f)) if f else x


def _weighted_ce(logits, target, w):
    loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), target.reshape(-1).clamp(min=0),
                           reduction="none")
    w = (w * (target >= 0)).reshape(-1)
    return (loss * w).sum() / w.sum().clamp(min=1.0)


def batch_loss(model, batch, device, cfg: TrainConfig):
    """Weighted cross-entropy of every output against its target: the genic (or class) output
    with weight 1 - phase_loss_weight, phase with phase_loss_weight (Helixer's 0.8 / 0.2), plus
    boundary_loss_weight x the boundary output where the model has one."""
    x = _with_flanks(model, batch["x"].to(device))
    cov = batch["coverage"].to(device) if "coverage" in batch else None
    w = batch["w"].to(device)
    logits = model(x, cov)
    terms = {name: _weighted_ce(v, batch[TARGET_OF_OUTPUT[name]].to(device), w) for name, v in logits.items()}
    main = terms.pop("genic", None)
    main = terms.pop("classes") if main is None else main
    loss = main
    if "phase" in terms and cfg.phase_loss_weight:
        loss = (1 - cfg.phase_loss_weight) * main + cfg.phase_loss_weight * terms["phase"]
    if "boundary" in terms and cfg.boundary_loss_weight:
        loss = loss + cfg.boundary_loss_weight * terms["boundary"]
    return loss


@torch.no_grad()
def evaluate(model, loader, device) -> dict:
    """Validation loss-free metrics: genic F1 and per-class F1 over valid bases."""
    was_training = model.training
    model.eval()
    cm = np.zeros((4, 4), dtype=np.int64)
    for batch in loader:
        x = _with_flanks(model, batch["x"].to(device))
        cov = batch["coverage"].to(device) if "coverage" in batch else None
        with autocast(device):
            genic = model.probabilities(model(x, cov))["genic"]
        pred = genic.argmax(-1).cpu().numpy()
        y = batch["y"].numpy()
        keep = y >= 0
        cm += metrics.confusion(y[keep], pred[keep])
    model.train(was_training)
    s = metrics.scores(cm)
    return {"genic_f1": s["genic"][2], **{f"{c}_f1": s[c][2] for c in layout.CLASSES}}


def trainable_parameters(model, cfg: TrainConfig):
    """The parameters the mode trains: all (scratch, full), the head (head, coverage), or the head
    and the last `unfreeze_last` trunk layer groups."""
    groups = model.layer_groups()
    if cfg.mode in ("scratch", "full"):
        return [p for _, params in groups for p in params]
    if cfg.mode == "unfreeze_last":
        if cfg.unfreeze_last > len(groups) - 1:
            raise InputError(f"fine-tuning: unfreeze_last {cfg.unfreeze_last} exceeds the {len(groups) - 1} trunk "
                             f"layer groups of this {model.family} model ({', '.join(n for n, _ in groups[:-1])})")
        return [p for _, params in groups[-1 - cfg.unfreeze_last:] for p in params]
    return list(groups[-1][1])


def freeze_for_mode(model, cfg: TrainConfig):
    """requires_grad per the mode; returns the trainable parameters."""
    params = trainable_parameters(model, cfg)
    chosen = {id(p) for p in params}
    for p in model.parameters():
        p.requires_grad = id(p) in chosen
    return params


def train_mode(model, cfg: TrainConfig):
    """model.train(), with batch norms in inference mode where their weights are frozen (as in
    Keras) or where the settings keep the base model's statistics (batch_norm frozen)."""
    model.train()
    keep_stats = cfg.batch_norm == "frozen" or (cfg.batch_norm == "auto" and cfg.mode != "scratch")
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and (
                keep_stats or not any(p.requires_grad for p in m.parameters())):
            m.eval()


def _seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_for_mode(cfg: TrainConfig, base_path, n_bams):
    """(model, parent checkpoint or None) for the configured mode."""
    if cfg.mode == "scratch":
        return build(cfg.family, cfg.architecture, "training settings (architecture)"), None
    if not base_path:
        raise InputError(f"fine-tuning mode '{cfg.mode}' needs a base model (--base-model)")
    parent = load_checkpoint(base_path)
    model = build_model(parent, base_path)
    if cfg.add_boundary_head and "boundary" not in model.outputs:
        if model.family != "hybrid":
            raise InputError(f"{base_path}: add_boundary_head is for HybridModels, not {model.family} models")
        model = with_boundary_head(model)
    if cfg.mode == "coverage":
        if not n_bams:
            raise InputError("fine-tuning mode 'coverage' needs RNA-seq coverage in the training data")
        if model.family != "hybrid":
            raise InputError(f"{base_path}: fine-tuning mode 'coverage' is built for HybridModels; "
                             f"use full, head or unfreeze_last for this {model.family} model")
        if model.input_channels > 4:
            raise InputError(f"{base_path}: base model already reads coverage; use mode 'full' or 'head'")
        model = with_coverage_head(model, n_bams, hidden_layer=cfg.coverage_hidden_layer)
    elif model.input_channels > 4 and not n_bams:
        raise InputError(f"{base_path}: model reads coverage but the training data has none")
    return model, parent


def train(cfg: TrainConfig, train_h5, val_h5, out_dir, base_model=None, resume=True, model_card=None,
          threads=None):
    """Train; writes out_dir/{best,last}.pt and metrics.tsv. Returns the best validation metrics."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if threads:
        torch.set_num_threads(threads)
    _seed_everything(cfg.seed)
    device = pick_device()
    with h5py.File(train_h5, "r") as h5:
        prefix = layout.DEFAULT_COVERAGE_PREFIX
        has_cov = layout.coverage_name(prefix) in h5
        n_bams = h5[layout.coverage_name(prefix)].shape[2] if has_cov else 0
        bams = [b.decode() for b in h5[layout.bam_files_name(prefix)][:]] if has_cov else []
        strands = [s.decode() for s in h5[layout.strandedness_name(prefix)][:]] if has_cov else []
    model, parent = build_for_mode(cfg, base_model, n_bams)
    uses_cov = model.input_channels > 4
    cov_prefix = prefix if uses_cov else None
    train_ds = ChunkDataset(train_h5, cfg.class_weights, cfg.transition_weights, cov_prefix,
                            cfg.max_train_chunks, cfg.seed)
    val_ds = ChunkDataset(val_h5, None, None, cov_prefix, cfg.max_val_chunks, cfg.seed)
    if not len(train_ds) or not len(val_ds):
        raise InputError(f"no usable chunks: {len(train_ds)} in {train_h5}, {len(val_ds)} in {val_h5}")
    gen = torch.Generator().manual_seed(cfg.seed)
    train_loader = torch.utils.data.DataLoader(train_ds, batch_size=cfg.batch_size, shuffle=True, generator=gen)
    val_loader = torch.utils.data.DataLoader(val_ds, batch_size=cfg.batch_size)
    model.to(device)
    params = freeze_for_mode(model, cfg)
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = len(train_loader)
    total_steps = cfg.epochs * steps_per_epoch
    channels = input_channels(bams, strands, prefix) if uses_cov else input_channels()
    meta = {"train_config": asdict(cfg), "parent_sha256": sha256(base_model) if parent else None,
            "model_card": model_card or (parent or {}).get("model_card", {})}

    step, epoch, best, bad = 0, 0, -1.0, 0
    last_path, best_path, tsv = out_dir / "last.pt", out_dir / "best.pt", out_dir / "metrics.tsv"
    if resume and last_path.exists():
        state = load_checkpoint(last_path)
        if state.get("train_config") != asdict(cfg):
            raise InputError(f"{last_path}: was trained with other settings; remove it to start afresh")
        model.load_state_dict(state["model_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        step, epoch, best, bad = state["step"], state["epoch"], state["best_metric"], state["bad_checks"]
        torch.set_rng_state(state["rng_state"]["torch"])
        gen.set_state(state["rng_state"]["loader"])
        np.random.set_state(state["rng_state"]["numpy"])
        log.info("resumed from %s at epoch %d step %d (best genic F1 %.4f)", last_path, epoch, step, best)
    else:
        tsv.write_text("epoch\tstep\ttrain_loss\tlr\t" + "\t".join(
            ["genic_f1"] + [f"{c}_f1" for c in layout.CLASSES]) + "\tseconds\n")

    def record(ep, train_loss, lr, val, secs):
        with open(tsv, "a") as fh:
            fh.write(f"{ep}\t{step}\t{train_loss:.5f}\t{lr:.3g}\t" + "\t".join(
                f"{val[k]:.5f}" for k in ["genic_f1"] + [f"{c}_f1" for c in layout.CLASSES]) + f"\t{secs:.1f}\n")

    def save(path, val):
        card = {**meta["model_card"], "validation_metrics": {k: round(float(v), 4) for k, v in val.items()}}
        save_checkpoint(path, model, channels, **{**meta, "model_card": card},
                        optimizer_state=optimizer.state_dict(), step=step, epoch=epoch, best_metric=best,
                        bad_checks=bad, val_metrics=val,
                        rng_state={"torch": torch.get_rng_state(), "loader": gen.get_state(),
                                   "numpy": np.random.get_state()})

    log.info("config: %s", json.dumps(asdict(cfg)))
    log.info("device %s, %d train / %d val chunks, %d trainable parameters", device, len(train_ds),
             len(val_ds), sum(p.numel() for p in params))
    if epoch == 0:
        t0 = time.time()
        val = evaluate(model, val_loader, device)
        best = val["genic_f1"]
        log.info("epoch 0 (starting model): val genic F1 %.4f", best)
        record(0, float("nan"), 0.0, val, time.time() - t0)
        save(best_path, val)
        save(last_path, val)
    while epoch < cfg.epochs and bad < cfg.patience:
        epoch += 1
        train_mode(model, cfg)
        t0, losses = time.time(), []
        for batch in train_loader:
            lr = lr_at(step, total_steps, cfg)
            for g in optimizer.param_groups:
                g["lr"] = lr
            with autocast(device):
                loss = batch_loss(model, batch, device, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            losses.append(loss.item())
            step += 1
            if step % cfg.log_every == 0:
                log.info("epoch %d step %d loss %.4f lr %.2e %.2fs/step", epoch, step, np.mean(losses[-cfg.log_every:]),
                         lr, (time.time() - t0) / len(losses))
        val = evaluate(model, val_loader, device)
        improved = val["genic_f1"] > best
        if improved:
            best, bad = val["genic_f1"], 0
        else:
            bad += 1
        record(epoch, float(np.mean(losses)), lr, val, time.time() - t0)
        log.info("epoch %d: train loss %.4f, val genic F1 %.4f (best %.4f)%s", epoch, np.mean(losses),
                 val["genic_f1"], best, " -> best.pt" if improved else f", {bad}/{cfg.patience} without improvement")
        if improved:
            save(best_path, val)
        save(last_path, val)
    return load_checkpoint(best_path)["val_metrics"]
