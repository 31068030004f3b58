"""One training loop for pretraining, fine-tuning and resuming (nanoGPT-style, top to bottom).

Modes: scratch (new model from `architecture`), full (all weights of the base model train),
head (trunk frozen, the pretrained head trains), coverage (trunk frozen, a head that also
reads RNA-seq coverage, started as the base head so step 0 equals the base model).
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
from .model import Architecture, HybridModel, trunk_parameters, with_coverage_head

log = logging.getLogger("genetune.train")
MODES = ("scratch", "full", "head", "coverage")


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
    seed: int = 1
    max_train_chunks: int = 0  # 0 = all
    max_val_chunks: int = 0
    coverage_hidden_layer: bool = False
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


def batch_loss(model, batch, device, phase_weight):
    x = batch["x"].to(device)
    cov = batch["coverage"].to(device) if "coverage" in batch else None
    y, ph, w = batch["y"].to(device), batch["phase"].to(device), batch["w"].to(device)
    genic, phase = model(x, cov)
    denom = w.sum().clamp(min=1.0)
    loss = (F.cross_entropy(genic.float().reshape(-1, 4), y.reshape(-1).clamp(min=0), reduction="none")
            * w.reshape(-1)).sum() / denom
    if phase is not None and phase_weight:
        pw = w * (ph >= 0)
        lp = (F.cross_entropy(phase.float().reshape(-1, 4), ph.reshape(-1).clamp(min=0), reduction="none")
              * pw.reshape(-1)).sum() / pw.sum().clamp(min=1.0)
        loss = (1 - phase_weight) * loss + phase_weight * lp
    return loss


@torch.no_grad()
def evaluate(model, loader, device) -> dict:
    """Validation loss-free metrics: genic F1 and per-class F1 over valid bases."""
    was_training = model.training
    model.eval()
    cm = np.zeros((4, 4), dtype=np.int64)
    for batch in loader:
        x = batch["x"].to(device)
        cov = batch["coverage"].to(device) if "coverage" in batch else None
        with autocast(device):
            genic, _ = model(x, cov)
        pred = genic.argmax(-1).cpu().numpy()
        y = batch["y"].numpy()
        keep = y >= 0
        cm += metrics.confusion(y[keep], pred[keep])
    model.train(was_training)
    s = metrics.scores(cm)
    return {"genic_f1": s["genic"][2], **{f"{c}_f1": s[c][2] for c in layout.CLASSES}}


def _seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_for_mode(cfg: TrainConfig, base_path, n_bams):
    """(model, parent checkpoint or None) for the configured mode."""
    if cfg.mode == "scratch":
        return HybridModel(Architecture(**cfg.architecture)), None
    parent = load_checkpoint(base_path)
    model = build_model(parent, base_path)
    if cfg.mode == "coverage":
        if not n_bams:
            raise InputError("fine-tuning mode 'coverage' needs RNA-seq coverage in the training data")
        if model.arch.input_coverage:
            raise InputError(f"{base_path}: base model already reads coverage; use mode 'full' or 'head'")
        model = with_coverage_head(model, n_bams, hidden_layer=cfg.coverage_hidden_layer)
    elif model.arch.input_coverage and not n_bams:
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
    uses_cov = model.arch.input_coverage
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
    frozen = cfg.mode in ("head", "coverage")
    for p in trunk_parameters(model):
        p.requires_grad = not frozen
    params = [p for p in model.parameters() if p.requires_grad]
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
        model.train()
        if frozen:  # frozen batch norm runs in inference mode, as in Keras
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm1d):
                    m.eval()
        t0, losses = time.time(), []
        for batch in train_loader:
            lr = lr_at(step, total_steps, cfg)
            for g in optimizer.param_groups:
                g["lr"] = lr
            with autocast(device):
                loss = batch_loss(model, batch, device, cfg.phase_loss_weight)
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
