"""Helixer's HybridModel in PyTorch, plus the coverage and boundary heads.

Conv1D stack (batch norm before each extra conv) -> reshape that concatenates pool_size bases
into one timestep -> BiLSTM stack -> dense head with pool_size x 4 genic (+ phase) logits.
Coverage: genetune's coverage mode adds the adapter of adapter.py to the trunk's output before
the head; Helixer's own coverage models (input_coverage, imported from Keras) concatenate the
normalised coverage of each timestep to it instead. The optional boundary head
(pool_size x 5 logits: none + layout.BOUNDARY_CLASSES) reads the same features as the head and
is trained on the labels' transitions, so HybridModel gives the decoder the boundary
probabilities geneML's classes give it.
"""

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genetune.core import layout
from genetune.models.adapter import AdapterSettings, CoverageAdapter, adapter_flops_per_bp
from genetune.models.family import FamilyModel

N_BOUNDARY_LOGITS = 1 + len(layout.BOUNDARY_CLASSES)  # "none" first


@dataclass
class HybridArchitecture:
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
    predict_boundaries: bool = False
    # genetune's coverage mode (adapter.py): {n_bams, width, kernel, hidden}; None: no adapter.
    # (input_coverage above is Helixer's concatenated coverage hat, for imported Helixer models.)
    coverage_adapter: dict = None

    def to_dict(self):
        return asdict(self)


class HybridModel(FamilyModel):
    family = "hybrid"
    context = None  # outputs depend on the whole window (BiLSTM), hence Helixer's overlapping windows

    def __init__(self, arch: HybridArchitecture):
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
        self.lstm = nn.LSTM(
            a.pool_size * a.filter_depth, a.units, num_layers=a.lstm_layers, batch_first=True, bidirectional=True
        )
        self.dropout2 = nn.Dropout(a.dropout2)
        head_in = 2 * a.units
        if a.input_coverage:
            head_in += a.pool_size * 2 * a.coverage_count
            if a.post_coverage_hidden_layer:
                self.hidden = nn.Linear(head_in, a.units // 2)  # linear, as Helixer's
                head_in = a.units // 2
        if a.coverage_adapter:
            self.adapter = CoverageAdapter(AdapterSettings(**a.coverage_adapter), head_in, pool=a.pool_size)
        self.n_heads = 2 if a.predict_phase else 1
        self.head = nn.Linear(head_in, a.pool_size * 4 * self.n_heads)
        if a.predict_boundaries:
            self.boundary_head = nn.Linear(head_in, a.pool_size * N_BOUNDARY_LOGITS)

    @property
    def input_channels(self):
        a = self.arch
        return (
            4
            + (2 * a.coverage_count if a.input_coverage else 0)
            + (2 * a.coverage_adapter["n_bams"] if a.coverage_adapter else 0)
        )

    @property
    def length_multiple(self):
        """Window lengths must be a multiple of this (timesteps of pool_size bases)."""
        return self.arch.pool_size

    @property
    def outputs(self):
        """Probability outputs for prediction files and decoding (see probabilities())."""
        return (
            ("genic",)
            + (("phase",) if self.arch.predict_phase else ())
            + (("boundary",) if self.arch.predict_boundaries else ())
        )

    def flops_per_bp(self):
        return flops_per_bp(self.arch)

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
                h = F.batch_norm(
                    h,
                    norm.running_mean,
                    norm.running_var,
                    norm.weight,
                    norm.bias,
                    norm.training,
                    norm.momentum,
                    norm.eps,
                )  # a frozen norm is in eval mode
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
        """{"genic": (B, L, 4), "phase": (B, L, 4), "boundary": (B, L, 5)} logits (phase and
        boundary only with those heads); L divisible by pool_size."""
        return self.classify(self.conv_features(x), coverage)

    def window_logits(self, x_span, offsets, length, coverage=None):
        """Logits of the windows starting at `offsets` in x_span (S, 4), each exactly as if predicted
        alone, with the conv stack run once over the span: bases that two overlapping windows share
        are convolved once; only the `conv_reach` bases at each window edge, where the window's own
        zero padding shows, come from a separate pass over 2 x reach bases."""
        r = self.conv_reach
        if 2 * r > length:  # windows too short for the edge passes: convolve each alone
            return self.classify(self.conv_features(torch.stack([x_span[o : o + length] for o in offsets])), coverage)
        full = self.conv_features(x_span[None])[0]
        feats = torch.stack([full[o : o + length] for o in offsets])
        if r:
            ends = [x_span[o : o + 2 * r] for o in offsets] + [x_span[o + length - 2 * r : o + length] for o in offsets]
            edge = self.conv_features(torch.stack(ends))
            feats[:, :r] = edge[: len(offsets), :r]
            feats[:, -r:] = edge[len(offsets) :, r:]
        return self.classify(feats, coverage)

    def with_boundary_head(self):
        """This model with a new, randomly initialised boundary head (everything else unchanged)."""
        model = HybridModel(HybridArchitecture(**{**self.arch.to_dict(), "predict_boundaries": True}))
        missing, _ = model.load_state_dict(self.state_dict(), strict=False)
        assert all(k.startswith("boundary_head.") for k in missing), missing
        return model

    def classify(self, features, coverage=None):
        """forward() from conv features on (window_logits computes those once for overlapping windows)."""
        B, L, _ = features.shape
        h = self.trunk(features)
        if self.arch.input_coverage:
            if coverage is None:
                raise ValueError("this model needs RNA-seq coverage input")
            c = self.normalise_coverage(coverage.to(h.dtype))
            h = torch.cat([h, c.reshape(B, h.shape[1], -1)], dim=-1)
            if self.arch.post_coverage_hidden_layer:
                h = self.hidden(h)
        if self.arch.coverage_adapter:
            if coverage is None:
                raise ValueError("this model needs RNA-seq coverage input")
            h = self.adapter(h, coverage)
        # Helixer splits the dense output into heads first, then reshapes each to (pool, 4)
        out = self.head(h).reshape(B, h.shape[1], self.n_heads, self.arch.pool_size, 4)
        logits = {"genic": out[:, :, 0].reshape(B, L, 4)}
        if self.n_heads == 2:
            logits["phase"] = out[:, :, 1].reshape(B, L, 4)
        if self.arch.predict_boundaries:
            logits["boundary"] = self.boundary_head(h).reshape(B, L, N_BOUNDARY_LOGITS)
        return logits

    @staticmethod
    def probabilities(logits, softmax=None):
        """{"genic", "phase", "boundary"}: (B, L, 4) probabilities each; the boundary's 4 columns are
        layout.BOUNDARY_CLASSES (its "none" column dropped)."""
        softmax = softmax or (lambda v: torch.softmax(v, -1))
        out = {name: softmax(v) for name, v in logits.items()}
        if "boundary" in out:
            out["boundary"] = out["boundary"][..., 1:]
        return out

    def layer_groups(self):
        """[(name, parameters)] from input to output, the heads last: what `unfreeze_last: N` counts
        (each conv with the batch norm before it, each BiLSTM layer with both directions)."""
        groups = []
        for i, conv in enumerate(self.convs):
            params = list(conv.parameters()) + (list(self.norms[i - 1].parameters()) if i else [])
            groups.append((f"conv{i + 1}", params))
        for k in range(self.arch.lstm_layers):
            groups.append(
                (
                    f"lstm{k + 1}",
                    [p for n, p in self.lstm.named_parameters() if n.endswith((f"_l{k}", f"_l{k}_reverse"))],
                )
            )
        groups.append(
            (
                "head",
                [
                    p
                    for n, p in self.named_parameters()
                    if n.startswith(("head.", "hidden.", "boundary_head.", "adapter."))
                ],
            )
        )
        return groups


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


def conv_flops_per_bp(arch: HybridArchitecture) -> float:
    """Multiply-adds x 2 per base of the Conv1D stack."""
    a = arch
    return sum(2 * a.kernel_size * (4 if i == 0 else a.filter_depth) * a.filter_depth for i in range(a.cnn_layers))


def flops_per_bp(arch: HybridArchitecture) -> float:
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
    if a.predict_boundaries:
        dense += 2 * head_in * a.pool_size * N_BOUNDARY_LOGITS
    adapter = adapter_flops_per_bp(a.coverage_adapter, head_in, a.pool_size) if a.coverage_adapter else 0
    return conv + (lstm + dense) / a.pool_size + adapter
