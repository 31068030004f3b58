"""The interface every model family answers: prediction, training and decoding ask it, never the
class. A family is an nn.Module subclass of FamilyModel (which gives the defaults) registered in
models.FAMILIES with its architecture dataclass; tests/test_model_family.py adds a third one in one
file and predicts and fine-tunes with it."""

from typing import Protocol, runtime_checkable

import torch
from torch import nn

from genetune.core.errors import InputError


@runtime_checkable
class ModelFamily(Protocol):
    family: str  # the name models.FAMILIES knows it by, stored in checkpoints
    arch: object  # its architecture dataclass, with to_dict()
    input_channels: int  # 4 DNA columns (C, A, T, G) + RNA-seq coverage channels
    context: int | None  # bases either side each output depends on; None: the whole window (recurrent)
    flank: int  # input bases either side that forward() consumes without an output
    length_multiple: int  # window lengths must be a multiple of it
    outputs: tuple  # probability outputs: "genic" always, "phase", "boundary" where it has them

    def flops_per_bp(self) -> float: ...

    def forward(self, x: torch.Tensor, coverage: torch.Tensor | None = None) -> dict: ...

    def probabilities(self, logits: dict, softmax=None) -> dict: ...

    def window_logits(self, x_span: torch.Tensor, offsets: list, length: int, coverage=None) -> dict: ...

    def layer_groups(self) -> list: ...

    def trunk_parameters(self) -> list: ...

    def with_boundary_head(self) -> "ModelFamily": ...


class FamilyModel(nn.Module):
    """Defaults of the interface (ModelFamily) for a family's nn.Module."""

    flank = 0
    length_multiple = 1

    def window_logits(self, x_span, offsets, length, coverage=None):
        """Logits of the windows of `length` bases starting at `offsets` in x_span (S, 4), each as if
        predicted alone (coverage: (B, length, n) of the windows or None). A family may share work
        between overlapping windows (HybridModel shares its convolutions)."""
        return self(torch.stack([x_span[o : o + length] for o in offsets]), coverage)

    def trunk_parameters(self):
        groups = self.layer_groups()
        return [p for _, params in groups[:-1] for p in params]

    def with_boundary_head(self):
        """The model with a new boundary head trained on the labels' transitions (HybridModel)."""
        raise InputError(f"add_boundary_head: {self.family} models cannot grow a boundary head")
