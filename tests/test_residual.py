"""The residual CNN family (SpliceAI / geneML), its Keras 3 import, and the interface both families share."""

import zipfile

import h5py
import numpy as np
import pytest
import torch
from keras3_like import write_keras3_like

from genetune.core import layout
from genetune.core.errors import InputError
from genetune.io.fasta import ingest_genome
from genetune.models import FAMILIES, build
from genetune.models.checkpoint import input_channels, load_model, save_checkpoint
from genetune.models.hybrid import HybridArchitecture, HybridModel
from genetune.models.import_geneml import import_geneml_model
from genetune.models.predict import predict_h5
from genetune.models.residual import GENEML_CLASSES, ResidualArchitecture, ResidualCNN
from genetune.models.sources import import_model, source_format

SMALL = dict(channels=8, groups=[[2, 3, 1], [1, 5, 2]])  # context 2*1*1*2 + 2*2*2 = 12


def _random_bn(model):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture
def small():
    torch.manual_seed(0)
    return _random_bn(ResidualCNN(ResidualArchitecture(**SMALL)))


def test_context_is_the_receptive_field_and_the_flank_is_cropped(small):
    assert small.context == small.flank == 12
    n = 60
    x = torch.zeros(1, n + 24, 4)
    x[0, torch.arange(n + 24), torch.randint(0, 4, (n + 24,))] = 1
    out = small(x)["classes"]
    assert out.shape == (1, n, 7)
    far = x.clone()
    far[0, 0] = torch.tensor([0.0, 0, 1, 0]) if x[0, 0, 2] == 0 else torch.tensor([1.0, 0, 0, 0])
    # base 0 is exactly `context` bases before output 0: it reaches output 0, not output 1
    diff = (small(far)["classes"] - out).abs().amax(-1)[0]
    assert diff[0] > 1e-6 and diff[1:].max() == 0


def test_both_families_answer_the_same_interface():
    models = [
        HybridModel(HybridArchitecture(filter_depth=8, units=8, predict_boundaries=True)),
        ResidualCNN(ResidualArchitecture(**SMALL)),
    ]
    for m in models:
        assert m.family in FAMILIES and m.input_channels == 4 and m.flops_per_bp() > 0
        assert "genic" in m.outputs and "boundary" in m.outputs
        groups = m.layer_groups()
        assert groups[-1][0] == "head" and len(groups) >= 2
        assert sum(len(p) for _, p in groups) == len(list(m.parameters()))
        L = 9 * m.length_multiple * 8
        x = torch.rand(2, L + 2 * m.flank, 4)
        probs = m.probabilities(m(x))
        assert probs["genic"].shape == probs["boundary"].shape == (2, L, 4)
        assert torch.allclose(probs["genic"].sum(-1), torch.ones(2, L), atol=1e-5)
    assert models[0].context is None and models[1].context == 12


def test_geneml_classes_map_onto_genic_classes_and_boundaries(small):
    logits = {"classes": torch.randn(1, 5, 7)}
    p7 = torch.softmax(logits["classes"], -1)[0]
    probs = small.probabilities(logits)
    idx = {c: i for i, c in enumerate(GENEML_CLASSES)}
    cds = sum(p7[:, idx[c]] for c in ("is_exon", "exon_start", "exon_end", "cds_start", "cds_end"))
    assert torch.allclose(probs["genic"][0, :, layout.CDS], cds)
    assert torch.allclose(probs["genic"][0, :, layout.INTRON], p7[:, idx["is_intron"]])
    assert probs["genic"][0, :, layout.UTR].abs().max() == 0
    assert torch.allclose(probs["boundary"][0, :, layout.ACCEPTOR], p7[:, idx["exon_start"]])
    assert torch.allclose(probs["boundary"][0, :, layout.STOP_CODON], p7[:, idx["cds_end"]])


def test_flops_per_bp_count_every_convolution(small):
    from torch.utils.flop_counter import FlopCounterMode

    n = 100
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        small(torch.rand(1, n + 2 * small.flank, 4))
    # the counter sees the flanks too; per output base the model does flops_per_bp
    assert counter.get_total_flops() / (n + 2 * small.flank) == pytest.approx(small.flops_per_bp(), rel=0.02)


def test_a_checkpoint_of_one_family_with_the_other_familys_settings_is_one_clear_error(tmp_path, small):
    save_checkpoint(tmp_path / "r.pt", small, input_channels())
    ckpt = torch.load(tmp_path / "r.pt", weights_only=False)
    ckpt["architecture"] = HybridArchitecture().to_dict()
    torch.save(ckpt, tmp_path / "mixed.pt")
    with pytest.raises(
        InputError,
        match=r"mixed\.pt: architecture settings .* do not belong to the residual "
        r"family .*these are hybrid settings",
    ):
        load_model(tmp_path / "mixed.pt")
    with pytest.raises(InputError, match="unknown model family 'transformer'"):
        build("transformer", {})
    with pytest.raises(InputError, match="odd kernel"):
        build("residual", {"groups": [[1, 4, 1]]})
    loaded, ckpt = load_model(tmp_path / "r.pt")
    assert ckpt["family"] == "residual" and ckpt["context"] == 12 and ckpt["outputs"] == ["genic", "boundary"]


def test_checkpoints_from_before_families_load_as_hybrid(tmp_path):
    model = HybridModel(HybridArchitecture(filter_depth=4, units=4))
    save_checkpoint(tmp_path / "h.pt", model, input_channels())
    ckpt = torch.load(tmp_path / "h.pt", weights_only=False)
    del ckpt["family"]
    torch.save(ckpt, tmp_path / "old.pt")
    assert load_model(tmp_path / "old.pt")[0].family == "hybrid"


def test_flanked_spans_predict_exactly_what_one_pass_over_the_strand_gives(tmp_path, small):
    """No overlap needed: every base of both strands equals the whole-strand pass (float16), padding
    stays zero, and the boundary dataset has the layout of the class predictions."""
    rng = np.random.default_rng(3)
    seqs = {"a": "".join(rng.choice(list("ACGT"), 1500)), "b": "".join(rng.choice(list("ACGTN"), 230))}
    (tmp_path / "g.fa").write_text("".join(f">{k}\n{v}\n" for k, v in seqs.items()))
    L = 288
    ingest_genome(tmp_path / "g.fa", "sp", tmp_path / "g.h5", L)
    save_checkpoint(tmp_path / "m.pt", small, input_channels())
    predict_h5(tmp_path / "g.h5", tmp_path / "m.pt", tmp_path / "p.h5", batch_size=2, show_progress=False)
    from genetune.io.chunks import StrandReader, read_keys, strand_runs

    with h5py.File(tmp_path / "g.h5") as g, h5py.File(tmp_path / "p.h5") as p:
        assert p.attrs["model_family"] == "residual" and not p.attrs["phase_head"]
        assert p[layout.PREDICTIONS_BOUNDARY].shape == p[layout.PREDICTIONS].shape == g[layout.X].shape
        for run in strand_runs(*read_keys(tmp_path / "g.h5")):
            n = int(run.valid.sum())
            x, _ = StrandReader(run, g[layout.X]).read(0, n)
            x = np.pad(x.astype(np.float32), ((12, 12), (0, 0)))
            with torch.no_grad():
                expect = small.probabilities(small(torch.from_numpy(x)[None]))
            got, bounds = StrandReader(run, p[layout.PREDICTIONS], [p[layout.PREDICTIONS_BOUNDARY]]).read(0, n)
            assert np.abs(got - expect["genic"][0].numpy()).max() < 2e-3
            assert np.abs(bounds - expect["boundary"][0].numpy()).max() < 2e-3
            for row, v in zip(run.rows, run.valid):
                assert not p[layout.PREDICTIONS][row][v:].any() and not p[layout.PREDICTIONS_BOUNDARY][row][v:].any()
        phase = p[layout.PREDICTIONS_PHASE][0].astype(np.float32)
        cds = p[layout.PREDICTIONS][0][:, layout.CDS].astype(np.float32)
        assert np.allclose(phase[:, 1:], cds[:, None] / 3, atol=2e-3)  # neutral phase: P(CDS) shared


def test_keras3_file_imports_to_the_same_model_and_reads_keras_weight_paths(tmp_path, small):
    write_keras3_like(small, tmp_path / "m.keras")
    imported, meta = import_geneml_model(tmp_path / "m.keras")
    assert imported.arch == small.arch and meta["keras_version"] == "3.12.0"
    x = torch.rand(2, 100 + 24, 4)
    x = torch.nn.functional.one_hot(x.argmax(-1), 4).float()
    with torch.no_grad():
        assert torch.allclose(imported(x)["classes"], small(x)["classes"], atol=1e-5)
    model, channels, card = import_model(tmp_path / "m.keras")
    assert source_format(tmp_path / "m.keras") == "keras3" and channels["coverage"] is None
    assert card["classes"] == list(GENEML_CLASSES) and card["context"] == 12
    assert card["source"]["sha256"] and "licence" in card


def test_geneml_encoding_zeroes_ambiguous_bases(small):
    x = torch.full((1, 40, 4), 0.25)
    x[0, :20] = torch.eye(4)[torch.arange(20) % 4]
    zeroed = x.clone()
    zeroed[0, 20:] = 0
    with torch.no_grad():
        assert torch.equal(small(x)["classes"], small(zeroed)["classes"])


def test_non_residual_and_broken_keras_files_are_refused(tmp_path, small):
    write_keras3_like(small, tmp_path / "bad.keras", rename={"activation": "Dense"})
    with pytest.raises(InputError, match=r"bad\.keras: layer batch_normalization should feed one Activation"):
        import_geneml_model(tmp_path / "bad.keras")
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as zf:
        zf.writestr("metadata.json", "{}")
    with pytest.raises(InputError, match=r"empty\.keras: a \.keras file needs config\.json and model\.weights\.h5"):
        import_geneml_model(tmp_path / "empty.keras")
    (tmp_path / "x.keras").write_text("not a zip")
    with pytest.raises(InputError, match=r"x\.keras: neither a Keras 2 \.h5"):
        import_model(tmp_path / "x.keras")
