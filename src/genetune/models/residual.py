"""The SpliceAI-family residual CNN (SpliceAI, OpenSpliceAI, geneML) in PyTorch.

A 1x1 convolution lifts the one-hot DNA to `channels`; residual units of
(BN, ReLU, dilated conv) x 2 follow in groups of equal kernel and dilation; a 1x1 "skip"
convolution of the stem and of the stream after each group is summed; the sum is cropped by
the receptive field at both ends and a 1x1 convolution gives per-base class logits. Every
output depends on exactly `context` bases either side (sum over convs of dilation x (k - 1) / 2),
so a window with `context` bases of real flank (zeros = N beyond a sequence end) gives exactly
what the whole sequence gives: prediction needs no overlapping windows.

geneML's classes (its model_loader): none, exon_start (the acceptor: first exon base after an
intron), exon_end (the donor: last exon base before one), cds_start (the A of the ATG), cds_end
(the last stop-codon base), is_exon, is_intron; CDS only, no UTR. probabilities() maps them onto
genetune's 4 genic classes (intergenic = none, CDS = is_exon + the four boundaries, intron =
is_intron, UTR = 0) and layout.BOUNDARY_CLASSES.
"""

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from genetune.core import layout
from genetune.models.adapter import AdapterSettings, CoverageAdapter, adapter_flops_per_bp
from genetune.models.family import FamilyModel

GENEML_CLASSES = layout.GENEML_CLASSES

# genetune's genic class of each geneML class, and the boundary column of the boundary classes
GENIC_OF_CLASS = {
    "none": layout.IG,
    "exon_start": layout.CDS,
    "exon_end": layout.CDS,
    "cds_start": layout.CDS,
    "cds_end": layout.CDS,
    "is_exon": layout.CDS,
    "is_intron": layout.INTRON,
}
BOUNDARY_OF_CLASS = {
    "exon_start": layout.ACCEPTOR,
    "exon_end": layout.DONOR,
    "cds_start": layout.START_CODON,
    "cds_end": layout.STOP_CODON,
}


@dataclass
class ResidualArchitecture:
    channels: int = 32
    # residual units as [count, kernel size, dilation] groups; geneML's default model
    groups: list = field(default_factory=lambda: [[4, 11, 1], [4, 11, 4], [2, 11, 10]])
    classes: list = field(default_factory=lambda: list(GENEML_CLASSES))
    # "geneml": bases that are not one of A, C, G, T (N, IUPAC codes) enter as all-zero rows, as
    # geneML encodes N; genetune's data/X holds them as fractions (N = 0.25 each)
    ambiguous_bases: str = "geneml"
    coverage_adapter: dict = None  # genetune's coverage mode (adapter.py): {n_bams, width, kernel, hidden}

    def __post_init__(self):
        self.groups = [list(map(int, g)) for g in self.groups]
        self.classes = list(self.classes)

    def to_dict(self):
        return asdict(self)

    @property
    def context(self):
        return sum(n * 2 * (k // 2) * d for n, k, d in self.groups)


def _conv(conv: nn.Conv1d, h):
    """conv's 'same' Conv1d on (B, C, 1, L) channels-last as a (1 x k) Conv2d: the same numbers (up
    to rounding), 3-4x faster on CPU through oneDNN's 2-D path (odd kernels only)."""
    d, k = conv.dilation[0], conv.kernel_size[0]
    return F.conv2d(h, conv.weight.unsqueeze(2), conv.bias, padding=(0, d * (k // 2)), dilation=(1, d))


def _norm(norm: nn.BatchNorm1d, h):
    return F.batch_norm(
        h, norm.running_mean, norm.running_var, norm.weight, norm.bias, norm.training, norm.momentum, norm.eps
    )


class ResidualUnit(nn.Module):
    def __init__(self, channels, kernel, dilation):
        super().__init__()
        pad = dilation * (kernel // 2)
        self.norm1 = nn.BatchNorm1d(channels, eps=1e-3, momentum=0.01)  # Keras defaults
        self.conv1 = nn.Conv1d(channels, channels, kernel, dilation=dilation, padding=pad)
        self.norm2 = nn.BatchNorm1d(channels, eps=1e-3, momentum=0.01)
        self.conv2 = nn.Conv1d(channels, channels, kernel, dilation=dilation, padding=pad)

    def forward(self, h):
        """(B, C, 1, L) channels-last -> the same shape."""
        return h + _conv(self.conv2, F.relu(_norm(self.norm2, _conv(self.conv1, F.relu(_norm(self.norm1, h))))))


class ResidualCNN(FamilyModel):
    family = "residual"

    def __init__(self, arch: ResidualArchitecture):
        super().__init__()
        a = arch
        for n, k, d in a.groups:
            if k % 2 == 0 or n < 1 or d < 1:
                raise ValueError(f"residual group {[n, k, d]}: need an odd kernel, at least one unit, dilation >= 1")
        if tuple(a.classes) != GENEML_CLASSES:
            raise ValueError(f"residual CNN classes {a.classes}: only geneML's {list(GENEML_CLASSES)} are supported")
        self.arch = a
        self.stem = nn.Conv1d(4, a.channels, 1)
        self.units = nn.ModuleList(ResidualUnit(a.channels, k, d) for n, k, d in a.groups for _ in range(n))
        self.skips = nn.ModuleList(nn.Conv1d(a.channels, a.channels, 1) for _ in range(len(a.groups) + 1))
        self.head = nn.Conv1d(a.channels, len(a.classes), 1)
        if a.coverage_adapter:
            self.adapter = CoverageAdapter(AdapterSettings(**a.coverage_adapter), a.channels)
        ends, total = [], 0
        for n, _, _ in a.groups:
            total += n
            ends.append(total - 1)
        self.group_ends = ends  # index of the last unit of each group; a skip follows it
        idx = {c: i for i, c in enumerate(a.classes)}
        genic = torch.zeros(len(a.classes), 4)
        for c, g in GENIC_OF_CLASS.items():
            genic[idx[c], g] = 1
        boundary = torch.zeros(len(a.classes), len(layout.BOUNDARY_CLASSES))
        for c, b in BOUNDARY_OF_CLASS.items():
            boundary[idx[c], b] = 1
        self.register_buffer("to_genic", genic, persistent=False)
        self.register_buffer("to_boundary", boundary, persistent=False)

    @property
    def context(self):
        """Bases either side that each output depends on."""
        return self.arch.context

    @property
    def flank(self):
        """Input bases either side that forward() consumes: the receptive field is cropped."""
        return self.arch.context

    @property
    def input_channels(self):
        return 4 + (2 * self.arch.coverage_adapter["n_bams"] if self.arch.coverage_adapter else 0)

    outputs = ("genic", "boundary")
    length_multiple = 1

    def flops_per_bp(self):
        c, a = self.arch.channels, self.arch
        convs = sum(n * 2 * k * c * c for n, k, _ in a.groups)
        adapter = adapter_flops_per_bp(a.coverage_adapter, c) if a.coverage_adapter else 0
        return 2 * (4 * c + convs + (len(a.groups) + 1) * c * c + c * len(a.classes)) + adapter

    def encode(self, x):
        """genetune's data/X rows -> this model's input: ambiguous rows zeroed for geneML's encoding."""
        if self.arch.ambiguous_bases == "geneml":
            x = x * (x.amax(-1, keepdim=True) > 0.5)
        return x

    def forward(self, x, coverage=None):
        """{"classes": (B, L, n_classes) logits} for x of (B, L + 2 * flank, 4): the outputs of the
        L inner bases. `coverage` (B, L + 2 * flank, 2 n_bams), for a model with a coverage adapter."""
        h = self.encode(x).transpose(1, 2).unsqueeze(2).contiguous(memory_format=torch.channels_last)
        h = _conv(self.stem, h)
        skip = _conv(self.skips[0], h)
        g = 1
        for i, unit in enumerate(self.units):
            h = unit(h)
            if i == self.group_ends[g - 1]:
                skip = skip + _conv(self.skips[g], h)
                g += 1
        c = self.flank
        if c:
            skip = skip[..., c:-c]
        if self.arch.coverage_adapter:
            if coverage is None:
                raise ValueError("this model needs RNA-seq coverage input")
            cov = coverage[:, c : coverage.shape[1] - c] if c else coverage
            h = self.adapter(skip.squeeze(2).transpose(1, 2), cov)
            skip = h.transpose(1, 2).unsqueeze(2).contiguous(memory_format=torch.channels_last)
        return {"classes": _conv(self.head, skip).squeeze(2).transpose(1, 2)}

    def probabilities(self, logits, softmax=None):
        """{"genic": (B, L, 4), "boundary": (B, L, 4)} from the class softmax."""
        softmax = softmax or (lambda v: torch.softmax(v, -1))
        p = softmax(logits["classes"]).float()
        return {"genic": p @ self.to_genic, "boundary": p @ self.to_boundary}

    def class_probabilities(self, logits):
        return torch.softmax(logits["classes"].float(), -1)

    def layer_groups(self):
        """[(name, parameters)] from input to output, the head last: what `unfreeze_last: N` counts
        (OpenSpliceAI's --unfreeze): the stem with its skip, then each residual unit with the skip
        convolution that reads its output, if any."""
        groups = [("stem", [*self.stem.parameters(), *self.skips[0].parameters()])]
        g = 1
        for i, unit in enumerate(self.units):
            params = list(unit.parameters())
            if i == self.group_ends[g - 1]:
                params += list(self.skips[g].parameters())
                g += 1
            groups.append((f"unit{i + 1}", params))
        head = list(self.head.parameters()) + (list(self.adapter.parameters()) if self.arch.coverage_adapter else [])
        groups.append(("head", head))
        return groups
