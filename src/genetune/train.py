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

from . import layout, metrics
from .checkpoint import build_model, input_channels, load_checkpoint, save_checkpoint, sha256
from .data import ChunkDataset
from .errors import InputError
from .fileio import atomic_path, open_h5
from .losses import weighted_loss
from .models import build, with_coverage_adapter
from .models.hybrid import with_boundary_head
from .schedule import SCHEDULES, lr_at, plateau_reductions

log = logging.getLogger("genetune.train")
MODES = ("scratch", "full", "head", "unfreeze_last", "coverage")
# the batch key each model output is trained on (targets.py, data.ChunkDataset)
TARGET_OF_OUTPUT = {"genic": "y", "classes": "classes", "phase": "phase", "boundary": "boundary"}
METRICS_HEADER = ("epoch", "step", "split", "metric", "value", "lr")
STATE_VERSION = 1


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
    # model changes
    add_boundary_head: bool = False  # HybridModel without one: train a new boundary head too
    coverage_width: int = 16  # mode coverage: adapter channels
    coverage_kernel: int = 9  # mode coverage: adapter convolution width (bases)
    coverage_hidden_layer: bool = False  # mode coverage: the adapter's non-linear hidden branch
    # "frozen": batch norms keep the base model's statistics (inference mode) while their scale and
    # shift may train; "train": batch statistics as in pretraining; "auto": frozen unless mode scratch
    batch_norm: str = "auto"
    family: str = "hybrid"  # scratch mode only
    architecture: dict = field(default_factory=dict)  # scratch mode only
    # bookkeeping
    log_every: int = 20
    save_every: int = 50  # steps between resume states (and at every check)

    @classmethod
    def from_dict(cls, d):
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        unknown = set(d) - set(known)
        if unknown:
            raise InputError(f"unknown fine-tuning settings: {', '.join(sorted(unknown))}")
        cfg = cls(**known)
        cfg.validate()
        return cfg

    def validate(self):
        def bad(key, why):
            raise InputError(f"fine-tuning setting {key}: {getattr(self, key)!r} {why}")
        if self.mode not in MODES:
            raise InputError(f"fine-tuning mode '{self.mode}' is not one of {', '.join(MODES)}")
        if self.schedule not in SCHEDULES:
            bad("schedule", f"is not one of {', '.join(SCHEDULES)}")
        if self.loss not in ("cross_entropy", "focal"):
            bad("loss", "is neither cross_entropy nor focal")
        if self.batch_norm not in ("auto", "frozen", "train"):
            bad("batch_norm", "is not auto, frozen or train")
        for key in ("epochs", "batch_size", "patience", "log_every", "save_every", "plateau_patience",
                    "restart_steps", "restart_mult"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                bad(key, "must be a whole number >= 1")
        for key in ("lr",):
            if not isinstance(self.lr, (int, float)) or not self.lr > 0:
                bad(key, "must be a number > 0")
        for key in ("min_lr_ratio", "trunk_lr_ratio", "plateau_factor", "gamma", "phase_loss_weight"):
            v = getattr(self, key)
            if not isinstance(v, (int, float)) or not 0 <= v <= 1:
                bad(key, "must be a number from 0 to 1")
        for key in ("weight_decay", "grad_clip", "min_delta", "focal_gamma", "boundary_loss_weight",
                    "warmup_steps", "check_every", "max_train_chunks", "max_val_chunks", "unfreeze_last"):
            v = getattr(self, key)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                bad(key, "must be a number >= 0")
        if self.class_weights is not None and (len(self.class_weights) != 4 or min(self.class_weights) < 0):
            bad("class_weights", f"needs 4 non-negative numbers ({', '.join(layout.CLASSES)})")
        if self.transition_weights is not None and (len(self.transition_weights) != 6
                                                    or min(self.transition_weights) < 0):
            bad("transition_weights", f"needs 6 non-negative numbers ({', '.join(layout.TRANSITION_NAMES)})")
        if (self.mode == "unfreeze_last") != (self.unfreeze_last > 0):
            raise InputError("fine-tuning: mode 'unfreeze_last' needs unfreeze_last >= 1 (the trunk layer groups "
                             f"that train), and only that mode takes it (mode {self.mode}, unfreeze_last "
                             f"{self.unfreeze_last})")


def pick_device():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device):
    """bf16 autocast on CUDA (where it helps), nothing on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


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
        terms[name] = weighted_loss(v, batch[TARGET_OF_OUTPUT[name]].to(device), w, cfg.loss, cfg.focal_gamma,
                                    cfg.focal_alpha if main else None)
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
    """Validation: loss of the main output (per-base weights, no class weights), genic F1 and the
    F1 of each class over valid bases."""
    was_training = model.training
    model.eval()
    cm = np.zeros((4, 4), dtype=np.int64)
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
    model.train(was_training)
    s = metrics.scores(cm)
    return {"loss": loss_sum / max(weight_sum, 1.0), "genic_f1": s["genic"][2],
            **{f"{c}_f1": s[c][2] for c in layout.CLASSES}}


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
            raise InputError(f"fine-tuning: unfreeze_last {cfg.unfreeze_last} exceeds the {len(groups) - 1} trunk "
                             f"layer groups of this {model.family} model ({', '.join(n for n, _ in groups[:-1])})")
        return marked[-1 - cfg.unfreeze_last:]
    return marked[-1:]


def freeze_for_mode(model, cfg: TrainConfig):
    """requires_grad per the mode; returns the optimiser's parameter groups (trunk at trunk_lr_ratio)."""
    chosen = trainable_groups(model, cfg)
    ids = {id(p) for _, params, _ in chosen for p in params}
    for p in model.parameters():
        p.requires_grad = id(p) in ids
    trunk = [p for _, params, is_trunk in chosen if is_trunk for p in params]
    head = [p for _, params, is_trunk in chosen if not is_trunk for p in params]
    return [g for g in ({"params": head, "lr_ratio": 1.0}, {"params": trunk, "lr_ratio": cfg.trunk_lr_ratio})
            if g["params"]]


def train_mode(model, cfg: TrainConfig):
    """model.train(), with batch norms in inference mode where their weights are frozen (as in
    Keras) or where the settings keep the base model's statistics (batch_norm frozen)."""
    model.train()
    keep_stats = cfg.batch_norm == "frozen" or (cfg.batch_norm == "auto" and cfg.mode != "scratch")
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and (
                keep_stats or not any(p.requires_grad for p in m.parameters())):
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
        if model.family != "hybrid":
            raise InputError(f"{base_path}: add_boundary_head is for HybridModels, not {model.family} models")
        model = with_boundary_head(model)
    if cfg.mode == "coverage":
        if not n_bams:
            raise InputError("fine-tuning mode 'coverage' needs RNA-seq coverage in the training data")
        adapter = getattr(model.arch, "coverage_adapter", None)
        if adapter:  # a coverage model of an earlier round: its adapter trains on
            if adapter["n_bams"] != n_bams:
                raise InputError(f"{base_path}: its coverage adapter reads {adapter['n_bams']} BAM(s), the training "
                                 f"data has {n_bams}")
        elif model.input_channels > 4:
            raise InputError(f"{base_path}: base model already reads coverage (Helixer's coverage hat); use mode "
                             "'full' or 'head'")
        else:
            model = with_coverage_adapter(model, n_bams, cfg.coverage_width, cfg.coverage_kernel,
                                          cfg.coverage_hidden_layer)
    elif model.input_channels > 4 and not n_bams:
        raise InputError(f"{base_path}: model reads coverage but the training data has none")
    return model, parent


def epoch_batches(n, batch_size, seed, epoch):
    """The batches of row indices of an epoch: a permutation seeded by (seed, epoch), so a resumed
    run can recreate it and skip the batches already done."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch)).tolist()
    return [order[i: i + batch_size] for i in range(0, n, batch_size)]


def fingerprint(cfg, paths):
    """What a resume state must match: the settings and the bytes of the inputs."""
    h = hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True).encode())
    for p in paths:
        h.update((sha256(p) if p else "none").encode())
    return h.hexdigest()


def write_metrics(rows, path):
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("\t".join(METRICS_HEADER) + "\n")
        for r in rows:
            fh.write(f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4]:.6g}\t{r[5]:.6g}\n")


def read_metrics(path):
    """Rows of a metrics.tsv as dicts (value and lr as floats)."""
    lines = Path(path).read_text().splitlines()
    header = lines[0].split("\t")
    out = []
    for ln in lines[1:]:
        r = dict(zip(header, ln.split("\t")))
        r["epoch"], r["step"] = int(r["epoch"]), int(r["step"])
        r["value"], r["lr"] = float(r["value"]), float(r["lr"])
        out.append(r)
    return out


def train(cfg: TrainConfig, train_h5, val_h5, out_dir, base_model=None, resume=True, model_card=None,
          threads=None, state_path=None, progress=True):
    """Train; writes out_dir/{best,last}.pt and metrics.tsv. Returns the best validation metrics."""
    # --- setup: seeds, device, data, model, optimiser ---
    out_dir = Path(out_dir)  # made by the first write (fileio.atomic_path), so a failed start leaves nothing
    state_path = Path(state_path) if state_path else out_dir / "resume_state.pt"
    if threads:
        torch.set_num_threads(threads)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    device = pick_device()
    with open_h5(train_h5) as h5:
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
    val_loader = torch.utils.data.DataLoader(val_ds, batch_size=cfg.batch_size)
    model.to(device)
    groups = freeze_for_mode(model, cfg)
    optimizer = torch.optim.AdamW([{"params": g["params"]} for g in groups], lr=cfg.lr,
                                  weight_decay=cfg.weight_decay)
    params = [p for g in groups for p in g["params"]]
    steps_per_epoch = math.ceil(len(train_ds) / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    channels = input_channels(bams, strands, prefix) if uses_cov else input_channels()
    meta = {"train_config": asdict(cfg), "parent_sha256": sha256(base_model) if parent else None,
            "model_card": model_card or (parent or {}).get("model_card", {})}
    key = fingerprint(cfg, [train_h5, val_h5, base_model])

    # --- the training state: fresh, or resumed from the state file ---
    S = None
    if resume and state_path.exists():
        try:
            S = torch.load(state_path, map_location="cpu", weights_only=False)
        except Exception as exc:  # a state torn by a crash while it was renamed cannot happen; any other
            log.warning("%s: unreadable resume state (%s); starting afresh", state_path, exc)
        if S is not None and (S.get("version") != STATE_VERSION or S.get("fingerprint") != key):
            log.info("%s: from other settings or inputs; starting afresh", state_path)
            S = None
    if S is not None:
        model.load_state_dict(S["model_state"])
        optimizer.load_state_dict(S["optimizer_state"])
        torch.set_rng_state(S["rng"]["torch"])
        np.random.set_state(S["rng"]["numpy"])
        random.setstate(S["rng"]["python"])
        log.info("resumed from %s at epoch %d, step %d (best val genic F1 %.4f)", state_path, S["epoch"] + 1,
                 S["step"], S["best_metric"])
    else:
        S = {"version": STATE_VERSION, "fingerprint": key, "step": 0, "epoch": 0, "batch": 0, "rows": [],
             "history": [], "best_metric": -1.0, "best_state": None, "best_step": 0, "best_epoch": 0, "bad": 0,
             "loss_sum": 0.0, "loss_n": 0, "done": False, "val": None, "best_val": None}

    def current_lr():
        return lr_at(S["step"], total_steps, cfg, plateau_reductions(S["history"], cfg.plateau_patience,
                                                                      cfg.min_delta))

    def checkpoint_extra(val, best):
        card = {**meta["model_card"], "validation_metrics": {k: round(float(v), 4) for k, v in val.items()}}
        return {**meta, "model_card": card, "step": S["best_step"] if best else S["step"],
                "epoch": S["best_epoch"] if best else S["epoch"], "best_metric": S["best_metric"],
                "val_metrics": val}

    def save_state():
        S.update(model_state=model.state_dict(), optimizer_state=optimizer.state_dict(),
                 rng={"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()})
        with atomic_path(state_path) as tmp:
            torch.save(S, tmp)

    def write_outputs():
        """best.pt, last.pt, metrics.tsv and the learning curves, all from the state."""
        best_model = copy.deepcopy(model)
        best_model.load_state_dict(S["best_state"])
        save_checkpoint(out_dir / "best.pt", best_model, channels, **checkpoint_extra(S["best_val"], True))
        save_checkpoint(out_dir / "last.pt", model, channels, **checkpoint_extra(S["val"], False))
        write_metrics(S["rows"], out_dir / "metrics.tsv")

    def check(epoch_label):
        """Validate, record, keep the best, save the state and the outputs; True to stop."""
        val = evaluate(model, val_loader, device)
        lr = current_lr()
        if S["loss_n"]:
            S["rows"].append((epoch_label, S["step"], "train", "loss", S["loss_sum"] / S["loss_n"], lr))
        S["rows"].extend((epoch_label, S["step"], "val", name, float(v), lr) for name, v in val.items())
        S["loss_sum"], S["loss_n"] = 0.0, 0
        metric = val["genic_f1"]
        baseline = S["best_state"] is None
        improved = baseline or metric > S["best_metric"] + cfg.min_delta
        if not baseline:
            S["history"].append(metric)
        if improved:
            S.update(best_metric=metric, best_state=copy.deepcopy(model.state_dict()), best_step=S["step"],
                     best_epoch=epoch_label, best_val=val, bad=0)
        else:
            S["bad"] += 1
        S["val"] = val
        save_state()
        write_outputs()
        what = "starting model" if baseline else (
            "-> best.pt" if improved else f"{S['bad']}/{cfg.patience} checks without improvement")
        log.info("epoch %d step %d: val genic F1 %.4f, val loss %.4f, lr %.2e (best %.4f) %s", epoch_label,
                 S["step"], metric, val["loss"], lr, S["best_metric"], what)
        return S["bad"] >= cfg.patience

    log.info("config: %s", json.dumps(asdict(cfg)))
    log.info("device %s, %d train / %d val chunks, %d trainable parameters, %d steps per epoch", device,
             len(train_ds), len(val_ds), sum(p.numel() for p in params), steps_per_epoch)

    # --- the loop: the baseline check, then epochs of seeded batches, a check every epoch or N steps ---
    if S["best_state"] is None:
        S["done"] = check(0)
    while not S["done"] and S["epoch"] < cfg.epochs:
        epoch = S["epoch"] + 1
        train_mode(model, cfg)
        batches = epoch_batches(len(train_ds), cfg.batch_size, cfg.seed, epoch)
        t0 = time.time()
        bar = tqdm(batches[S["batch"]:], desc=f"epoch {epoch}", unit="step", file=sys.stderr, mininterval=10,
                   disable=not progress)
        stop = False
        for rows in bar:
            batch = torch.utils.data.default_collate([train_ds[i] for i in rows])
            lr = current_lr()
            for g, spec in zip(optimizer.param_groups, groups):
                g["lr"] = lr * spec["lr_ratio"]
            with autocast(device):
                loss = batch_loss(model, batch, device, cfg)
            if not torch.isfinite(loss):
                raise InputError(f"training diverged: the loss is {loss.item()} at step {S['step'] + 1} (epoch "
                                 f"{epoch}); best.pt and last.pt hold the last good weights. Lower lr "
                                 f"({cfg.lr:g}) or raise warmup_steps")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            S["step"] += 1
            S["batch"] += 1
            S["loss_sum"] += loss.item()
            S["loss_n"] += 1
            bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{lr:.2e}", refresh=False)
            if S["step"] % cfg.log_every == 0:
                log.info("epoch %d step %d loss %.4f lr %.2e %.2fs/step", epoch, S["step"], loss.item(), lr,
                         (time.time() - t0) / max(1, S["batch"]))
            if cfg.check_every and S["step"] % cfg.check_every == 0:
                if check(epoch):
                    stop = True
                    break
            elif S["step"] % cfg.save_every == 0:
                save_state()
        bar.close()
        if not stop:
            S["epoch"], S["batch"] = epoch, 0
            if not cfg.check_every:
                stop = check(epoch)
            else:
                save_state()
        log.info("epoch %d done in %.1f s", epoch, time.time() - t0)
        S["done"] = stop
    if S["loss_n"] or S["val"] is None:  # steps since the last check (check_every not dividing the run)
        check(S["epoch"])
    S["done"] = True
    save_state()
    write_outputs()
    return S["best_val"]
