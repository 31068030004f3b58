import h5py
import numpy as np
import pytest
import torch

from genetune.core import layout
from genetune.io.fasta import ingest_genome
from genetune.models.checkpoint import input_channels, save_checkpoint
from genetune.models.hybrid import HybridArchitecture, HybridModel
from genetune.models.predict import fast_softmax, predict_h5, window_cores, window_starts


@pytest.mark.parametrize("n", [100, 4608, 4609, 10000, 23040])
def test_window_cores_tile_every_base(n):
    L = 4608
    starts = window_starts(n, L)
    cores = window_cores(starts, n, L)
    covered = np.zeros(n, int)
    for a, b in cores:
        covered[a:b] += 1
    assert covered.min() >= 1 and cores[0][0] == 0 and cores[-1][1] == n
    assert all(s + L <= max(n, L) for s in starts)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("m")
    model = HybridModel(HybridArchitecture(cnn_layers=1, filter_depth=8, kernel_size=9, units=8))
    save_checkpoint(d / "m.pt", model, input_channels())
    return d / "m.pt", model.eval()


def test_short_sequence_predicts_both_strands_with_padding_at_the_end(tmp_path, model_path):
    """Helixer 0.3.6 shifts padded minus chunks and loses their genes (its issue #197)."""
    path, model = model_path
    rng = np.random.default_rng(1)
    (tmp_path / "g.fa").write_text(">short\n" + "".join(rng.choice(list("ACGT"), 500)) + "\n")
    ingest_genome(tmp_path / "g.fa", "sp", tmp_path / "g.h5", 72 * 8)
    predict_h5(tmp_path / "g.h5", path, tmp_path / "p.h5", show_progress=False)
    with h5py.File(tmp_path / "g.h5") as g, h5py.File(tmp_path / "p.h5") as p:
        x = g[layout.X][:]
        pred = p[layout.PREDICTIONS][:].astype(np.float32)
    for row in (0, 1):  # plus and minus chunk, each 500 valid + 76 padding
        with torch.no_grad():
            expect = torch.softmax(model(torch.from_numpy(x[row : row + 1].astype(np.float32)))["genic"], -1)[0].numpy()
        assert np.allclose(pred[row][:500], expect[:500], atol=2e-3)
        assert not pred[row][500:].any()


def test_overlapping_windows_agree_with_single_pass_inside_cores_and_are_deterministic(tmp_path, model_path):
    path, _ = model_path
    rng = np.random.default_rng(2)
    (tmp_path / "g.fa").write_text(">a\n" + "".join(rng.choice(list("ACGT"), 3000)) + "\n")
    ingest_genome(tmp_path / "g.fa", "sp", tmp_path / "g.h5", 576)
    predict_h5(tmp_path / "g.h5", path, tmp_path / "p1.h5", batch_size=3, show_progress=False)
    predict_h5(tmp_path / "g.h5", path, tmp_path / "p2.h5", batch_size=5, show_progress=False)
    predict_h5(tmp_path / "g.h5", path, tmp_path / "p3.h5", overlap=False, show_progress=False)
    with h5py.File(tmp_path / "p1.h5") as a, h5py.File(tmp_path / "p2.h5") as b, h5py.File(tmp_path / "p3.h5") as c:
        p1, p2, p3 = (f[layout.PREDICTIONS][:].astype(np.float32) for f in (a, b, c))
        assert a[layout.SEQIDS][0] == b"a"
    assert np.array_equal(p1, p2)  # independent of batch size
    valid = p1.sum(-1) > 0
    assert np.allclose(p1.sum(-1)[valid], 1, atol=2e-3)
    # the overlap average stays close to single-window predictions (a small, local model)
    assert np.abs(p1 - p3)[valid].mean() < 0.05


@pytest.mark.parametrize("kernel_size", [9, 10])
def test_shared_convolutions_give_each_window_what_it_gives_alone(kernel_size):
    """Sharing the conv pass between overlapping windows (HybridModel.window_logits) must not change
    any window's logits, also within `reach` of its edges, where the window's own zero padding shows."""
    torch.manual_seed(3)
    model = HybridModel(HybridArchitecture(cnn_layers=3, filter_depth=8, kernel_size=kernel_size, units=8)).eval()
    for norm in model.norms:  # non-trivial batch norm, so padding zeros differ from convolved zeros
        norm.running_mean.uniform_(-1, 1)
        norm.bias.data.uniform_(-1, 1)
    length = 576
    x_span = torch.nn.functional.one_hot(torch.randint(0, 4, (1500,)), 4).float()
    offsets = [0, 288, 500, 924]  # overlapping, adjacent and irregular, the last flush with the span
    with torch.no_grad():
        windows = torch.stack([x_span[o : o + length] for o in offsets])
        alone, shared = model(windows), model.window_logits(x_span, offsets, length)
        assert all(torch.allclose(shared[k], alone[k], atol=1e-5) for k in alone)
        short = model.window_logits(x_span, offsets, 18)  # shorter than the edge passes need
        assert torch.allclose(short["genic"], model(torch.stack([x_span[o : o + 18] for o in offsets]))["genic"])
        alone = model.conv_features(windows)
        whole = model.conv_features(x_span[None])[0]
    # and the edge fix is needed: the span's features differ from a window's near its edges
    assert not torch.allclose(whole[offsets[1] : offsets[1] + length], alone[1], atol=1e-3)


def test_fast_softmax_matches_torch_softmax():
    logits = torch.randn(3, 50, 4) * 30
    assert torch.allclose(fast_softmax(logits), torch.softmax(logits, -1), atol=1e-6)
    assert torch.allclose(fast_softmax(logits.bfloat16()), torch.softmax(logits.bfloat16().float(), -1), atol=1e-6)


def test_a_boundary_head_is_stitched_across_overlapping_windows_like_the_classes(tmp_path):
    """With Helixer's overlap, the boundary dataset is averaged over the same window cores as the
    class predictions: on a strand of one window it equals the single pass; everywhere it is
    independent of the batch size."""
    torch.manual_seed(1)
    model = HybridModel(
        HybridArchitecture(cnn_layers=1, filter_depth=8, kernel_size=9, units=8, predict_boundaries=True)
    ).eval()
    save_checkpoint(tmp_path / "b.pt", model, input_channels())
    rng = np.random.default_rng(5)
    (tmp_path / "g.fa").write_text(
        ">long\n" + "".join(rng.choice(list("ACGT"), 2000)) + "\n>one\n" + "".join(rng.choice(list("ACGT"), 500)) + "\n"
    )
    ingest_genome(tmp_path / "g.fa", "sp", tmp_path / "g.h5", 576)
    predict_h5(tmp_path / "g.h5", tmp_path / "b.pt", tmp_path / "p1.h5", batch_size=2, show_progress=False)
    predict_h5(tmp_path / "g.h5", tmp_path / "b.pt", tmp_path / "p2.h5", batch_size=7, show_progress=False)
    with h5py.File(tmp_path / "g.h5") as g, h5py.File(tmp_path / "p1.h5") as a, h5py.File(tmp_path / "p2.h5") as b:
        b1, b2 = a[layout.PREDICTIONS_BOUNDARY][:], b[layout.PREDICTIONS_BOUNDARY][:]
        assert b1.shape == a[layout.PREDICTIONS].shape and np.array_equal(b1, b2)
        row = int(np.flatnonzero(g[layout.SEQIDS][:] == b"one")[0])
        x = torch.from_numpy(g[layout.X][row : row + 1].astype(np.float32))
        with torch.no_grad():
            expect = model.probabilities(model(x))["boundary"][0].numpy()
        assert np.abs(b1[row][:500].astype(np.float32) - expect[:500]).max() < 2e-3 and not b1[row][500:].any()
        assert a.attrs["phase_head"] and layout.PREDICTIONS_PHASE in a


def test_scattered_prediction_gathers_into_the_arrays_one_run_writes(tmp_path, model_path):
    from genetune.io.chunks import pieces, read_keys
    from genetune.io.gather import gather_predictions

    path, _ = model_path
    rng = np.random.default_rng(3)
    (tmp_path / "g.fa").write_text(
        "".join(f">s{i}\n" + "".join(rng.choice(list("ACGT"), n)) + "\n" for i, n in enumerate((2000, 700, 1500, 300)))
    )
    ingest_genome(tmp_path / "g.fa", "sp", tmp_path / "g.h5", 576)
    assert pieces(*read_keys(tmp_path / "g.h5"), 3) == [["s0"], ["s1", "s2"], ["s3"]]
    predict_h5(tmp_path / "g.h5", path, tmp_path / "whole.h5", show_progress=False)
    parts = [tmp_path / f"{k}.h5" for k in range(3)]
    for k, part in enumerate(parts):
        predict_h5(tmp_path / "g.h5", path, part, piece=(k, 3), show_progress=False)
    gather_predictions(tmp_path / "g.h5", parts, tmp_path / "gathered.h5")
    with h5py.File(tmp_path / "whole.h5") as a, h5py.File(tmp_path / "gathered.h5") as b:
        for name in (layout.PREDICTIONS, layout.PREDICTIONS_PHASE, layout.SEQIDS, layout.START_ENDS):
            assert np.array_equal(a[name][:], b[name][:]), name
    with pytest.raises(Exception, match="miss chunk"):
        gather_predictions(tmp_path / "g.h5", parts[:2], tmp_path / "x.h5")
