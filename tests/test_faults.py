"""Faults: killed jobs, full disks, suspicious but legal inputs."""

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
from conftest import SCRIPTS, write

from genetune.core import layout
from genetune.core.qc import QC
from genetune.demo.simulate import simulate_genome, write_fasta
from genetune.io.fasta import ingest_genome


def _kill_when_temp_appears(cmd, out, timeout=120):
    """Start `cmd`, kill -9 it once its hidden temporary output exists; returns that temp file."""
    proc = subprocess.Popen([sys.executable, *map(str, cmd)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        temps = list(out.parent.glob(f".{out.name}.tmp*"))
        if temps and temps[0].stat().st_size > 0:  # mid-write: kill at once (a short job may end in 0.3 s)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return temps[0]
        time.sleep(0.02)
    proc.kill()
    pytest.fail("the job finished before it could be killed")


def _same_h5(a, b, names):
    with h5py.File(a) as x, h5py.File(b) as y:
        return all(np.array_equal(x[n][:], y[n][:]) for n in names)


@pytest.fixture(scope="module")
def big_genome(tmp_path_factory):
    d = tmp_path_factory.mktemp("big")
    genome, _ = simulate_genome("target", 3, [400_000])
    write_fasta(genome, d / "g.fa")
    ingest_genome(d / "g.fa", "sp", d / "g.h5", 4608)
    return d


def _predict_command(genome_h5, model_dir, out):
    """predict.py on `genome_h5` with a small untrained HybridModel saved into `model_dir`."""
    from genetune.models.checkpoint import input_channels, save_checkpoint
    from genetune.models.hybrid import HybridArchitecture, HybridModel

    save_checkpoint(model_dir / "m.pt", HybridModel(HybridArchitecture(filter_depth=16, units=16)), input_channels())
    return [
        SCRIPTS / "predict.py",
        "--genome-h5",
        genome_h5,
        "--model",
        model_dir / "m.pt",
        "--threads",
        "1",
        "--out",
        out,
    ]


def test_a_killed_predict_leaves_only_a_temp_file_which_the_rerun_removes_and_matches(big_genome, tmp_path):
    out = tmp_path / "p.h5"
    cmd = _predict_command(big_genome / "g.h5", tmp_path, out)
    temp = _kill_when_temp_appears(cmd, out)
    assert temp.exists() and not out.exists()
    subprocess.run([sys.executable, *map(str, cmd)], check=True, capture_output=True)
    assert not temp.exists() and out.exists()
    subprocess.run([sys.executable, *map(str, cmd[:-1]), tmp_path / "again.h5"], check=True, capture_output=True)
    assert _same_h5(out, tmp_path / "again.h5", [layout.PREDICTIONS, layout.PREDICTIONS_PHASE])


def test_a_killed_add_coverage_leaves_only_a_temp_file_which_the_rerun_removes_and_matches(tiny_species, tmp_path):
    d = tiny_species["dir"]
    out = tmp_path / "cov.h5"
    cmd = [
        SCRIPTS / "add_coverage.py",
        "--genome-h5",
        d / "genome.h5",
        "--bam",
        d / "rnaseq.bam",
        "--strandedness",
        "reverse",
        "--threads",
        "1",
        "--out",
        out,
    ]
    subprocess.run([sys.executable, *map(str, cmd[:-1]), tmp_path / "whole.h5"], check=True, capture_output=True)
    temp = _kill_when_temp_appears(cmd, out)
    assert temp.exists() and not out.exists()
    subprocess.run([sys.executable, *map(str, cmd)], check=True, capture_output=True)
    assert not temp.exists()
    assert _same_h5(out, tmp_path / "whole.h5", [layout.coverage_name(), layout.spliced_coverage_name()])


@pytest.fixture
def small_disk(tmp_path):
    """A 512 kB tmpfs (CI runs as root): a full disk for real, not a mocked error."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)")
    yield disk
    subprocess.run(["umount", str(disk)])


def _fails_on_the_full_disk(cmd, disk):
    proc = subprocess.run([sys.executable, *map(str, cmd)], capture_output=True, text=True)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert lines[-1].startswith("error: ") and "no space left on the device" in lines[-1], lines[-1]
    assert str(disk) in lines[-1]  # the file it could not write
    leftovers = [p for p in disk.rglob("*") if p.is_file() and p.name.startswith(".")]
    assert not leftovers, leftovers  # no temporary file stays


def test_a_full_disk_during_ingestion_is_one_clear_error_and_leaves_nothing(big_genome, small_disk):
    cmd = [
        SCRIPTS / "ingest_genome.py",
        "--fasta",
        big_genome / "g.fa",
        "--species",
        "sp",
        "--out",
        small_disk / "out" / "g.h5",
    ]
    _fails_on_the_full_disk(cmd, small_disk)
    assert not list(small_disk.iterdir())


def test_a_full_disk_during_prediction_is_one_clear_error_and_leaves_nothing(big_genome, small_disk, tmp_path):
    _fails_on_the_full_disk(_predict_command(big_genome / "g.h5", tmp_path, small_disk / "p.h5"), small_disk)
    assert not (small_disk / "p.h5").exists()


def test_a_full_disk_during_fine_tuning_is_one_clear_error_and_leaves_nothing(tiny_species, small_disk, tmp_path):
    """torch.save on a full disk raises its own RuntimeError (an iostream error), not OSError(ENOSPC)."""
    from genetune.models.checkpoint import input_channels, save_checkpoint
    from genetune.models.hybrid import HybridArchitecture, HybridModel

    save_checkpoint(tmp_path / "m.pt", HybridModel(HybridArchitecture(filter_depth=64, units=64)), input_channels())
    assert (tmp_path / "m.pt").stat().st_size > 600_000  # more than the disk holds
    labels = tiny_species["dir"] / "labels.h5"
    cmd = [
        SCRIPTS / "finetune.py",
        "--train-h5",
        labels,
        "--val-h5",
        labels,
        "--base-model",
        tmp_path / "m.pt",
        "--settings",
        '{"epochs": 1, "batch_size": 4, "max_train_chunks": 4, "max_val_chunks": 4}',
        "--threads",
        "1",
        "--no-progress",
        "--state",
        small_disk / "state" / "state.pt",
        "--out-dir",
        small_disk / "run",
    ]
    _fails_on_the_full_disk(cmd, small_disk)
    assert not list(small_disk.rglob("*.pt"))


def test_most_cds_phases_disagreeing_is_a_warning_and_a_qc_row(tmp_path, caplog):
    from genetune.pseudolabels.labels import gff_to_labels

    seq = "C" * 10 + "ATGAAAGTAAGTTTTAGCCCTAA" + "G" * 39
    fa = write(tmp_path / "g.fa", f">s\n{seq}\n")
    ingest_genome(fa, "sp", tmp_path / "g.h5", 72)
    gff = write(
        tmp_path / "a.gff3",
        "##gff-version 3\ns\tt\tgene\t11\t33\t.\t+\t.\tID=g\n"
        "s\tt\tmRNA\t11\t33\t.\t+\t.\tID=m;Parent=g\ns\tt\texon\t11\t16\t.\t+\t.\tParent=m\n"
        "s\tt\texon\t25\t33\t.\t+\t.\tParent=m\ns\tt\tCDS\t11\t16\t.\t+\t0\tParent=m\n"
        "s\tt\tCDS\t25\t33\t.\t+\t2\tParent=m\n",
    )  # the second phase should be 0
    qc = QC()
    gff_to_labels(gff, tmp_path / "g.h5", tmp_path / "l.h5", qc=qc)
    qc.write(tmp_path / "qc.tsv")
    rows = [ln.split("\t") for ln in (tmp_path / "qc.tsv").read_text().splitlines()]
    assert rows[0] == ["check", "status", "value", "detail"]
    assert ["cds_phases", "warning", "1.0000"] == rows[1][:3] and "disagree" in rows[1][3]
    assert any("CDS phases of 100%" in r.message for r in caplog.records)


def test_a_reference_covering_a_few_sequences_is_a_warning(tiny_species, tmp_path):
    from genetune.evaluate.evaluate import reference_spread

    d = tiny_species["dir"]
    first = [ln for ln in (d / "annotation.gff3").read_text().splitlines() if ln.startswith("chr3")]
    write(tmp_path / "ref.gff3", "##gff-version 3\n" + "\n".join(first) + "\n")
    qc = QC()
    reference_spread(tmp_path / "ref.gff3", d / "genome.h5", qc)
    assert qc.rows[0][:2] == ("reference_spread", "warning") and "genes on 1 of 3 sequences" in qc.rows[0][3]
