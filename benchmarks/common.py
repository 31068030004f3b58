"""Shared benchmark helpers: run a command, measure wall time and peak RSS, report medians."""

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"
sys.path.insert(0, str(ROOT / "src"))


def measure(cmd, tolerate=None, env=None):
    """(wall seconds, peak RSS MiB) of one command and its children. `tolerate(stderr)` may accept
    a non-zero exit (Helixer's scripts fail on package metadata after writing everything)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    stderr = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0 and not (tolerate and tolerate(stderr)):
        raise SystemExit(f"command failed ({code}): {' '.join(map(str, cmd))}\n{stderr[-3000:]}")
    return wall, usage.ru_maxrss / 1024


def helixer_metadata_error(stderr):
    return "PackageNotFoundError" in stderr


def median_runs(steps, repeats, before=None):
    """steps: {name: [cmd, ...]} run in sequence per repeat (wall summed, RSS maxed), interleaved
    across tools so machine noise hits all alike. Returns {name: (median wall, median peak RSS)}."""
    runs = {name: [] for name in steps}
    for _ in range(repeats):
        for name, cmds in steps.items():
            if before:
                before(name)
            walls, rss = zip(*(measure(c, tolerate=helixer_metadata_error) for c in cmds))
            runs[name].append((sum(walls), max(rss)))
    return {name: (statistics.median(w for w, _ in r), statistics.median(m for _, m in r)) for name, r in runs.items()}


def report(title, pairs, results):
    """Print genetune vs peer: median wall, peak RSS, and the ratios."""
    print(f"\n{title}")
    print(f"{'step':<28}{'wall s':>10}{'peak MiB':>10}")
    for name, (wall, rss) in results.items():
        print(f"{name:<28}{wall:>10.2f}{rss:>10.0f}")
    for ours, theirs in pairs:
        (w1, m1), (w2, m2) = results[ours], results[theirs]
        print(f"{ours} vs {theirs}: {w2 / w1:.1f}x faster, {m1 / m2:.2f}x the peak memory")


@contextlib.contextmanager
def work_dir(keep, prefix):
    """The benchmark's working directory: `keep` (created, left in place) or a temporary one
    removed afterwards."""
    work = keep or Path(tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    try:
        yield work
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
