"""Prediction throughput: genetune's demo model vs AUGUSTUS on the same FASTA (issue 5).

    python benchmarks/predict.py [--mb 1] [--repeats 3] [--keep DIR]
    python benchmarks/predict.py --memory-mb 100        # peak RSS predicting a 100 Mb genome
    python benchmarks/predict.py --gpu-only              # on a GPU machine: Mb/s, demo + released size

AUGUSTUS (Debian: apt-get install augustus augustus-data) runs `--species=fly` single-threaded;
genetune predicts both strands with Helixer's overlapping windows, with 1 and 2 threads (and
once without overlap). Throughput is genome bp per second per core, medians of the runs. Also
printed: the model's FLOPs per base of one forward pass, the FLOPs genetune spends per genome
base (both strands, overlap), and the achieved fraction of this machine's peak, taken as what
torch's float32 matrix multiply reaches on one core.
"""

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch
from common import ROOT, median_runs, work_dir

from genetune.checkpoint import load_model
from genetune.model import Architecture, HybridModel, flops_per_bp
from genetune.predict import window_starts
from genetune.simulate import simulate_genome, write_fasta

MODEL = ROOT / "resources" / "models" / "demo_base.pt"
L = 21384
RELEASED = Architecture(cnn_layers=4, filter_depth=96, kernel_size=10, lstm_layers=3, units=128)


def matmul_peak_gflops(n=2048, repeats=5):
    """float32 GEMM GFLOP/s on one core: the practical peak the model's FLOPs are compared with."""
    torch.set_num_threads(1)
    a = torch.randn(n, n)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * n ** 3 / best / 1e9


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def windows_per_base(lengths, overlap=True):
    """Forward-pass bases per genome base and strand (Helixer's windows of L every L/2)."""
    total = sum(len(window_starts(n, L, overlap)) * L for n in lengths)
    return total / sum(lengths)


def gpu_throughput(arch_or_model, seconds=20, batch=64):
    """Mb/s of forward passes (bf16 autocast) on CUDA for one model, windows of L."""
    model = (arch_or_model if isinstance(arch_or_model, torch.nn.Module) else HybridModel(arch_or_model))
    model = model.cuda().eval()
    x = torch.rand(batch, L, 4, device="cuda")
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        model(x)
        torch.cuda.synchronize()
        t, n = time.perf_counter(), 0
        while time.perf_counter() - t < seconds:
            model(x)
            n += 1
        torch.cuda.synchronize()
    return n * batch * L / (time.perf_counter() - t) / 1e6


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mb", type=float, default=1.0, help="simulated genome size for the comparison")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--memory-mb", type=float, help="only: genetune's peak RSS predicting a genome this large")
    p.add_argument("--gpu-only", action="store_true", help="only the GPU throughput (needs CUDA)")
    p.add_argument("--keep", type=Path)
    a = p.parse_args()
    demo, _ = load_model(MODEL)
    if a.gpu_only:
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA device")
        name = torch.cuda.get_device_name()
        for label, m in (("demo model", demo), ("released Helixer size (4xConv96, 3xBiLSTM128)", RELEASED)):
            print(f"{name}: {label}: {gpu_throughput(m):.1f} Mb/s forward (bf16 autocast, batch 64, L={L})")
        return
    py, scripts = sys.executable, ROOT / "scripts"
    with work_dir(a.keep, "genetune-predbench-") as work:
        mb = a.memory_mb or a.mb
        sizes = [int(mb * 1e6 * f) for f in (0.4, 0.3, 0.2, 0.1)]
        fasta, genome = work / f"genome_{mb:g}.fa", work / f"genome_{mb:g}.h5"
        if not genome.exists():
            g, _ = simulate_genome("target", 5, sizes)
            write_fasta(g, fasta)
            subprocess.run([py, scripts / "ingest_genome.py", "--fasta", fasta, "--species", "bench", "--out", genome],
                           check=True, stdout=subprocess.DEVNULL)
        predict = [py, scripts / "predict.py", "--genome-h5", genome, "--model", MODEL, "--out", work / "pred.h5"]
        if a.memory_mb:
            res = median_runs({"genetune predict, 2 threads": [predict + ["--threads", 2]]}, 1)
            wall, rss = res["genetune predict, 2 threads"]
            print(f"predicting a {mb:g} Mb genome: {wall:.0f} s, peak RSS {rss:.0f} MiB ({rss / 1024:.2f} GiB)")
            return
        if not shutil.which("augustus"):
            raise SystemExit("AUGUSTUS not found: apt-get install augustus augustus-data")
        steps = {
            "genetune 1 thread": [predict + ["--threads", 1]],
            "genetune 2 threads": [predict + ["--threads", 2]],
            "genetune 2 threads, no overlap": [predict + ["--threads", 2, "--no-overlap"]],
            "AUGUSTUS --species=fly": [["augustus", "--species=fly", "--outfile=" + str(work / "aug.gff"), fasta]],
        }
        res = median_runs(steps, a.repeats)
        n = sum(sizes)
        cores = {"genetune 1 thread": 1, "genetune 2 threads": 2, "genetune 2 threads, no overlap": 2,
                 "AUGUSTUS --species=fly": 1}
        per_core = {k: n / w / cores[k] for k, (w, _) in res.items()}
        print(f"\nprediction, {mb:g} Mb simulated genome (both strands), median of {a.repeats}")
        print(f"{'step':<34}{'wall s':>9}{'peak MiB':>10}{'kbp/s/core':>12}")
        for k, (w, m) in res.items():
            print(f"{k:<34}{w:>9.1f}{m:>10.0f}{per_core[k] / 1e3:>12.1f}")
        aug = per_core["AUGUSTUS --species=fly"]
        for k in ("genetune 1 thread", "genetune 2 threads", "genetune 2 threads, no overlap"):
            print(f"{k} vs AUGUSTUS: {per_core[k] / aug:.1f}x the bp/s/core (goal 50x)")
        flops = flops_per_bp(demo.arch)
        spent = flops * 2 * windows_per_base(sizes)
        peak = matmul_peak_gflops()
        achieved = per_core["genetune 1 thread"] * spent / 1e9
        print(f"demo model: {flops / 1e3:.1f} kFLOPs per base per forward pass; with both strands and "
              f"Helixer's overlap {spent / 1e3:.1f} kFLOPs per genome base")
        print(f"1 thread: {achieved:.1f} GFLOP/s of a {peak:.1f} GFLOP/s float32 GEMM peak per core "
              f"({100 * achieved / peak:.0f}%); 50x AUGUSTUS would need {50 * aug * spent / 1e9:.1f} GFLOP/s per core")


if __name__ == "__main__":
    main()
