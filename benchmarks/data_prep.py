"""genetune vs Helixer on data preparation: FASTA -> genome.h5 and GFF3 -> labels.h5.

    python benchmarks/data_prep.py [--mb 5] [--repeats 3] [--oracle .oracle-venv]
    python benchmarks/data_prep.py --streaming-mb 100      # genetune ingest of a 100 Mb genome

Same simulated genome and annotation for both; Helixer = fasta2h5.py, and rare-geenuff-import +
geenuff2h5.py for labels (the oracle venv from `make compat`). Runs are interleaved; medians of
wall time and peak RSS (process + children, from wait4) and their ratios are printed. The outputs
are checked to hold the same labels before timing counts.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from common import ROOT, SCRIPTS, median_runs, report, work_dir

from genetune.demo.simulate import simulate_genome, write_fasta
from genetune.io.gff import write_gff3

L = 21384


def simulated(d, mb, seed=1):
    """A target-preset genome of `mb` megabases in 4 contigs, with its annotation."""
    sizes = [int(mb * 1e6 * f) for f in (0.4, 0.3, 0.2, 0.1)]
    genome, transcripts = simulate_genome("target", seed, sizes)
    write_fasta(genome, d / "genome.fa")
    write_gff3(transcripts, {k: len(v) for k, v in genome.items()}, d / "annotation.gff3", "simulated")
    return d / "genome.fa", d / "annotation.gff3"


def random_fasta(path, mb, n_contigs=8, seed=0):
    """A large FASTA written piecewise (no gene structure needed to time ingestion)."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    per = int(mb * 1e6) // n_contigs
    with open(path, "wb") as fh:
        for c in range(n_contigs):
            fh.write(f">contig{c + 1}\n".encode())
            for start in range(0, per, 6_000_000):
                n = min(6_000_000, per - start)
                seq = letters[rng.integers(0, 4, n)]
                seq[rng.random(n) < 0.001] = ord("N")
                lines = seq[: n - n % 60].reshape(-1, 60)
                fh.write(b"".join(row.tobytes() + b"\n" for row in lines))
                if n % 60:
                    fh.write(seq[n - n % 60 :].tobytes() + b"\n")
    return path


def same_labels(hx, gt):
    """Every data/ array equal per (seqid, start, end) key (geenuff2h5 orders by length)."""
    import h5py

    with h5py.File(hx) as a, h5py.File(gt) as b:

        def keys(h):
            return [(s, int(x), int(y)) for s, (x, y) in zip(h["data/seqids"][:], h["data/start_ends"][:])]

        index = {k: i for i, k in enumerate(keys(b))}
        order = np.array([index[k] for k in keys(a)])
        return all(np.array_equal(a["data"][n][:], b["data"][n][:][order]) for n in a["data"])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mb", type=float, default=5.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--oracle", type=Path, default=ROOT / ".oracle-venv")
    p.add_argument("--streaming-mb", type=float, help="only time genetune ingesting a random genome this large")
    p.add_argument("--keep", type=Path, help="work here and keep the files (default: a temp dir)")
    a = p.parse_args()
    py, scripts, hx = sys.executable, SCRIPTS, a.oracle / "bin"
    with work_dir(a.keep, "genetune-bench-") as work:
        if a.streaming_mb:
            fasta = random_fasta(work / "big.fa", a.streaming_mb)
            res = median_runs(
                {
                    f"genetune ingest {a.streaming_mb:g} Mb": [
                        [
                            py,
                            scripts / "ingest_genome.py",
                            "--fasta",
                            fasta,
                            "--species",
                            "big",
                            "--out",
                            work / "big.h5",
                        ]
                    ]
                },
                a.repeats,
            )
            report(f"streaming ingest, {a.streaming_mb:g} Mb, L={L}", [], res)
            return
        if not (hx / "fasta2h5.py").exists():
            raise SystemExit(f"no Helixer oracle at {a.oracle}: run `make compat` first (or pass --oracle)")
        fasta, gff3 = simulated(work, a.mb)
        gt_genome, gt_labels = work / "gt_genome.h5", work / "gt_labels.h5"
        hx_genome, hx_labels, db = work / "hx_genome.h5", work / "hx_labels.h5", work / "hx.sqlite3"
        steps = {
            "genetune FASTA->h5": [
                [py, scripts / "ingest_genome.py", "--fasta", fasta, "--species", "bench", "--out", gt_genome]
            ],
            "Helixer fasta2h5": [
                [
                    hx / "fasta2h5.py",
                    "--species",
                    "bench",
                    "--fasta-path",
                    fasta,
                    "--h5-output-path",
                    hx_genome,
                    "--subsequence-length",
                    L,
                ]
            ],
            "genetune GFF3->labels": [
                [py, scripts / "pseudolabels_to_h5.py", "--gff3", gff3, "--genome-h5", gt_genome, "--out", gt_labels]
            ],
            "Helixer import+geenuff2h5": [
                [
                    hx / "rare-geenuff-import",
                    "--gff3",
                    gff3,
                    "--fasta",
                    fasta,
                    "--db-path",
                    db,
                    "--log-file",
                    work / "import.log",
                    "--species",
                    "bench",
                ],
                [hx / "geenuff2h5.py", "--input-db-path", db, "--h5-output-path", hx_labels, "--subsequence-length", L],
            ],
        }

        def clean(name):
            if name.startswith("Helixer import"):
                db.unlink(missing_ok=True)

        res = median_runs(steps, a.repeats, before=clean)
        report(
            f"data preparation, {a.mb:g} Mb simulated genome, L={L}, median of {a.repeats}",
            [("genetune FASTA->h5", "Helixer fasta2h5"), ("genetune GFF3->labels", "Helixer import+geenuff2h5")],
            res,
        )
        print(
            f"identical genome.h5: {same_labels(hx_genome, gt_genome)}; "
            f"identical labels.h5: {same_labels(hx_labels, gt_labels)}"
        )


if __name__ == "__main__":
    main()
