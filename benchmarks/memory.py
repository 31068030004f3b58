"""How much memory each rule used, against what it asks the cluster for (`mem_mb`).

Reads, in finished run folders, the peak each step's log states on its last line (getrusage of the
script and its children) and the `benchmark:` records every rule writes (logs/benchmark/<rule>/*.tsv,
Snakemake's sampling of the job's process tree: max_rss in MB; it misses short peaks), and the mem_mb
that the same jobs request (Snakemake's dry run of the same config, --forceall), and prints one line
per rule and species: the genome's size, the peak resident memory, the request and the headroom.
Over several runs of different genome sizes it fits peak = a + b x genome MB per rule, the shape of
the rules' `by_genome(base, per_mb)` requests.

    .venv/bin/python benchmarks/memory.py RUN_FOLDER[:CONFIG] ...
    .venv/bin/python benchmarks/memory.py .:config/species/micromonas.yaml . /tmp/tinyrun

Exit status 1 when a job's peak exceeded its request (a cluster with a memory cgroup kills it).
"""

import argparse
import csv
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def requested(run, config=None):
    """{(rule, key): mem_mb} of every job of the run folder's DAG (key: the species or demo name)."""
    extra = ["--configfile", config] if config else []
    proc = subprocess.run(
        SNAKEMAKE + ["-n", "--forceall", "--cores", "1", *extra], cwd=run, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"{run}: the dry run failed:\n{proc.stderr[-2000:]}")
    out = {}
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \w+:)", proc.stdout):
        rule = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", block)
        mem = re.search(r"\n\s+resources: .*?\bmem_mb=(\d+)", block)
        wildcards = re.search(r"\n\s+wildcards: (?:species|demo)=([^,\n]+)", block)
        if rule and mem and wildcards:
            key = (rule.group(1), wildcards.group(1))
            out[key] = max(out.get(key, 0), int(mem.group(1)))
    return out


def _named(folder, key, suffix):
    """The files of a rule's log or benchmark folder that belong to species (or demo) `key`."""
    return [p for p in Path(folder).glob(f"*{suffix}") if p.name == f"{key}{suffix}" or p.name.startswith(f"{key}.")]


def peaks(run, keys):
    """{(rule, key): (jobs, peak MB)}: the larger of the benchmark record's sampled max_rss and the
    peak the step's log states on its last line (getrusage: exact, where sampling misses a short job)."""
    out = {}
    for rule, key in keys:
        benchmarks = _named(Path(run) / "logs" / "benchmark" / rule, key, ".tsv")
        rss = []
        for p in benchmarks:
            with open(p) as fh:
                rss += [float(row["max_rss"]) for row in csv.DictReader(fh, delimiter="\t") if row["max_rss"] != "NA"]
        for p in _named(Path(run) / "logs" / rule, key, ".log"):
            rss += [float(m) for m in re.findall(r"peak memory (\d+) MB", p.read_text(errors="replace"))]
        if rss:
            out[(rule, key)] = (len(benchmarks), max(rss))
    return out


def genome_mb(run, key):
    """MB of the species' genome.h5 (the size `by_genome` scales with), or None for a demo name."""
    h5 = Path(run) / "results" / key / "genome.h5"
    return os.path.getsize(h5) / 1e6 if h5.exists() else None


def measure(run, config=None):
    """Rows (rule, key, genome MB, jobs, peak MB, requested MB) of one finished run folder."""
    asked = requested(run, config)
    got = peaks(run, asked)
    return [(rule, key, genome_mb(run, key), *got[(rule, key)], asked[(rule, key)]) for rule, key in sorted(got)]


def fit(rows):
    """{rule: (a, b)} least squares peak = a + b x genome MB, over rows of at least two genome sizes."""
    by_rule = defaultdict(list)
    for rule, _, mb, _, peak, _ in rows:
        if mb is not None:
            by_rule[rule].append((mb, peak))
    out = {}
    for rule, points in by_rule.items():
        sizes = {round(mb, 3) for mb, _ in points}
        if len(sizes) >= 2:
            x, y = np.array(points).T
            b, a = np.polyfit(x, y, 1)
            out[rule] = (float(a), float(b))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="finished run folders, each optionally :CONFIG (its --configfile)")
    args = ap.parse_args()
    rows = []
    for spec in args.runs:
        run, _, config = spec.partition(":")
        rows += measure(run, config or None)
    print("rule\tspecies\tgenome_h5_mb\tjobs\tpeak_rss_mb\tmem_mb\theadroom")
    over = 0
    for rule, key, mb, jobs, peak, asked in rows:
        over += peak > asked
        size = f"{mb:.2f}" if mb is not None else "-"
        print(f"{rule}\t{key}\t{size}\t{jobs}\t{peak:.0f}\t{asked}\t{asked / peak:.1f}x")
    fits = fit(rows)
    if fits:
        print("\nrule\tpeak_mb_at_0\tpeak_mb_per_genome_h5_mb")
        for rule, (a, b) in sorted(fits.items()):
            print(f"{rule}\t{a:.0f}\t{b:.1f}")
    if over:
        print(f"\n{over} job(s) peaked above their mem_mb request", file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
