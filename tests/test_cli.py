import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ALLOCATE_IN_A_THREAD = textwrap.dedent("""
    import resource, sys, threading
    import numpy as np
    from genetune.core import cli
    if sys.argv[1] == "keep":
        cli.keep_freed_memory()
    def batches():
        for _ in range(20):
            batch = [np.ones(3 << 17) for _ in range(8)]  # 8 x 3 MB, freed again: one batch's activations
            del batch
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t = threading.Thread(target=batches)
    t.start()
    t.join()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_batch_memory_is_reused_not_faulted_in_again():
    faults = {}
    for mode in ("default", "keep"):
        out = subprocess.run(
            [sys.executable, "-c", ALLOCATE_IN_A_THREAD, mode], check=True, capture_output=True, text=True
        )
        faults[mode] = int(out.stdout)
    one_batch = 8 * 768  # 4 KiB pages
    assert faults["keep"] < 2 * one_batch  # faulted in once, then reused
    assert faults["default"] > 5 * faults["keep"]  # glibc's default hands them back after every batch


@pytest.mark.parametrize(
    "step,allocate,expect",
    [
        (
            "predict",
            "import torch; torch.empty(10**13)",
            "predict: out of memory (it asked for 37252.90 GiB); lower predict: batch_size",
        ),
        (
            "finetune",
            "import numpy; numpy.empty(10**13)",
            "finetune: out of memory (it asked for 72.8 TiB); lower finetune: batch_size",
        ),
    ],
)
def test_an_allocation_failure_is_one_sentence_naming_the_step_the_size_and_what_to_lower(step, allocate, expect):
    """Real allocations that fail (torch's CPU allocator, numpy): no traceback, the setting to lower."""
    code = f"import sys; sys.argv = ['{step}.py']; from genetune.core import cli; cli.run(lambda: exec({allocate!r}))"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")},
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: {expect}") and "mem_mb" in line
