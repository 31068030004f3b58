"""Learning-rate schedules as pure functions of the step (and, for plateau, of the checks so far).

Every schedule starts with `warmup_steps` of linear warm-up to the peak lr, then:
  - constant: the peak;
  - cosine: half a cosine from the peak to min_lr_ratio x peak at the last step;
  - cosine_restarts: SGDR (OpenSpliceAI's CosineAnnealingWarmRestarts): cycles of restart_steps,
    each restart_mult times longer than the one before, each from the peak down to the floor;
  - multistep: the peak times gamma for every milestone (a step) passed (OpenSpliceAI's MultiStepLR);
  - plateau: the peak times plateau_factor for every reduction ReduceLROnPlateau would have made on
    the validation checks so far (alphaDIA: warm-up, then factor 0.5 after 3 checks without
    improvement); `plateau_reductions` counts them.
"""

import math

SCHEDULES = ("constant", "cosine", "cosine_restarts", "multistep", "plateau")


def lr_at(step, total_steps, cfg, reductions=0):
    """The learning rate at optimiser step `step` (0-based) of `total_steps`; `cfg` is a TrainConfig."""
    peak = cfg.lr
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return peak * (step + 1) / cfg.warmup_steps
    t = step - cfg.warmup_steps
    floor = peak * cfg.min_lr_ratio
    if cfg.schedule == "constant":
        return peak
    if cfg.schedule == "cosine":
        span = max(1, total_steps - cfg.warmup_steps)
        return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t / span)))
    if cfg.schedule == "cosine_restarts":
        cycle = max(1, cfg.restart_steps)
        while t >= cycle:
            t -= cycle
            cycle *= max(1, cfg.restart_mult)
        return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * t / cycle))
    if cfg.schedule == "multistep":
        return peak * cfg.gamma ** sum(step >= m for m in cfg.milestones)
    if cfg.schedule == "plateau":
        return max(peak * cfg.plateau_factor**reductions, floor)
    raise ValueError(f"unknown schedule {cfg.schedule}")


def plateau_reductions(history, patience, min_delta=0.0):
    """How often ReduceLROnPlateau (mode max, absolute threshold min_delta, no cooldown) would have
    cut the lr over the validation metrics `history` (one per check, the baseline excluded)."""
    best, bad, cuts = -math.inf, 0, 0
    for value in history:
        if value > best + min_delta:
            best, bad = value, 0
        else:
            bad += 1
        if bad > patience:
            cuts, bad = cuts + 1, 0
    return cuts
