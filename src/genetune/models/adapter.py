"""The RNA-seq coverage adapter both families use in fine-tuning mode `coverage`.

Coverage and spliced coverage (2 x n_bams channels, per base, padding -1) are normalised as
Helixer does, ln(x + 1.1), and read by two convolutions with ReLU (kernel k: each base sees
k - 1 bases of read evidence either side, so coverage steps and spliced-read edges, which mark
exon boundaries, are visible where the base model's features are). The result enters the
model's head features as a residual branch, h + P(a) (P linear), and, with `hidden`, a second,
non-linear branch h + Q(relu(R([h, a]))). P and Q start at zero, so before any training the
model predicts exactly what the base model predicts; the trunk stays frozen (Helixer's
"coverage hat" is linear and sees one timestep only).
"""

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class AdapterSettings:
    n_bams: int
    width: int = 16
    kernel: int = 9
    hidden: bool = False

    def to_dict(self):
        return asdict(self)


def adapter_flops_per_bp(settings, feature_dim, pool=1):
    """Multiply-adds x 2 per base of the adapter (its convolutions; its linear maps per feature step)."""
    s = AdapterSettings(**settings)
    convs = 2 * s.kernel * s.width * (2 * s.n_bams + s.width)
    dense = 2 * pool * s.width * feature_dim
    if s.hidden:
        dense += 2 * (feature_dim + pool * s.width) * feature_dim + 2 * feature_dim * feature_dim
    return convs + dense / pool


class CoverageAdapter(nn.Module):
    def __init__(self, settings: AdapterSettings, feature_dim: int, pool: int = 1):
        """`feature_dim`: width of the head features; `pool`: bases per head-feature step."""
        super().__init__()
        s = settings
        if s.kernel % 2 == 0 or s.n_bams < 1:
            raise ValueError(f"coverage adapter {s}: needs an odd kernel and at least one BAM")
        self.settings, self.pool = s, pool
        self.conv1 = nn.Conv1d(2 * s.n_bams, s.width, s.kernel, padding=s.kernel // 2)
        self.conv2 = nn.Conv1d(s.width, s.width, s.kernel, padding=s.kernel // 2)
        self.project = nn.Linear(pool * s.width, feature_dim)
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)
        if s.hidden:
            self.hidden_in = nn.Linear(feature_dim + pool * s.width, feature_dim)
            self.hidden_out = nn.Linear(feature_dim, feature_dim)
            nn.init.zeros_(self.hidden_out.weight)
            nn.init.zeros_(self.hidden_out.bias)

    def read(self, coverage):
        """(B, L, 2 n_bams) counts -> (B, L / pool, pool x width) adapter features."""
        c = torch.log(coverage.float().clamp(min=-1.0) + 1.1).transpose(1, 2)
        a = F.relu(self.conv2(F.relu(self.conv1(c)))).transpose(1, 2)
        B, L, W = a.shape
        return a.reshape(B, L // self.pool, self.pool * W)

    def forward(self, h, coverage):
        """Head features h (B, T, D) with the coverage evidence added."""
        a = self.read(coverage).to(h.dtype)
        out = h + self.project(a)
        if self.settings.hidden:
            out = out + self.hidden_out(F.relu(self.hidden_in(torch.cat([out, a], dim=-1))))
        return out
