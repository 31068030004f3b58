"""A third model family in this one file: registered, it predicts and fine-tunes through the same
code as HybridModel and the residual CNN (the family interface, models/family.py)."""

from dataclasses import asdict, dataclass

import h5py
import numpy as np
import pytest
import torch
from torch import nn

from genetune import models
from genetune.core import layout
from genetune.models import FamilyModel, ModelFamily, input_channels
from genetune.models.checkpoint import load_model, save_checkpoint
from genetune.models.predict import predict_h5
from genetune.pseudolabels.split import split_train_val
from genetune.training.train import TrainConfig, train


@dataclass
class ToyArchitecture:
    width: int = 8
    kernel: int = 5

    def to_dict(self):
        return asdict(self)


class ToyCNN(FamilyModel):
    """One convolution and a per-base head: the smallest model the interface admits."""

    family = "toy"
    input_channels = 4
    outputs = ("genic",)

    def __init__(self, arch: ToyArchitecture):
        super().__init__()
        self.arch = arch
        self.conv = nn.Conv1d(4, arch.width, arch.kernel, padding=arch.kernel // 2)
        self.head = nn.Conv1d(arch.width, 4, 1)

    @property
    def context(self):
        return self.arch.kernel // 2

    def flops_per_bp(self):
        return 2 * (4 * self.arch.width * self.arch.kernel + self.arch.width * 4)

    def forward(self, x, coverage=None):
        h = torch.relu(self.conv(x.transpose(1, 2)))
        return {"genic": self.head(h).transpose(1, 2)}

    @staticmethod
    def probabilities(logits, softmax=None):
        softmax = softmax or (lambda v: torch.softmax(v, -1))
        return {"genic": softmax(logits["genic"])}

    def layer_groups(self):
        return [("conv", list(self.conv.parameters())), ("head", list(self.head.parameters()))]


@pytest.fixture
def toy_family():
    models.register(ToyCNN, ToyArchitecture)
    yield
    del models.FAMILIES["toy"]


def test_a_third_family_predicts_and_fine_tunes_through_the_interface(toy_family, tiny_species, tmp_path):
    d = tiny_species["dir"]
    torch.manual_seed(0)
    model = ToyCNN(ToyArchitecture())
    assert isinstance(model, ModelFamily)
    save_checkpoint(tmp_path / "toy.pt", model, input_channels(), model_card={"name": "toy"})
    predict_h5(d / "genome.h5", tmp_path / "toy.pt", tmp_path / "p.h5", show_progress=False)
    with h5py.File(tmp_path / "p.h5") as p, h5py.File(d / "genome.h5") as g:
        assert p.attrs["model_family"] == "toy" and p[layout.PREDICTIONS].shape == g[layout.X].shape
        valid = g[layout.X][:].sum(-1) > 0
        assert np.allclose(p[layout.PREDICTIONS][:].astype(np.float32).sum(-1)[valid], 1, atol=1e-2)
    split_train_val(d / "labels.h5", tmp_path / "t.h5", tmp_path / "v.h5", val_fraction=0.3, seed=2)
    best = train(
        TrainConfig(mode="full", epochs=1, batch_size=2, lr=1e-3),
        tmp_path / "t.h5",
        tmp_path / "v.h5",
        tmp_path / "out",
        base_model=tmp_path / "toy.pt",
        progress=False,
    )
    tuned, ckpt = load_model(tmp_path / "out" / "last.pt")
    assert ckpt["family"] == "toy" and isinstance(tuned, ToyCNN) and 0 <= best["genic_f1"] <= 1
    assert any(not torch.equal(a, b) for a, b in zip(tuned.state_dict().values(), model.state_dict().values()))
    head = train(
        TrainConfig(mode="head", epochs=1, batch_size=2, lr=1e-3),
        tmp_path / "t.h5",
        tmp_path / "v.h5",
        tmp_path / "head",
        base_model=tmp_path / "toy.pt",
        progress=False,
    )
    frozen, _ = load_model(tmp_path / "head" / "last.pt")
    assert torch.equal(frozen.conv.weight, model.conv.weight) and head is not None  # the trunk stayed


def test_a_family_without_a_boundary_head_says_so(toy_family):
    from genetune.core.errors import InputError

    with pytest.raises(InputError, match="toy models cannot grow a boundary head"):
        ToyCNN(ToyArchitecture()).with_boundary_head()
