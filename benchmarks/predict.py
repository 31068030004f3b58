"""Prediction throughput: genetune's demo model vs AUGUSTUS on the same FASTA.

    python benchmarks/predict.py [--mb 1] [--repeats 3] [--keep DIR]
    python benchmarks/predict.py --memory-mb 100        # peak RSS predicting a 100 Mb genome
    python benchmarks/predict.py --gpu-only              # on a GPU machine: Mb/s, demo + released size

AUGUSTUS (Debian: apt-get install augustus augustus-data) runs `--species=fly` single-threaded;
genetune predicts both strands with Helixer's overlapping windows, with 1 and 2 threads (and
once without overlap). Throughput is genome bp per second per core, medians of the runs. Also
printed: the model's FLOPs per base of one forward pass, the FLOPs genetune spends per genome
base (both strands, overlap), and the achieved fraction of this machine's peak, taken as what
torch's float32 matrix multiply reaches on one core.

Each tool also runs on a 20 kb FASTA. Its time there is the fixed cost of a run (genetune: ~1.5 s
importing torch, loading the model); the "marginal" rate, (bp - 20 kb) / (wall - wall at 20 kb),
is the rate that a whole genome, hundreds of Mb, sees.
"""

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch
from common import ROOT, SCRIPTS, median_runs, work_dir

from genetune.demo.simulate import simulate_genome, write_fasta
from genetune.models.checkpoint import load_model
from genetune.models.hybrid import HybridArchitecture, HybridModel, conv_flops_per_bp, flops_per_bp
from genetune.models.predict import window_starts

MODEL = ROOT / "resources" / "models" / "demo_base.pt"
L = 21384
TINY = 20_000  # bp: a run this small costs only the fixed start-up
RELEASED = HybridArchitecture(cnn_layers=4, filter_depth=96, kernel_size=10, lstm_layers=3, units=128)


def matmul_peak_gflops(n=2048, repeats=5):
    """float32 GEMM GFLOP/s on one core: the practical peak the model's FLOPs are compared with."""
    torch.set_num_threads(1)
    a = torch.randn(n, n)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def windows_per_base(lengths, overlap=True):
    """Forward-pass bases per genome base and strand (Helixer's windows of L every L/2)."""
    total = sum(len(window_starts(n, L, overlap)) * L for n in lengths)
    return total / sum(lengths)


def conv_bases_per_base(lengths, reach, batch=8, overlap=True):
    """Convolved bases per genome base and strand: predict.py convolves each batch's span of
    windows once, plus 2 x reach bases at both edges of every window."""
    total = 0
    for n in lengths:
        starts = window_starts(n, L, overlap)
        for b0 in range(0, len(starts), batch):
            ws = starts[b0 : b0 + batch]
            total += ws[-1] + L - ws[0] + len(ws) * 4 * reach
    return total / sum(lengths)


def gpu_throughput(arch_or_model, seconds=20, batch=64):
    """Mb/s of forward passes (bf16 autocast) on CUDA for one model, windows of L."""
    model = arch_or_model if isinstance(arch_or_model, torch.nn.Module) else HybridModel(arch_or_model)
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


def simulated_genome(work, name, sizes):
    """FASTA and genome.h5 of a simulated genome with these sequence sizes (kept between runs with --keep)."""
    fasta, genome = work / f"{name}.fa", work / f"{name}.h5"
    if not genome.exists():
        g, _ = simulate_genome("target", 5, sizes)
        write_fasta(g, fasta)
        subprocess.run(
            [sys.executable, SCRIPTS / "ingest_genome.py", "--fasta", fasta, "--species", "bench", "--out", genome],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return fasta, genome


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
    py, scripts = sys.executable, SCRIPTS
    with work_dir(a.keep, "genetune-predbench-") as work:
        mb = a.memory_mb or a.mb
        sizes = [int(mb * 1e6 * f) for f in (0.4, 0.3, 0.2, 0.1)]
        fasta, genome = simulated_genome(work, f"genome_{mb:g}", sizes)

        def predict(h5, *options):
            out = work / "pred.h5"
            return [py, scripts / "predict.py", "--genome-h5", h5, "--model", MODEL, "--out", out, *options]

        if a.memory_mb:
            res = median_runs({"genetune predict, 2 threads": [predict(genome, "--threads", 2)]}, 1)
            wall, rss = res["genetune predict, 2 threads"]
            print(f"predicting a {mb:g} Mb genome: {wall:.0f} s, peak RSS {rss:.0f} MiB ({rss / 1024:.2f} GiB)")
            return
        if not shutil.which("augustus"):
            raise SystemExit("AUGUSTUS not found: apt-get install augustus augustus-data")
        tiny_fasta, tiny_genome = simulated_genome(work, "genome_tiny", [TINY])

        def steps_for(fa, h5):
            return {
                "genetune 1 thread": [predict(h5, "--threads", 1)],
                "genetune 1 thread, no overlap": [predict(h5, "--threads", 1, "--settings", '{"overlap": false}')],
                "genetune 2 threads": [predict(h5, "--threads", 2)],
                "genetune 2 threads, no overlap": [predict(h5, "--threads", 2, "--settings", '{"overlap": false}')],
                "AUGUSTUS --species=fly": [["augustus", "--species=fly", "--outfile=" + str(work / "aug.gff"), fa]],
            }

        res = median_runs(steps_for(fasta, genome), a.repeats)
        fixed = median_runs(steps_for(tiny_fasta, tiny_genome), a.repeats)
        n = sum(sizes)
        cores = {k: 2 if "2 threads" in k else 1 for k in res}
        per_core = {k: n / w / cores[k] for k, (w, _) in res.items()}
        marginal = {k: (n - TINY) / (w - fixed[k][0]) / cores[k] for k, (w, _) in res.items()}
        print(f"\nprediction, {mb:g} Mb simulated genome (both strands), median of {a.repeats}")
        print(f"{'step':<34}{'wall s':>9}{'peak MiB':>10}{'kbp/s/core':>12}{'20 kb s':>9}{'marginal':>10}")
        for k, (w, m) in res.items():
            print(f"{k:<34}{w:>9.1f}{m:>10.0f}{per_core[k] / 1e3:>12.1f}{fixed[k][0]:>9.1f}{marginal[k] / 1e3:>10.1f}")
        aug, aug_marginal = per_core["AUGUSTUS --species=fly"], marginal["AUGUSTUS --species=fly"]
        for k in res:
            if k.startswith("genetune"):
                print(
                    f"{k} vs AUGUSTUS: {per_core[k] / aug:.1f}x the bp/s/core, marginal "
                    f"{marginal[k] / aug_marginal:.1f}x (goal 50x)"
                )
        flops, conv = flops_per_bp(demo.arch), conv_flops_per_bp(demo.arch)
        spent = 2 * ((flops - conv) * windows_per_base(sizes) + conv * conv_bases_per_base(sizes, demo.conv_reach))
        peak = matmul_peak_gflops()
        achieved = marginal["genetune 1 thread"] * spent / 1e9
        print(
            f"demo model: {flops / 1e3:.1f} kFLOPs per base per forward pass; with both strands and Helixer's "
            f"overlap (convolutions shared by overlapping windows) {spent / 1e3:.1f} kFLOPs per genome base"
        )
        print(
            f"1 thread, marginal: {achieved:.1f} GFLOP/s of a {peak:.1f} GFLOP/s float32 GEMM peak per core "
            f"({100 * achieved / peak:.0f}%); 50x AUGUSTUS's marginal rate would need "
            f"{50 * aug_marginal * spent / 1e9:.1f} GFLOP/s per core"
        )


if __name__ == "__main__":
    main()
