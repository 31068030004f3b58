"""Helixer's HybridModel in PyTorch (HELIXER_NOTES §5.1), plus the coverage head.

Conv1D stack (batch norm before each extra conv) -> reshape that concatenates pool_size bases
into one timestep -> BiLSTM stack -> dense head with pool_size x 4 genic (+ phase) logits.
Coverage mode: normalised coverage and spliced coverage (2 x n_bams channels, reshaped per
timestep like the DNA) join the trunk's output before the head. The trunk is the same for
both, so a coverage model is built around a base model's trunk.
"""

from dataclasses import asdict, dataclass

import torch
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

    def trunk(self, x):
        """(B, L, 4) DNA -> (B, T, 2*units) BiLSTM features."""
        B, L, _ = x.shape
        h = x.transpose(1, 2)
        for i, conv in enumerate(self.convs):
            if i > 0:
                h = self.norms[i - 1](h)
            h = torch.relu(conv(h))
        T = L // self.arch.pool_size
        h = h.transpose(1, 2).reshape(B, T, self.arch.pool_size * self.arch.filter_depth)
        h, _ = self.lstm(self.dropout1(h))
        return self.dropout2(h)

    def normalise_coverage(self, cov):
        if self.arch.coverage_norm == "log":
            return torch.log(cov + 1.1)
        return cov

    def forward(self, x, coverage=None):
        """Logits (B, L, 4) genic and, with a phase head, (B, L, 4) phase; L divisible by pool_size."""
        B, L, _ = x.shape
        h = self.trunk(x)
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
