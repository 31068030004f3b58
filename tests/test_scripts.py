"""Every rule's script is a thin command-line program that runs outside Snakemake."""

import subprocess
import sys

import pytest
from conftest import SCRIPTS

ALL_SCRIPTS = sorted(p for p in SCRIPTS.glob("*.py") if p.name != "_bootstrap.py")


@pytest.mark.parametrize("script", ALL_SCRIPTS, ids=lambda p: p.name)
def test_script_help_works(script):
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("usage:")


def test_bad_input_gives_one_error_line_and_no_output(tmp_path):
    fasta = tmp_path / "reads.fa"
    fasta.write_text("@read1\nACGT\n+\nIIII\n")
    script = SCRIPTS / "ingest_genome.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--fasta", str(fasta), "--species", "sp", "--out", str(tmp_path / "g.h5")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    expected = f"error: {fasta} line 1: this looks like FASTQ ('@' header), not FASTA"
    assert proc.stderr.strip().splitlines() == [expected]
    assert not (tmp_path / "g.h5").exists()
