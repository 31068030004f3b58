"""Helixer's HybridModel in PyTorch (HELIXER_NOTES §5.1), plus the coverage head.

Conv1D stack (batch norm before each extra conv) -> reshape that concatenates pool_size bases
into one timestep -> BiLSTM stack -> dense head with pool_size x 4 genic (+ phase) logits.
Coverage mode: normalised coverage and spliced coverage (2 x n_bams channels, reshaped per
timestep like the DNA) join the trunk's output before the head. The trunk is the same for
both, so a coverage model is built around a base model's trunk.
"""

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import layout


@dataclass
class Architecture:
    cnn_layers: int = 1
    filter_depth: int = 32
    kernel_size: int = 26
    pool_size: int = layout.POOL_SIZE
    lstm_layers: int = 1
    units: int = 32
    dropout1: float = 0.0
    dropout2: float = 0.0
    predict_phase: bool = True
    input_coverage: bool = False
    coverage_count: int = 0  # number of BAMs; the model reads 2 x coverage_count channels
    coverage_norm: str = "log"  # log: ln(x + 1.1) as Helixer; none: raw counts
    post_coverage_hidden_layer: bool = False

    def to_dict(self):
        return asdict(self)


class HybridModel(nn.Module):
    def __init__(self, arch: Architecture):
        super().__init__()
        self.arch = arch
        a = arch
        convs, norms = [], []
        for i in range(a.cnn_layers):
            convs.append(nn.Conv1d(4 if i == 0 else a.filter_depth, a.filter_depth, a.kernel_size, padding="same"))
            if i > 0:
                norms.append(nn.BatchNorm1d(a.filter_depth, eps=1e-3, momentum=0.01))  # Keras defaults
        self.convs = nn.ModuleList(convs)
        self.norms = nn.ModuleList(norms)
        self.dropout1 = nn.Dropout(a.dropout1)
        self.lstm = nn.LSTM(a.pool_size * a.filter_depth, a.units, num_layers=a.lstm_layers,
                            batch_first=True, bidirectional=True)
        self.dropout2 = nn.Dropout(a.dropout2)
        head_in = 2 * a.units
        if a.input_coverage:
            head_in += a.pool_size * 2 * a.coverage_count
            if a.post_coverage_hidden_layer:
                self.hidden = nn.Linear(head_in, a.units // 2)  # linear, as Helixer's
                head_in = a.units // 2
        self.n_heads = 2 if a.predict_phase else 1
        self.head = nn.Linear(head_in, a.pool_size * 4 * self.n_heads)

    @property
    def input_channels(self):
        return 4 + (2 * self.arch.coverage_count if self.arch.input_coverage else 0)

    @property
    def conv_reach(self):
        """Bases on either side of a position that its conv features depend on."""
        return self.arch.cnn_layers * (self.arch.kernel_size // 2)

    def conv_features(self, x):
        """(B, L, 4) DNA -> (B, L, filter_depth) output of the Conv1D stack, zero-padded at both ends."""
        h = x.transpose(1, 2).unsqueeze(2)  # (B, C, 1, L), stored channels-last: C varies fastest
        for i, conv in enumerate(self.convs):
            if i > 0:
                norm = self.norms[i - 1]
                h = F.batch_norm(h, norm.running_mean, norm.running_var, norm.weight, norm.bias,
                                 self.training, norm.momentum, norm.eps)
            h = torch.relu_(_conv_same(conv, h))  # in place: one pass less over the largest tensor
        return h.squeeze(2).transpose(1, 2)  # a view: channels-last memory is (B, L, C)

    def trunk(self, features):
        """(B, L, filter_depth) conv features -> (B, T, 2*units) BiLSTM features, T = L / pool_size."""
        B, L, C = features.shape
        h = features.reshape(B, L // self.arch.pool_size, self.arch.pool_size * C)
        h, _ = self.lstm(self.dropout1(h))
        return self.dropout2(h)

    def normalise_coverage(self, cov):
        if self.arch.coverage_norm == "log":
            return torch.log(cov + 1.1)
        return cov

    def forward(self, x, coverage=None):
        """Logits (B, L, 4) genic and, with a phase head, (B, L, 4) phase; L divisible by pool_size."""
        return self.classify(self.conv_features(x), coverage)

    def classify(self, features, coverage=None):
        """forward() from conv features on: predict.py computes those once for overlapping windows."""
        B, L, _ = features.shape
        h = self.trunk(features)
        if self.arch.input_coverage:
            if coverage is None:
                raise ValueError("this model needs RNA-seq coverage input")
            c = self.normalise_coverage(coverage.to(h.dtype))
            h = torch.cat([h, c.reshape(B, h.shape[1], -1)], dim=-1)
            if self.arch.post_coverage_hidden_layer:
                h = self.hidden(h)
        # Helixer splits the dense output into heads first, then reshapes each to (pool, 4)
        out = self.head(h).reshape(B, h.shape[1], self.n_heads, self.arch.pool_size, 4)
        genic = out[:, :, 0].reshape(B, L, 4)
        phase = out[:, :, 1].reshape(B, L, 4) if self.n_heads == 2 else None
        return genic, phase


def _conv_same(conv: nn.Conv1d, h):
    """conv's 'same' Conv1d as a (1 x k) Conv2d on channels-last (B, C, 1, L): the same numbers
    (up to rounding), but oneDNN's 2-D path is 2-3x faster on CPU. Even kernels pad one more
    base on the right, as torch's and TensorFlow's 'same' do."""
    k = conv.kernel_size[0]
    left, right = (k - 1) // 2, k // 2
    if left != right:
        h = F.pad(h, (left, right))
    h = h.contiguous(memory_format=torch.channels_last)
    return F.conv2d(h, conv.weight.unsqueeze(2), conv.bias, padding=(0, left) if left == right else 0)


def conv_flops_per_bp(arch: Architecture) -> float:
    """Multiply-adds x 2 per base of the Conv1D stack."""
    a = arch
    return sum(2 * a.kernel_size * (4 if i == 0 else a.filter_depth) * a.filter_depth for i in range(a.cnn_layers))


def flops_per_bp(arch: Architecture) -> float:
    """Multiply-adds x 2 per base of one forward pass (convolutions, LSTM gates, dense layers)."""
    a = arch
    conv = conv_flops_per_bp(a)
    lstm, width = 0, a.pool_size * a.filter_depth
    for _ in range(a.lstm_layers):
        lstm += 2 * 2 * (width + a.units) * 4 * a.units  # two directions, four gates
        width = 2 * a.units
    head_in = width + (a.pool_size * 2 * a.coverage_count if a.input_coverage else 0)
    dense = 0
    if a.input_coverage and a.post_coverage_hidden_layer:
        dense += 2 * head_in * (a.units // 2)
        head_in = a.units // 2
    dense += 2 * head_in * a.pool_size * 4 * (2 if a.predict_phase else 1)
    return conv + (lstm + dense) / a.pool_size


def with_coverage_head(base: HybridModel, coverage_count: int, hidden_layer=False, norm="log"):
    """A coverage model around `base`'s trunk; the head starts as the base head (coverage weights 0),
    so before any training it predicts exactly what the base model predicts."""
    arch = Architecture(**{**base.arch.to_dict(), "input_coverage": True, "coverage_count": coverage_count,
                           "post_coverage_hidden_layer": hidden_layer, "coverage_norm": norm})
    model = HybridModel(arch)
    state = {k: v for k, v in base.state_dict().items() if not k.startswith(("head.", "hidden."))}
    model.load_state_dict(state, strict=False)
    if not hidden_layer:
        with torch.no_grad():
            model.head.weight.zero_()
            model.head.weight[:, : 2 * arch.units] = base.head.weight
            model.head.bias.copy_(base.head.bias)
    return model


def trunk_parameters(model: HybridModel):
    return [p for n, p in model.named_parameters() if not n.startswith(("head.", "hidden."))]
