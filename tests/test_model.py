import pytest
import torch

from genetune.core.errors import InputError
from genetune.models import with_coverage_adapter
from genetune.models.checkpoint import check_channels, input_channels, load_model, save_checkpoint
from genetune.models.hybrid import HybridArchitecture, HybridModel
from genetune.models.residual import ResidualArchitecture, ResidualCNN

ARCH = HybridArchitecture(cnn_layers=2, filter_depth=8, kernel_size=10, lstm_layers=2, units=8)


def test_outputs_have_one_row_per_base_for_both_heads():
    model = HybridModel(ARCH)
    out = model(torch.randn(2, 9 * 20, 4))
    assert out["genic"].shape == out["phase"].shape == (2, 180, 4)
    assert set(HybridModel(HybridArchitecture(predict_phase=False))(torch.randn(1, 18, 4))) == {"genic"}


@pytest.mark.parametrize("family", ["hybrid", "residual"])
@pytest.mark.parametrize("hidden", [False, True])
def test_coverage_adapter_starts_as_the_base_model_and_then_reads_coverage(family, hidden):
    """Mode coverage for both families: at step 0 the adapter adds exactly nothing; once its output
    weights move, coverage changes the predictions, with context (a read 4 bases away counts)."""
    torch.manual_seed(0)
    base = (
        HybridModel(ARCH) if family == "hybrid" else ResidualCNN(ResidualArchitecture(channels=8, groups=[[1, 3, 1]]))
    ).eval()
    model = with_coverage_adapter(base, n_bams=2, width=4, kernel=9, hidden=hidden).eval()
    assert model.input_channels == 8 and model.family == family
    L = 90
    x = torch.randn(1, L + 2 * base.flank, 4)
    cov = torch.randint(0, 50, (1, L + 2 * base.flank, 4)).float()
    out, ref = model(x, cov), base(x)
    assert all(torch.equal(out[k], ref[k]) for k in ref)
    with torch.no_grad():
        for p in model.adapter.parameters():
            p.add_(0.1 * torch.randn_like(p))
        moved = model(x, cov)
        far = cov.clone()
        far[0, base.flank + 40] += 30  # one base's coverage
        changed = (model(x, far)[next(iter(ref))] - moved[next(iter(ref))]).abs().amax(-1)[0]
    assert (changed[36:45] > 0).all()  # bases up to 4 away see it through the adapter's convolutions
    assert [n for n, _ in model.layer_groups()][-1] == "head"
    assert any(p is model.adapter.project.weight for p in model.layer_groups()[-1][1])


def test_checkpoint_round_trip_keeps_weights_and_card(tmp_path):
    model = HybridModel(ARCH).eval()
    save_checkpoint(tmp_path / "m.pt", model, input_channels(), model_card={"name": "t"})
    loaded, ckpt = load_model(tmp_path / "m.pt")
    x = torch.randn(1, 45, 4)
    assert torch.equal(model(x)["genic"], loaded.eval()(x)["genic"])
    assert ckpt["model_card"]["name"] == "t" and ckpt["class_names"] == ["intergenic", "UTR", "CDS", "intron"]


def test_equal_weights_and_metadata_give_byte_identical_checkpoints(tmp_path):
    """The GFF3 header names the model by file sha256: a resumed run's metadata (numpy scalars,
    strings shared differently in memory) must not change it."""
    import numpy as np

    model = HybridModel(ARCH).eval()
    key = "loss"
    fresh = {"val_metrics": {"loss": 0.5, "genic_f1": 0.25}, "history": [{"loss": 1.0}, {"loss": 2.0}]}
    resumed = {
        "val_metrics": {"".join(["lo", "ss"]): np.float64(0.5), "genic_f1": np.float32(0.25)},
        "history": [{key: 1.0}, {key: np.float64(2.0)}],
    }
    a, b = tmp_path / "a" / "best.pt", tmp_path / "b" / "best.pt"  # torch names the zip's records after the file
    for path, extra in ((a, fresh), (b, resumed)):
        path.parent.mkdir()
        save_checkpoint(path, model, input_channels(), **extra)
    assert a.read_bytes() == b.read_bytes()
    _, ckpt = load_model(b)
    assert type(ckpt["val_metrics"]["loss"]) is float


def test_coverage_model_without_coverage_fails_saying_what_is_missing(tmp_path):
    model = with_coverage_adapter(HybridModel(ARCH), 1)
    save_checkpoint(tmp_path / "c.pt", model, input_channels(["a.bam"], ["reverse"]))
    _, ckpt = load_model(tmp_path / "c.pt")
    with pytest.raises(InputError, match=r"needs RNA-seq coverage from 1 BAM\(s\) \(a.bam, reverse\)"):
        check_channels(ckpt, 0, "c.pt", "genome.h5")
    with pytest.raises(InputError, match="trained on coverage from 1 BAM"):
        check_channels(ckpt, 2, "c.pt", "genome.h5")


def test_loading_a_non_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "x.pt").write_text("not a model")
    with pytest.raises(InputError, match="x.pt: not a readable genetune checkpoint"):
        load_model(tmp_path / "x.pt")


def test_flops_per_base_agree_with_torch_counter_plus_lstm_gates():
    """torch's FlopCounterMode counts the convolutions and dense layers (not the LSTM); the LSTM
    adds 2 directions x 4 gates x (input + hidden) x units multiply-adds per step."""
    from torch.utils.flop_counter import FlopCounterMode

    from genetune.models.hybrid import flops_per_bp

    arch = HybridArchitecture(
        cnn_layers=2,
        filter_depth=8,
        kernel_size=9,
        lstm_layers=2,
        units=6,
        input_coverage=True,
        coverage_count=1,
        post_coverage_hidden_layer=True,
    )
    model = HybridModel(arch).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(1, 90, 4), torch.rand(1, 90, 2))
    lstm_per_step = 2 * 2 * 4 * 6 * ((9 * 8 + 6) + (12 + 6))
    assert flops_per_bp(arch) == counter.get_total_flops() / 90 + lstm_per_step / 9
