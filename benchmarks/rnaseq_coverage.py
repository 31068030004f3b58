"""genetune vs Helixer's add_ngs_coverage.py vs `samtools depth -a -s` on one RNA-seq BAM.

    python benchmarks/rnaseq_coverage.py [--pairs 2000000] [--mb 20] [--repeats 3] [--oracle .oracle-venv] [--keep DIR]

A simulated species (dUTP paired-end reads, `--pairs` pairs on a `--mb` genome) is made once
(kept with --keep). Helixer (the oracle venv from `make compat`) fills a copy of genome.h5 in
place; genetune writes coverage.h5; samtools (Debian package `samtools`) prints per-base depth
for every position to /dev/null. Runs are interleaved; medians of wall time and peak RSS and
their ratios are printed, plus genetune with 1 and 2 threads and on a quarter of the reads
(peak memory must not depend on the BAM's size). Helixer's and genetune's arrays
are compared before the timings are reported.
"""

# not named coverage.py: run as a script, its folder comes first on sys.path, where that name would
# shadow the `coverage` package that numba imports when present (benchmarks importing numba then fail)

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
from common import ROOT, SCRIPTS, median_runs, report, work_dir

from genetune.core import layout
from genetune.demo.simulate import simulate_species


def same_coverage(hx, gt):
    with h5py.File(hx) as a, h5py.File(gt) as b:
        return all(np.array_equal(a[n][:], b[n][:]) for n in (layout.coverage_name(), layout.spliced_coverage_name()))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=int, default=2_000_000)
    p.add_argument("--mb", type=float, default=20.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--oracle", type=Path, default=ROOT / ".oracle-venv")
    p.add_argument("--keep", type=Path, help="work here and keep the files (default: a temp dir)")
    a = p.parse_args()
    hx = a.oracle / "bin"
    if not (hx / "python").exists():
        raise SystemExit(f"no Helixer oracle at {a.oracle}: run `make compat` first (or pass --oracle)")
    if not shutil.which("samtools"):
        raise SystemExit("samtools not found: apt-get install samtools")
    py, scripts = sys.executable, SCRIPTS
    with work_dir(a.keep, "genetune-covbench-") as work:
        os.chdir(work)  # Helixer's HTSeq memmaps go to random folders under the working directory
        bam, fasta, genome = work / "rnaseq.bam", work / "genome.fa", work / "genome.h5"
        if not bam.exists():
            sizes = [int(a.mb * 1e6 * f) for f in (0.4, 0.3, 0.2, 0.1)]
            print(f"simulating {a.pairs} read pairs on {a.mb:g} Mb (once; --keep reuses it) ...", flush=True)
            simulate_species("target", 3, work, sizes, a.pairs)
        if not genome.exists():
            subprocess.run(
                [py, scripts / "ingest_genome.py", "--fasta", fasta, "--species", "bench", "--out", genome],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        quarter = work / "quarter.bam"
        if not quarter.exists():  # the same genome, a quarter of the reads: peak RSS must not follow
            subprocess.run(["samtools", "view", "-b", "-s", "0.25", "-o", quarter, bam], check=True)
            subprocess.run(["samtools", "index", quarter], check=True)
        n_alignments = int(
            subprocess.run(["samtools", "view", "-c", bam], capture_output=True, text=True, check=True).stdout
        )
        hx_out, gt_out = work / "hx_cov.h5", work / "gt_cov.h5"
        where = "import helixer, os; print(os.path.dirname(helixer.__file__))"
        add_ngs = Path(
            subprocess.run([hx / "python", "-c", where], capture_output=True, text=True, check=True).stdout.strip()
        )
        gt = [
            py,
            scripts / "add_coverage.py",
            "--genome-h5",
            genome,
            "--bam",
            bam,
            "--strandedness",
            "reverse",
            "--out",
            gt_out,
        ]
        steps = {
            f"genetune {a.threads} threads": [gt + ["--threads", a.threads]],
            "genetune 1 thread": [gt + ["--threads", 1]],
            "genetune, 1/4 of the reads": [
                [{bam: quarter, gt_out: work / "gt_quarter.h5"}.get(c, c) for c in gt] + ["--threads", a.threads]
            ],
            "samtools depth -a -s": [["samtools", "depth", "-a", "-s", "-o", "/dev/null", bam]],
            "Helixer add_ngs_coverage": [
                [
                    hx / "python",
                    add_ngs / "evaluation" / "add_ngs_coverage.py",
                    "-s",
                    "bench",
                    "-d",
                    hx_out,
                    "-b",
                    bam,
                    "--second-read-is-sense-strand",
                    "--threads",
                    a.threads,
                ]
            ],
        }

        def fresh_copy(name):
            if name.startswith("Helixer"):
                shutil.copy(genome, hx_out)  # Helixer adds coverage in place

        res = median_runs(steps, a.repeats, before=fresh_copy)
        ours = f"genetune {a.threads} threads"
        report(
            f"RNA-seq coverage, {n_alignments} alignments ({a.pairs} simulated pairs), {a.mb:g} Mb, "
            f"median of {a.repeats}",
            [(ours, "Helixer add_ngs_coverage"), (ours, "samtools depth -a -s"), (ours, "genetune 1 thread")],
            res,
        )
        print(f"identical to Helixer: {same_coverage(hx_out, gt_out)}")


if __name__ == "__main__":
    main()
