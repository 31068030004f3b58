import subprocess
import sys
import textwrap

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
