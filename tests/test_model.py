import pytest
import torch

from genetune.checkpoint import check_channels, input_channels, load_model, save_checkpoint
from genetune.errors import InputError
from genetune.models.hybrid import HybridArchitecture, HybridModel, with_coverage_head

ARCH = HybridArchitecture(cnn_layers=2, filter_depth=8, kernel_size=10, lstm_layers=2, units=8)


def test_outputs_have_one_row_per_base_for_both_heads():
    model = HybridModel(ARCH)
    out = model(torch.randn(2, 9 * 20, 4))
    assert out["genic"].shape == out["phase"].shape == (2, 180, 4)
    assert set(HybridModel(HybridArchitecture(predict_phase=False))(torch.randn(1, 18, 4))) == {"genic"}


def test_coverage_head_starts_as_the_base_model():
    base = HybridModel(ARCH).eval()
    cov_model = with_coverage_head(base, coverage_count=2).eval()
    x = torch.randn(1, 90, 4)
    cov = torch.randint(0, 50, (1, 90, 4)).float()
    assert torch.allclose(base(x)["genic"], cov_model(x, cov)["genic"], atol=1e-6)


def test_checkpoint_round_trip_keeps_weights_and_card(tmp_path):
    model = HybridModel(ARCH).eval()
    save_checkpoint(tmp_path / "m.pt", model, input_channels(), model_card={"name": "t"})
    loaded, ckpt = load_model(tmp_path / "m.pt")
    x = torch.randn(1, 45, 4)
    assert torch.equal(model(x)["genic"], loaded.eval()(x)["genic"])
    assert ckpt["model_card"]["name"] == "t" and ckpt["class_names"] == ["intergenic", "UTR", "CDS", "intron"]


def test_coverage_model_without_coverage_fails_saying_what_is_missing(tmp_path):
    model = with_coverage_head(HybridModel(ARCH), 1)
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

    arch = HybridArchitecture(cnn_layers=2, filter_depth=8, kernel_size=9, lstm_layers=2, units=6, input_coverage=True,
                        coverage_count=1, post_coverage_hidden_layer=True)
    model = HybridModel(arch).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(1, 90, 4), torch.rand(1, 90, 2))
    lstm_per_step = 2 * 2 * 4 * 6 * ((9 * 8 + 6) + (12 + 6))
    assert flops_per_bp(arch) == counter.get_total_flops() / 90 + lstm_per_step / 9
