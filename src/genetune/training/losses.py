"""Per-base losses, weighted: cross-entropy, or focal loss whose gamma and alpha really act.

Focal loss (Lin et al. 2017) multiplies each base's cross-entropy by (1 - p_t)^gamma, p_t the
probability of the true class, so confidently right bases count little, and by alpha of the true
class. (OpenSpliceAI's focal option takes alpha and gamma but ignores both.) Every base's loss is
also multiplied by its weight (sample weights, class weights, transition weights: data.py);
bases without a target (-1) count nothing; the sum is divided by the summed weights.
"""

import torch
import torch.nn.functional as F

from genetune.core.errors import InputError


def weighted_loss(logits, target, w, kind="cross_entropy", gamma=2.0, alpha=None):
    """Scalar loss of (..., C) logits against (...) class targets with (...) base weights."""
    n_classes = logits.shape[-1]
    logp = F.log_softmax(logits.float().reshape(-1, n_classes), dim=-1)
    t = target.reshape(-1)
    has = t >= 0
    lp = logp.gather(1, t.clamp(min=0)[:, None])[:, 0]
    loss = -lp
    if kind == "focal":
        loss = loss * (1 - lp.exp()).clamp(min=0).pow(gamma)
        if alpha is not None:
            if len(alpha) != n_classes:
                raise InputError(
                    f"fine-tuning setting focal_alpha: {list(alpha)} needs one weight per class of the "
                    f"model's main output ({n_classes})"
                )
            loss = loss * torch.as_tensor(alpha, dtype=loss.dtype, device=loss.device)[t.clamp(min=0)]
    weights = w.reshape(-1).float() * has
    return (loss * weights).sum() / weights.sum().clamp(min=1.0)
