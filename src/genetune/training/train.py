"""One training loop for pretraining, fine-tuning and resuming (nanoGPT-style, top to bottom).

Modes, for every model family: scratch (new model of `family` from `architecture`), full (all
weights of the base model train), head (trunk frozen, the pretrained head trains),
unfreeze_last (the last `unfreeze_last` layer groups of the trunk and the head train, as
OpenSpliceAI's --unfreeze), coverage (trunk frozen; RNA-seq coverage enters through the adapter
of models/adapter.py before the head, which starts as a no-op so step 0 equals the base model).
Frozen batch norms run in inference mode. The loss is cross-entropy (or focal loss) of each
output the model has against its target (targets.py), weighted per base (losses.py).

Validation runs every epoch, or every `check_every` steps; the starting model is scored first
(the baseline row), best.pt changes only on an improvement of more than `min_delta` of the
validation genic F1, and `patience` checks without one stop training (Helixer never evaluates
the baseline, §9.7). Learning rates: schedule.py. metrics.tsv is long format (epoch, step,
split, metric, value, lr).

Resume: every `save_every` steps and at every check the whole training state (weights,
optimiser, RNG states, position in the epoch's seeded batch order, metric rows, best weights)
goes atomically to one state file that is not a workflow output, so Snakemake does not delete it
when a killed job is rerun; best.pt, last.pt and metrics.tsv are always rewritten whole from it.
A rerun continues from the last saved step and ends with the weights and metrics an
uninterrupted run gives. A state from other settings or other inputs is set aside, not reused.
"""

import copy
import hashlib
import json
import logging
import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from genetune.core import layout, metrics
from genetune.core.device import autocast, pick_device
from genetune.core.errors import InputError
from genetune.core.fileio import atomic_path, open_h5
from genetune.core.settings import validate_section
from genetune.models import DEFAULT_FAMILY, build, with_coverage_adapter
from genetune.models.checkpoint import build_model, input_channels, load_checkpoint, save_checkpoint, sha256
from genetune.training.data import ChunkDataset
from genetune.training.losses import weighted_loss
from genetune.training.metrics_table import write_metrics
from genetune.training.schedule import lr_at, plateau_reductions

log = logging.getLogger("genetune.train")
# the batch key each model output is trained on (targets.py, data.ChunkDataset)
TARGET_OF_OUTPUT = {"genic": "y", "classes": "classes", "phase": "phase", "boundary": "boundary"}
STATE_VERSION = 2


@dataclass
class TrainConfig:
    mode: str = "full"
    unfreeze_last: int = 0  # mode unfreeze_last: trunk layer groups that train, counted from the top
    epochs: int = 10
    batch_size: int = 8
    # optimiser: AdamW
    lr: float = 1e-4
    weight_decay: float = 3.5e-5
    grad_clip: float = 3.0  # max gradient norm (0: off)
    trunk_lr_ratio: float = 1.0  # the trunk's layer groups train at lr x this (the head at lr)
    # schedule (schedule.py)
    schedule: str = "cosine"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.1  # cosine floor; plateau's lowest lr
    restart_steps: int = 100  # cosine_restarts: length of the first cycle
    restart_mult: int = 1  # cosine_restarts: each cycle this many times longer
    milestones: list = field(default_factory=list)  # multistep: steps where lr is multiplied by gamma
    gamma: float = 0.1
    plateau_factor: float = 0.5
    plateau_patience: int = 3
    # checking and stopping
    check_every: int = 0  # steps between validation checks (0: at every epoch's end)
    patience: int = 3  # checks without improvement before stopping
    min_delta: float = 0.0  # an improvement must exceed this
    # loss (losses.py)
    class_weights: list = field(default_factory=lambda: [0.7, 1.6, 1.2, 1.2])
    transition_weights: list = field(default_factory=lambda: [1, 12, 3, 1, 12, 3])
    phase_loss_weight: float = 0.2
    boundary_loss_weight: float = 0.2  # for models with a boundary head
    loss: str = "cross_entropy"  # or "focal"
    focal_gamma: float = 2.0
    focal_alpha: list = None  # focal: weight per class of the main output (4 genic or geneML's 7); None: 1
    # data
    seed: int = 1
    max_train_chunks: int = 0  # 0 = all
    max_val_chunks: int = 0
    checkpoint_metric: str = "auto"  # auto | genic_f1 | evidence_genic_f1: what best.pt and patience follow
    # model changes
    add_boundary_head: bool = False  # HybridModel without one: train a new boundary head too
    coverage_width: int = 16  # mode coverage: adapter channels
    coverage_kernel: int = 9  # mode coverage: adapter convolution width (bases)
    coverage_hidden_layer: bool = False  # mode coverage: the adapter's non-linear hidden branch
    # "frozen": batch norms keep the base model's statistics (inference mode) while their scale and
    # shift may train; "train": batch statistics as in pretraining; "auto": frozen unless mode scratch
    batch_norm: str = "auto"
    family: str = DEFAULT_FAMILY  # scratch mode only
    architecture: dict = field(default_factory=dict)  # scratch mode only
    # bookkeeping
    log_every: int = 20
    save_every: int = 50  # steps between resume states (and at every check)

    @classmethod
    def from_dict(cls, d, source="--settings"):
        """Settings validated once, by the config schema's finetune section (settings.py), plus the
        one rule between two keys the schema does not state."""
        cfg = cls(**validate_section("finetune", dict(d or {}), source))
        if (cfg.mode == "unfreeze_last") != (cfg.unfreeze_last > 0):
            raise InputError(
                "fine-tuning: mode 'unfreeze_last' needs unfreeze_last >= 1 (the trunk layer groups "
                f"that train), and only that mode takes it (mode {cfg.mode}, unfreeze_last "
                f"{cfg.unfreeze_last})"
            )
        return cfg


def _with_flanks(model, x, fill=0.0):
    """`flank` bases either side (N for DNA, -1 = no data for coverage) for models whose forward()
    consumes context at both ends."""
    f = model.flank
    return F.pad(x, (0, 0, f, f), value=fill) if f else x


def _inputs(model, batch, device):
    x = _with_flanks(model, batch["x"].to(device))
    cov = _with_flanks(model, batch["coverage"].to(device), -1.0) if "coverage" in batch else None
    return x, cov


def batch_loss(model, batch, device, cfg: TrainConfig):
    """Weighted loss of every output against its target: the genic (or class) output with weight
    1 - phase_loss_weight, phase with phase_loss_weight (Helixer's 0.8 / 0.2), plus
    boundary_loss_weight x the boundary output where the model has one."""
    w = batch["w"].to(device)
    logits = model(*_inputs(model, batch, device))
    terms = {}
    for name, v in logits.items():
        main = name in ("genic", "classes")
        terms[name] = weighted_loss(
            v, batch[TARGET_OF_OUTPUT[name]].to(device), w, cfg.loss, cfg.focal_gamma, cfg.focal_alpha if main else None
        )
    main = terms.pop("genic", None)
    main = terms.pop("classes") if main is None else main
    loss = main
    if "phase" in terms and cfg.phase_loss_weight:
        loss = (1 - cfg.phase_loss_weight) * main + cfg.phase_loss_weight * terms["phase"]
    if "boundary" in terms and cfg.boundary_loss_weight:
        loss = loss + cfg.boundary_loss_weight * terms["boundary"]
    return loss


@torch.no_grad()
def evaluate_model(model, loader, device) -> dict:
    """Validation: loss of the main output (per-base weights, no class weights), genic F1 and the
    F1 of each class over valid bases, and the genic F1 over the bases of the genes the reads back
    (sample weight > 1) with their count."""
    was_training = model.training
    model.eval()
    cm = np.zeros((4, 4), dtype=np.int64)
    cm_evidence = np.zeros((4, 4), dtype=np.int64)
    loss_sum, weight_sum = 0.0, 0.0
    for batch in loader:
        with autocast(device):
            logits = model(*_inputs(model, batch, device))
        name = "genic" if "genic" in logits else "classes"
        target = batch[TARGET_OF_OUTPUT[name]].to(device)
        w = batch["w"].to(device) * (target >= 0)
        loss_sum += float(weighted_loss(logits[name], target, w) * w.sum().clamp(min=1.0))
        weight_sum += float(w.sum())
        pred = model.probabilities(logits)["genic"].argmax(-1).cpu().numpy()
        y = batch["y"].numpy()
        keep = y >= 0
        cm += metrics.confusion(y[keep], pred[keep])
        if "evidence" in batch:
            backed = keep & batch["evidence"].numpy()
            cm_evidence += metrics.confusion(y[backed], pred[backed])
    model.train(was_training)
    s = metrics.scores(cm)
    return {
        "loss": loss_sum / max(weight_sum, 1.0),
        "genic_f1": s["genic"][2],
        **{f"{c}_f1": s[c][2] for c in layout.CLASSES},
        "evidence_genic_f1": metrics.scores(cm_evidence)["genic"][2],
        "evidence_bases": int(cm_evidence.sum()),
    }


MIN_EVIDENCE_BASES = 2000  # validation bases of read-backed genes enough to choose checkpoints by them


def checkpoint_metric(cfg, val):
    """The validation metric best.pt is chosen by: the setting, or with `auto` the genic F1 over the
    genes the reads back when validation holds MIN_EVIDENCE_BASES of their bases (agreement with the
    network's own pseudolabels rewards the starting model for staying as it was), else genic F1."""
    if cfg.checkpoint_metric != "auto":
        return cfg.checkpoint_metric
    return "evidence_genic_f1" if val.get("evidence_bases", 0) >= MIN_EVIDENCE_BASES else "genic_f1"


def trainable_groups(model, cfg: TrainConfig):
    """[(name, parameters, is_trunk)] the mode trains: all (scratch, full), the head (head,
    coverage; the adapter belongs to the head), or the head and the last `unfreeze_last` trunk
    layer groups."""
    groups = model.layer_groups()
    marked = [(name, params, i < len(groups) - 1) for i, (name, params) in enumerate(groups)]
    if cfg.mode in ("scratch", "full"):
        return marked
    if cfg.mode == "unfreeze_last":
        if cfg.unfreeze_last > len(groups) - 1:
            raise InputError(
                f"fine-tuning: unfreeze_last {cfg.unfreeze_last} exceeds the {len(groups) - 1} trunk "
                f"layer groups of this {model.family} model ({', '.join(n for n, _ in groups[:-1])})"
            )
        return marked[-1 - cfg.unfreeze_last :]
    return marked[-1:]


def freeze_for_mode(model, cfg: TrainConfig):
    """requires_grad per the mode; returns the optimiser's parameter groups (trunk at trunk_lr_ratio)."""
    chosen = trainable_groups(model, cfg)
    ids = {id(p) for _, params, _ in chosen for p in params}
    for p in model.parameters():
        p.requires_grad = id(p) in ids
    trunk = [p for _, params, is_trunk in chosen if is_trunk for p in params]
    head = [p for _, params, is_trunk in chosen if not is_trunk for p in params]
    return [
        g for g in ({"params": head, "lr_ratio": 1.0}, {"params": trunk, "lr_ratio": cfg.trunk_lr_ratio}) if g["params"]
    ]


def train_mode(model, cfg: TrainConfig):
    """model.train(), with batch norms in inference mode where their weights are frozen (as in
    Keras) or where the settings keep the base model's statistics (batch_norm frozen)."""
    model.train()
    keep_stats = cfg.batch_norm == "frozen" or (cfg.batch_norm == "auto" and cfg.mode != "scratch")
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and (
            keep_stats or not any(p.requires_grad for p in m.parameters())
        ):
            m.eval()


def build_for_mode(cfg: TrainConfig, base_path, n_bams):
    """(model, parent checkpoint or None) for the configured mode."""
    if cfg.mode == "scratch":
        return build(cfg.family, cfg.architecture, "training settings (architecture)"), None
    if not base_path:
        raise InputError(f"fine-tuning mode '{cfg.mode}' needs a base model (--base-model)")
    parent = load_checkpoint(base_path)
    model = build_model(parent, base_path)
    if cfg.add_boundary_head and "boundary" not in model.outputs:
        model = model.with_boundary_head()
    if cfg.mode == "coverage":
        if not n_bams:
            raise InputError("fine-tuning mode 'coverage' needs RNA-seq coverage in the training data")
        adapter = getattr(model.arch, "coverage_adapter", None)
        if adapter:  # a coverage model of an earlier round: its adapter trains on
            if adapter["n_bams"] != n_bams:
                raise InputError(
                    f"{base_path}: its coverage adapter reads {adapter['n_bams']} BAM(s), the training "
                    f"data has {n_bams}"
                )
        elif model.input_channels > 4:
            raise InputError(
                f"{base_path}: base model already reads coverage (Helixer's coverage hat); use mode 'full' or 'head'"
            )
        else:
            model = with_coverage_adapter(
                model, n_bams, cfg.coverage_width, cfg.coverage_kernel, cfg.coverage_hidden_layer
            )
    elif model.input_channels > 4 and not n_bams:
        raise InputError(f"{base_path}: model reads coverage but the training data has none")
    return model, parent


def epoch_batches(n, batch_size, seed, epoch):
    """The batches of row indices of an epoch: a permutation seeded by (seed, epoch), so a resumed
    run can recreate it and skip the batches already done."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch)).tolist()
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def fingerprint(cfg, paths):
    """What a resume state must match: the settings and the bytes of the inputs."""
    h = hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True).encode())
    for p in paths:
        h.update((sha256(p) if p else "none").encode())
    return h.hexdigest()


@dataclass
class TrainState:
    """Everything a resumed run needs, saved whole to the state file at every check and every
    `save_every` steps: position (epoch, batch of the epoch, step), metric rows, the best weights
    so far and the patience count, and the model, optimiser and RNG states."""

    fingerprint: str
    version: int = STATE_VERSION
    step: int = 0
    epoch: int = 0  # epochs completed
    batch: int = 0  # batches of the current epoch done
    rows: list = field(default_factory=list)  # metrics.tsv rows
    history: list = field(default_factory=list)  # the checkpoint metric of every check after the baseline (plateau)
    metric_name: str = ""  # the checkpoint metric, chosen at the first check (checkpoint_metric)
    best_metric: float = -1.0
    best_state: dict = None
    best_step: int = 0
    best_epoch: int = 0
    best_val: dict = None
    val: dict = None  # the last check's metrics
    bad: int = 0  # checks without improvement
    loss_sum: float = 0.0  # training loss since the last check
    loss_n: int = 0
    done: bool = False
    model_state: dict = None
    optimizer_state: dict = None
    rng: dict = None


@dataclass
class Run:
    """What a run holds fixed: settings, model, optimiser and its parameter groups, data, files."""

    cfg: TrainConfig
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    groups: list  # [{"params", "lr_ratio"}] of freeze_for_mode
    train_ds: ChunkDataset
    val_loader: torch.utils.data.DataLoader
    device: torch.device
    total_steps: int
    channels: dict  # the checkpoint's input channels record
    meta: dict  # train_config, parent_sha256, model_card of every checkpoint
    out_dir: Path
    state_path: Path


def load_state(path, key):
    """The TrainState in `path` if it is from these settings and inputs (`key`), else None."""
    if not path.exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # a state torn by a crash while it was renamed cannot happen; any other
        log.warning("%s: unreadable resume state (%s); starting afresh", path, exc)
        return None
    if not isinstance(saved, dict) or saved.get("version") != STATE_VERSION or saved.get("fingerprint") != key:
        log.info("%s: from other settings or inputs; starting afresh", path)
        return None
    return TrainState(**saved)


def save_state(run: Run, st: TrainState):
    st.model_state, st.optimizer_state = run.model.state_dict(), run.optimizer.state_dict()
    st.rng = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    with atomic_path(run.state_path) as tmp:
        torch.save(asdict(st), tmp)


def restore(run: Run, st: TrainState):
    run.model.load_state_dict(st.model_state)
    run.optimizer.load_state_dict(st.optimizer_state)
    torch.set_rng_state(st.rng["torch"])
    np.random.set_state(st.rng["numpy"])
    random.setstate(st.rng["python"])


def current_lr(run: Run, st: TrainState):
    cfg = run.cfg
    return lr_at(st.step, run.total_steps, cfg, plateau_reductions(st.history, cfg.plateau_patience, cfg.min_delta))


def write_outputs(run: Run, st: TrainState):
    """best.pt, last.pt and metrics.tsv, all from the state."""

    def extra(val, best):
        card = {**run.meta["model_card"], "validation_metrics": {k: round(float(v), 4) for k, v in val.items()}}
        return {
            **run.meta,
            "model_card": card,
            "step": st.best_step if best else st.step,
            "epoch": st.best_epoch if best else st.epoch,
            "best_metric": st.best_metric,
            "val_metrics": val,
        }

    best_model = copy.deepcopy(run.model)
    best_model.load_state_dict(st.best_state)
    save_checkpoint(run.out_dir / "best.pt", best_model, run.channels, **extra(st.best_val, True))
    save_checkpoint(run.out_dir / "last.pt", run.model, run.channels, **extra(st.val, False))
    write_metrics(st.rows, run.out_dir / "metrics.tsv")


def check(run: Run, st: TrainState, epoch_label):
    """Validate, record, keep the best, save the state and the outputs; True to stop."""
    val = evaluate_model(run.model, run.val_loader, run.device)
    lr = current_lr(run, st)
    if st.loss_n:
        st.rows.append((epoch_label, st.step, "train", "loss", st.loss_sum / st.loss_n, lr))
    st.rows.extend((epoch_label, st.step, "val", name, float(v), lr) for name, v in val.items())
    st.loss_sum, st.loss_n = 0.0, 0
    if not st.metric_name:
        st.metric_name = checkpoint_metric(run.cfg, val)
        log.info(
            "checkpoints chosen by validation %s (%d bases of read-backed genes in validation)",
            st.metric_name,
            val.get("evidence_bases", 0),
        )
    metric = val[st.metric_name]
    baseline = st.best_state is None
    improved = baseline or metric > st.best_metric + run.cfg.min_delta
    if not baseline:
        st.history.append(metric)
    if improved:
        st.best_metric, st.best_state = metric, copy.deepcopy(run.model.state_dict())
        st.best_step, st.best_epoch, st.best_val, st.bad = st.step, epoch_label, val, 0
    else:
        st.bad += 1
    st.val = val
    save_state(run, st)
    write_outputs(run, st)
    what = (
        "starting model"
        if baseline
        else ("-> best.pt" if improved else f"{st.bad}/{run.cfg.patience} checks without improvement")
    )
    log.info(
        "epoch %d step %d: val %s %.4f (genic F1 %.4f), val loss %.4f, lr %.2e (best %.4f) %s",
        epoch_label,
        st.step,
        st.metric_name,
        metric,
        val["genic_f1"],
        val["loss"],
        lr,
        st.best_metric,
        what,
    )
    return st.bad >= run.cfg.patience


def train_step(run: Run, st: TrainState, rows, epoch):
    """One optimiser step on the batch of dataset rows; returns (loss, lr)."""
    cfg = run.cfg
    batch = torch.utils.data.default_collate([run.train_ds[i] for i in rows])
    lr = current_lr(run, st)
    for g, spec in zip(run.optimizer.param_groups, run.groups):
        g["lr"] = lr * spec["lr_ratio"]
    with autocast(run.device):
        loss = batch_loss(run.model, batch, run.device, cfg)
    if not torch.isfinite(loss):
        raise InputError(
            f"training diverged: the loss is {loss.item()} at step {st.step + 1} (epoch {epoch}); "
            f"best.pt and last.pt hold the last good weights. Lower lr ({cfg.lr:g}) or raise "
            "warmup_steps"
        )
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_([p for g in run.groups for p in g["params"]], cfg.grad_clip)
    run.optimizer.step()
    st.step += 1
    st.batch += 1
    st.loss_sum += loss.item()
    st.loss_n += 1
    return loss.item(), lr


def setup(cfg: TrainConfig, train_h5, val_h5, out_dir, base_model, model_card, state_path):
    """The Run of these settings and files: data, the mode's model, its optimiser, checkpoint metadata."""
    with open_h5(train_h5) as h5:
        prefix = layout.DEFAULT_COVERAGE_PREFIX
        has_cov = layout.coverage_name(prefix) in h5
        n_bams = h5[layout.coverage_name(prefix)].shape[2] if has_cov else 0
        bams = [b.decode() for b in h5[layout.bam_files_name(prefix)][:]] if has_cov else []
        strands = [s.decode() for s in h5[layout.strandedness_name(prefix)][:]] if has_cov else []
    model, parent = build_for_mode(cfg, base_model, n_bams)
    uses_cov = model.input_channels > 4
    cov_prefix = prefix if uses_cov else None
    train_ds = ChunkDataset(
        train_h5, cfg.class_weights, cfg.transition_weights, cov_prefix, cfg.max_train_chunks, cfg.seed
    )
    val_ds = ChunkDataset(val_h5, None, None, cov_prefix, cfg.max_val_chunks, cfg.seed)
    if not len(train_ds) or not len(val_ds):
        raise InputError(f"no usable chunks: {len(train_ds)} in {train_h5}, {len(val_ds)} in {val_h5}")
    device = pick_device()
    model.to(device)
    groups = freeze_for_mode(model, cfg)
    optimizer = torch.optim.AdamW([{"params": g["params"]} for g in groups], lr=cfg.lr, weight_decay=cfg.weight_decay)
    meta = {
        "train_config": asdict(cfg),
        "parent_sha256": sha256(base_model) if parent else None,
        "model_card": model_card or (parent or {}).get("model_card", {}),
    }
    return Run(
        cfg,
        model,
        optimizer,
        groups,
        train_ds,
        torch.utils.data.DataLoader(val_ds, batch_size=cfg.batch_size),
        device,
        cfg.epochs * math.ceil(len(train_ds) / cfg.batch_size),
        input_channels(bams, strands, prefix) if uses_cov else input_channels(),
        meta,
        Path(out_dir),
        Path(state_path) if state_path else Path(out_dir) / "resume_state.pt",
    )


def train(
    cfg: TrainConfig,
    train_h5,
    val_h5,
    out_dir,
    base_model=None,
    resume=True,
    model_card=None,
    threads=None,
    state_path=None,
    progress=True,
):
    """Train; writes out_dir/{best,last}.pt and metrics.tsv (out_dir is made by the first write, so a
    failed start leaves nothing). Returns the best validation metrics."""
    if threads:
        torch.set_num_threads(threads)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    run = setup(cfg, train_h5, val_h5, out_dir, base_model, model_card, state_path)
    key = fingerprint(cfg, [train_h5, val_h5, base_model])
    st = load_state(run.state_path, key) if resume else None
    if st is not None:
        restore(run, st)
        log.info(
            "resumed from %s at epoch %d, step %d (best val genic F1 %.4f)",
            run.state_path,
            st.epoch + 1,
            st.step,
            st.best_metric,
        )
    else:
        st = TrainState(fingerprint=key)
    steps_per_epoch = math.ceil(len(run.train_ds) / cfg.batch_size)
    log.info("config: %s", json.dumps(asdict(cfg)))
    log.info(
        "device %s, %d train / %d val chunks, %d trainable parameters, %d steps per epoch",
        run.device,
        len(run.train_ds),
        len(run.val_loader.dataset),
        sum(p.numel() for g in run.groups for p in g["params"]),
        steps_per_epoch,
    )

    # the baseline check, then epochs of seeded batches with a check every epoch (or every check_every steps)
    if st.best_state is None:
        st.done = check(run, st, 0)
    while not st.done and st.epoch < cfg.epochs:
        epoch = st.epoch + 1
        train_mode(run.model, cfg)
        batches = epoch_batches(len(run.train_ds), cfg.batch_size, cfg.seed, epoch)
        t0 = time.time()
        bar = tqdm(
            batches[st.batch :],
            desc=f"epoch {epoch}",
            unit="step",
            file=sys.stderr,
            mininterval=10,
            disable=not progress,
        )
        stop = False
        for rows in bar:
            loss, lr = train_step(run, st, rows, epoch)
            bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}", refresh=False)
            if st.step % cfg.log_every == 0:
                log.info(
                    "epoch %d step %d loss %.4f lr %.2e %.2fs/step",
                    epoch,
                    st.step,
                    loss,
                    lr,
                    (time.time() - t0) / max(1, st.batch),
                )
            if cfg.check_every and st.step % cfg.check_every == 0:
                if check(run, st, epoch):
                    stop = True
                    break
            elif st.step % cfg.save_every == 0:
                save_state(run, st)
        bar.close()
        if not stop:
            st.epoch, st.batch = epoch, 0
            if not cfg.check_every:
                stop = check(run, st, epoch)
            else:
                save_state(run, st)
        log.info("epoch %d done in %.1f s", epoch, time.time() - t0)
        st.done = stop
    if st.loss_n or st.val is None:  # steps since the last check (check_every not dividing the run)
        check(run, st, st.epoch)
    st.done = True
    save_state(run, st)
    write_outputs(run, st)
    return st.best_val
