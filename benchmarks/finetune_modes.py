"""Does fine-tuning help, and which way most? The workflow run once per configuration on one
species, every run from the same first pass.

    python benchmarks/finetune_modes.py                      # the demo species (make demo first)
    python benchmarks/finetune_modes.py --config config/species/micromonas.yaml --variants full head rounds2
    python benchmarks/finetune_modes.py --list               # the variants

Each variant is the species config with a few settings changed (VARIANTS); its run reuses the
baseline's genome.h5, coverage.h5 and first-pass predictions and reruns everything after them
(decoding, pseudolabels, selection, split, fine-tuning of every round, re-prediction,
evaluation). Printed per variant: gene, CDS-exon and base genic F1 of the first pass, of each
round and of the final annotation against the reference, and the fine-tuning wall time (the
rules' benchmark files). The variant `default` is the config as it is.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml
from common import ROOT

VARIANTS = {
    "default": {},
    "full": {"finetune": {"mode": "full"}},
    "head": {"finetune": {"mode": "head", "lr": 0.001}},
    "unfreeze_last1": {"finetune": {"mode": "unfreeze_last", "unfreeze_last": 1}},
    "coverage": {"finetune": {"mode": "coverage"}},
    "no_rnaseq_hints": {"decode": {"rnaseq_hint_weight": 0.0}},
    "rounds1": {"rounds": 1},
    "rounds2": {"rounds": 2},
    "evidence_weight1": {"select": {"evidence_gene_weight": 1}},
    "evidence_weight10": {"select": {"evidence_gene_weight": 10}},
    "no_doubt_masks": {"select": {"split_gap_quantile": 0, "deep_intron_mask": False}},
    "chunk_selection": {"select": {"unit": "chunk", "keep_fraction": 0.9, "strata": 6}},
    "keep_half": {"select": {"keep_fraction": 0.5}},
    "boundary_head": {
        "finetune": {"add_boundary_head": True, "boundary_loss_weight": 0.5},
        "decode": {"boundary_weight": 10},
    },
    "plateau": {"finetune": {"schedule": "plateau", "warmup_steps": 10, "epochs": 16, "patience": 5}},
    "focal": {"finetune": {"loss": "focal", "focal_gamma": 2.0}},
}
REUSED = ("genome.h5", "coverage.h5", "base_model.pt", "qc/strandedness.tsv", "first_pass/predictions.h5")


def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            merge(a[k], v)
        else:
            a[k] = v
    return a


def run_variant(name, base_cfg, work, cache, cores):
    wd = work / name
    if wd.exists():
        shutil.rmtree(wd)
    (wd / "config").mkdir(parents=True)
    for n in ("workflow", "src"):
        (wd / n).symlink_to(ROOT / n)
    (wd / "resources").symlink_to(ROOT / "resources")
    cfg = merge(json.loads(json.dumps(base_cfg)), VARIANTS[name])
    (wd / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    sp = cfg["species"]
    for n in REUSED:
        if (cache / n).exists():
            (wd / "results" / sp / n).parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-a", str(cache / n), str(wd / "results" / sp / n)], check=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    t0 = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", str(cores)], cwd=wd, env=env, capture_output=True, text=True
    )
    if proc.returncode:
        return None, f"failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}"
    rows = [ln.split("\t") for ln in (wd / "results" / sp / "evaluation/metrics.tsv").read_text().splitlines()[1:]]
    scores = {}
    for r in rows:
        if (r[1], r[2]) in (("gene", "gene"), ("cds_exon", "cds_exon"), ("base", "genic")):
            scores.setdefault(r[0], {})[r[1]] = float(r[5])
    ft = sum(
        float(line.split("\t")[0])
        for f in (wd / "logs/benchmark/finetune").glob("*.tsv")
        for line in f.read_text().splitlines()[1:]
    )
    return scores, f"fine-tuning {ft:.0f} s, run {time.time() - t0:.0f} s"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="config/config.yaml", help="the species config (default: the demo)")
    p.add_argument(
        "--variants",
        nargs="+",
        default=["default", "full", "head", "unfreeze_last1", "coverage", "no_rnaseq_hints", "rounds2"],
        choices=sorted(VARIANTS),
    )
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one)")
    p.add_argument("--list", action="store_true")
    a = p.parse_args()
    if a.list:
        for name, change in VARIANTS.items():
            print(f"{name:<18}{json.dumps(change)}")
        return
    base_cfg = yaml.safe_load((ROOT / a.config).read_text())
    cache = ROOT / "results" / base_cfg["species"]
    if not (cache / "first_pass" / "predictions.h5").exists():
        raise SystemExit(f"no first pass in {cache}: run the workflow on {a.config} first (make demo)")
    if not base_cfg.get("reference"):
        raise SystemExit(f"{a.config} has no reference: nothing to score against")
    work = a.keep or Path(os.environ.get("TMPDIR", "/tmp")) / "genetune-finetune-modes"
    work.mkdir(parents=True, exist_ok=True)
    print(f"{base_cfg['species']}: gene / CDS-exon / base genic F1 against {base_cfg['reference']}")
    for name in a.variants:
        scores, note = run_variant(name, base_cfg, work, cache, a.cores)
        if scores is None:
            print(f"{name:<18}{note}")
            continue
        cells = " | ".join(
            f"{stage} {v['gene']:.3f} / {v['cds_exon']:.3f} / {v['base']:.3f}" for stage, v in scores.items()
        )
        gain = scores["final"]["gene"] - scores["first_pass"]["gene"]
        print(f"{name:<18}{cells} | gene F1 {gain:+.3f} | {note}", flush=True)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
