"""Shared fixtures: a tiny simulated species, built once per test session."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
sys.path.insert(0, str(ROOT / "src"))

from genetune.demo.simulate import simulate_species  # noqa: E402
from genetune.io.fasta import ingest_genome  # noqa: E402
from genetune.pseudolabels.labels import gff_to_labels  # noqa: E402

TINY_L = 4608  # 64 x 72: small chunks keep tests fast


@pytest.fixture(scope="session")
def tiny_species(tmp_path_factory):
    """Simulated target-preset species: genome.fa, annotation.gff3, rnaseq.bam, genome.h5, labels.h5."""
    d = tmp_path_factory.mktemp("tiny")
    genome, transcripts = simulate_species("target", 3, d, [30000, 20000, 9000], 4000)
    ingest_genome(d / "genome.fa", "tiny", d / "genome.h5", TINY_L)
    gff_to_labels(d / "annotation.gff3", d / "genome.h5", d / "labels.h5")
    return {"dir": d, "genome": genome, "transcripts": transcripts, "L": TINY_L}


def write(path, text):
    path = Path(path)
    path.write_text(text)
    return path
