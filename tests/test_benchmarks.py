"""Every benchmark starts: its imports resolve as `python benchmarks/<name>.py` resolves them (the
benchmarks folder first on sys.path, where a file named like an installed package shadows it)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCHMARKS.glob("*.py") if p.name != "common.py"))
def test_the_benchmark_starts_and_explains_itself(script):
    proc = subprocess.run([sys.executable, str(BENCHMARKS / script), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("usage:"), proc.stderr[-2000:]


def test_no_benchmark_shadows_a_package_it_runs_with():
    """numba imports `coverage` when it can: a benchmarks/coverage.py broke every benchmark importing numba."""
    code = "import sys; sys.path.insert(0, sys.argv[1]); import numba, torch, h5py"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(BENCHMARKS)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
