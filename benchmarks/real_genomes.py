"""Real genomes, side by side: the peers' own tools and genetune (first pass and final), all scored
by genetune's evaluator against the reference, with the error taxonomy.

    python workflow/scripts/fetch_real_data.py && make compat     # data, model, the oracle venvs
    apt-get install augustus augustus-data                         # AUGUSTUS, the peer for the human piece
    python benchmarks/real_genomes.py [--genomes micromonas human_chr16 human_chr16_hints] [--repeats 3]
    python benchmarks/real_genomes.py --skip-speed --genomes human_chr16_hints human_chr16_part_hints micromonas

Per genome (config/species/<genome>.yaml gives genetune's settings; human_chr16_hints is the human
piece with the AUGUSTUS tutorial's real RNA-seq hints as evidence; human_chr16_mouse_profile the
human piece without reads, decoded with the profile of the tutorial's mouse piece, learned from its
RNA-seq hints by the workflow on config/species/mouse_chr17.yaml, run first; human_chr16_part_hints
the human piece with the hints past base 100,500 only, every tool scored on the first 100,500 bases,
where no read reached any decoder):
  - geneML 1.3.1's CLI (.oracle-geneml-venv) with its defaults (up to 5 transcripts per gene) and
    with --max-transcripts 1 (skipped when the oracle venv is missing);
  - AUGUSTUS (Debian) with its human parameters on the human piece, with the same hints file
    (extrinsic.M.RM.E.W.cfg, as the tutorial) for human_chr16_hints;
  - the genetune workflow (snakemake --configfile config/species/<genome>.yaml) end to end: the
    first pass (geneML's weights imported, the base model card's profile), every round that ran
    (rounds: auto) and the final annotation (a round only when the final check keeps it);
  - gene, transcript, CDS-exon and base genic F1 of each, and the error taxonomy of each: what
    became of every reference gene (exact, split, merged, missed, one-to-one with start, stop,
    splice shift, missed or extra intron) and found against missed genes by longest intron and exon
    count (GTF references are read as GTF, their stop codons added to the CDS; reference genes whose
    ids are their transcripts' (refGene) are grouped into loci by CDS overlap, as gffcompare does);
  - speed: geneML's CLI against ingest + import + predict + decode of the first pass on the same
    FASTA and cores (medians of --repeats), and the model alone (max abs difference of the 7 outputs).
Then Helixer's own Keras inference (.oracle-venv: HybridModel.py --overlap) of a released-size
HybridModel (4 x Conv1D 96, 3 x BiLSTM 128; random weights, as no released weights are reachable
here) against genetune's predict.py on the imported weights, same genome.h5 and cores.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, SCRIPTS, measure, work_dir

from genetune.evaluate.evaluate import evaluate_stages

GENEML = ROOT / ".oracle-geneml-venv"
HELIXER = ROOT / ".oracle-venv"
REFERENCE = {
    "micromonas": "resources/real/micromonas/annotation.gff3",
    "human_chr16": "resources/real/human_chr16/annotation.gtf",
    "human_chr16_hints": "resources/real/human_chr16/annotation.gtf",
    "human_chr16_mouse_profile": "resources/real/human_chr16/annotation.gtf",
    "human_chr16_part_hints": "resources/real/human_chr16/annotation.gtf",
}
DATA = {
    "micromonas": "micromonas",
    "human_chr16": "human_chr16",
    "human_chr16_hints": "human_chr16",
    "human_chr16_mouse_profile": "human_chr16",
    "human_chr16_part_hints": "human_chr16",
}
SCORED_REGION = {"human_chr16_part_hints": ("chr16", 0, 100_500)}  # scored where the reads never were
BEFORE = {"human_chr16_mouse_profile": "mouse_chr17"}  # the related species whose profile it reuses
# Micromonas: AUGUSTUS has no parameters
AUGUSTUS_SPECIES = {"human_chr16": "human", "human_chr16_hints": "human", "human_chr16_part_hints": "human"}
HINTS = {
    "human_chr16_hints": "resources/real/human_chr16/hints.gff",
    "human_chr16_part_hints": "resources/real/human_chr16/hints_from_100kb.gff",
}
AUGUSTUS_EXTRINSIC = Path("/usr/share/augustus/config/extrinsic/extrinsic.M.RM.E.W.cfg")
HIGH = "genetune final, high confidence"
LEVELS = [("gene", "gene"), ("transcript", "transcript"), ("cds_exon", "cds_exon"), ("base", "genic")]


def _link_checkout(work):
    """A run directory that links the workflow, scripts, package, configs and resources."""
    for name in ("workflow", "src", "config", "resources"):
        if not (work / name).exists():
            (work / name).symlink_to(ROOT / name)


def _env():
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def run_workflow(work, genome, cores):
    """Wall seconds of the whole workflow on one species config; results under work/results/<genome>."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", str(cores), "--configfile", f"config/species/{genome}.yaml"],
        cwd=work,
        env=_env(),
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise SystemExit(f"workflow on {genome} failed:\n{proc.stderr[-4000:]}")
    return time.perf_counter() - t0


def geneml_cli(fasta, out, cores, *extra):
    return [GENEML / "bin" / "geneml", fasta, "-o", out, "-c", cores, *extra]


def first_pass_steps(work, genome, cores):
    """genetune's ingest + import + predict + decode of the first pass, as the workflow runs them."""
    import yaml

    cfg = yaml.safe_load((ROOT / "config" / "species" / f"{genome}.yaml").read_text())
    py, s, d = sys.executable, SCRIPTS, work / "speed"
    d.mkdir(exist_ok=True)
    return [
        [
            py,
            s / "ingest_genome.py",
            "--fasta",
            ROOT / cfg["genome"],
            "--species",
            genome,
            "--subsequence-length",
            cfg["subsequence_length"],
            "--out",
            d / "genome.h5",
        ],
        [py, s / "import_model.py", "--keras", ROOT / cfg["base_model"], "--out", d / "base.pt"],
        [
            py,
            s / "predict.py",
            "--genome-h5",
            d / "genome.h5",
            "--model",
            d / "base.pt",
            "--threads",
            cores,
            "--out",
            d / "predictions.h5",
        ],
        [
            py,
            s / "decode.py",
            "--genome-h5",
            d / "genome.h5",
            "--predictions",
            d / "predictions.h5",
            "--settings",
            json.dumps(cfg["decode"]),
            "--out",
            d / "annotation.gff3",
        ],
    ]


def model_alone(work, genome, cores):
    """(geneML TF seconds, genetune torch seconds, max abs diff) on both strands of every sequence."""
    import h5py
    import numpy as np
    import torch

    from genetune.core import layout
    from genetune.io.chunks import StrandReader, read_keys, strand_runs
    from genetune.models.checkpoint import load_model

    d = work / "speed"
    fasta = ROOT / "resources" / "real" / DATA[genome] / "genome.fa"
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": str(cores), "TF_NUM_INTEROP_THREADS": "1"}
    proc = subprocess.run(
        [
            GENEML / "bin" / "python",
            ROOT / "tests" / "geneml_oracle.py",
            fasta,
            d / "geneml.npz",
            ROOT / "resources" / "models" / "geneML_default.keras",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode:
        raise SystemExit(f"geneML oracle failed:\n{proc.stderr[-3000:]}")
    ref = np.load(d / "geneml.npz")
    model, _ = load_model(d / "base.pt")
    model.eval()
    torch.set_num_threads(cores)
    spent, worst = 0.0, 0.0
    with h5py.File(d / "genome.h5") as g:
        for run in strand_runs(*read_keys(d / "genome.h5")):
            x, _ = StrandReader(run, g[layout.X]).read(0, int(run.valid.sum()))
            x = torch.from_numpy(np.pad(x.astype(np.float32), ((model.flank, model.flank), (0, 0))))[None]
            t = time.perf_counter()
            with torch.no_grad():
                ours = model.class_probabilities(model(x))[0].numpy()
            spent += time.perf_counter() - t
            worst = max(worst, float(np.abs(ours - ref[f"{run.seqid}|{run.strand}"].T).max()))
    return float(ref["seconds"]), spent, worst


def helixer_keras_timing(work, cores, repeats):
    """(Helixer HybridModel.py seconds, genetune predict.py seconds) for a released-size model."""
    d = work / "helixer"
    d.mkdir(exist_ok=True)
    oracle = subprocess.run(
        [HELIXER / "bin" / "python", ROOT / "tests" / "keras_oracle.py", d, "released_land_plant"],
        capture_output=True,
        text=True,
    )
    if oracle.returncode:
        raise SystemExit(f"Helixer Keras oracle failed:\n{oracle.stderr[-3000:]}")
    subprocess.run(
        [
            sys.executable,
            SCRIPTS / "import_model.py",
            "--keras",
            d / "released_land_plant.h5",
            "--out",
            d / "released.pt",
        ],
        check=True,
        capture_output=True,
    )
    genome = work / "speed" / "genome.h5"
    hybrid_model_py = subprocess.run(
        [HELIXER / "bin" / "python", "-c", "import helixer, os; print(os.path.dirname(helixer.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    helixer_cmd = [
        "taskset",
        "-c",
        f"0-{cores - 1}",
        HELIXER / "bin" / "python",
        Path(hybrid_model_py) / "prediction" / "HybridModel.py",
        "--load-model-path",
        d / "released_land_plant.h5",
        "--test-data",
        genome,
        "--overlap",
        "--val-test-batch-size",
        8,
        "--prediction-output-path",
        d / "hx_predictions.h5",
    ]
    ours_cmd = [
        "taskset",
        "-c",
        f"0-{cores - 1}",
        sys.executable,
        SCRIPTS / "predict.py",
        "--genome-h5",
        genome,
        "--model",
        d / "released.pt",
        "--threads",
        cores,
        "--out",
        d / "gt_predictions.h5",
    ]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    theirs = statistics.median(
        measure(helixer_cmd, tolerate=lambda e: "PackageNotFoundError" in e, env=env)[0] for _ in range(repeats)
    )
    ours = statistics.median(measure(ours_cmd)[0] for _ in range(repeats))
    return theirs, ours


def in_region(path, out, region):
    """The genes of a GFF3 (blocks from a gene line on) or a GTF (grouped by transcript_id) that lie
    wholly inside region (seqid, lo, hi), written to out (headers kept)."""
    seqid, lo, hi = region
    lines = Path(path).read_text().splitlines(keepends=True)

    def inside(cols):
        return cols[0] == seqid and int(cols[3]) - 1 >= lo and int(cols[4]) <= hi

    if str(path).endswith(".gtf"):
        spans = {}
        for ln in lines:
            cols = ln.split("\t")
            if len(cols) == 9 and 'transcript_id "' in cols[8]:
                tid = cols[8].split('transcript_id "')[1].split('"')[0]
                spans.setdefault(tid, []).append(inside(cols))
        keep = {t for t, flags in spans.items() if all(flags)}
        kept = [
            ln
            for ln in lines
            if ln.startswith("#")
            or (
                len(ln.split("\t")) == 9
                and 'transcript_id "' in ln
                and ln.split('transcript_id "')[1].split('"')[0] in keep
            )
        ]
    else:
        kept, keep = [], True
        for ln in lines:
            cols = ln.split("\t")
            if len(cols) == 9 and cols[2] == "gene":
                keep = inside(cols)
            if ln.startswith("#") and not ln.startswith("##sequence-region") or len(cols) != 9 or keep:
                kept.append(ln)
    Path(out).write_text("".join(kept))
    return out


PSAURON_WEIGHTS = ROOT / "resources" / "models" / "psauron_model_state_dict.pt"


def coding_share(gff3, genome_h5, model):
    """Share of the annotation's genes that PSAURON calls protein-coding."""
    from genetune.deliver.protein_score import coding_count
    from genetune.io.gff import read_gff3

    coding, scored = coding_count(model, genome_h5, [t for t in read_gff3(gff3) if t.cds])
    return coding / scored if scored else float("nan")


def scores(reference, annotations, genome_h5):
    """{tool: ({level: F1}, genes predicted, taxonomy rows, (gene precision, gene recall))} of each
    annotation against the reference."""
    result = evaluate_stages(reference, annotations, genome_h5)
    out = {}
    for tool in annotations:
        rows = {(r[0], r[1]): r for r in result.tables[tool]}
        gene = rows[("gene", "gene")]
        out[tool] = ({lvl: rows[lvl][4] for lvl in LEVELS}, gene[6], result.taxonomies[tool], (gene[2], gene[3]))
    return out


def print_high_confidence(genome, table):
    """Gene precision and the share of reference genes found, the final set against its high-confidence
    subset (deliver: min_confidence; the subset must be clearly more precise)."""
    print(f"\n{genome}: the high-confidence subset (final/annotation.high_confidence.gff3)")
    print(f"{'':<40}{'gene precision':>15}{'ref. genes found':>17}{'genes':>7}")
    for label in ("genetune final", HIGH):
        f1, n, _, (precision, recall) = table[label]
        print(f"{label:<40}{precision:>15.3f}{recall:>17.3f}{n:>7}")


def augustus(fasta, out, species, hints=None):
    """AUGUSTUS's own gene models (GFF3) of the FASTA, with the hints file when given."""
    cmd = ["augustus", f"--species={species}", "--gff3=on", "--genemodel=complete", str(fasta)]
    if hints:
        cmd[1:1] = [f"--hintsfile={hints}", f"--extrinsicCfgFile={AUGUSTUS_EXTRINSIC}"]
    t0 = time.perf_counter()
    with open(out, "w") as fh:
        subprocess.run(cmd, stdout=fh, check=True)
    return time.perf_counter() - t0


def print_taxonomy(genome, table):
    """The error taxonomy of every tool: one column per tool."""
    tools = list(table)
    rows = [r[:2] for r in table[tools[0]][2]]
    print(f"\n{genome}: error taxonomy (reference genes; structure rows: total found/missed)")
    print(f"{'':<34}" + "".join(f"{t[:22]:>24}" for t in tools))
    for k, (group, name) in enumerate(rows):
        cells = []
        for t in tools:
            _, _, n, found, missed = table[t][2][k]
            cells.append(f"{n} ({found}/{missed})" if found != "" else str(n))
        print(f"{group[:18] + ' ' + name:<34}" + "".join(f"{c:>24}" for c in cells))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--genomes", nargs="+", default=sorted(REFERENCE), choices=sorted(REFERENCE))
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip-helixer", action="store_true", help="leave out Helixer's Keras timing")
    p.add_argument("--skip-speed", action="store_true", help="accuracy only (no timing runs)")
    p.add_argument("--keep", type=Path)
    a = p.parse_args()
    missing = [
        str(x)
        for x in (ROOT / "resources" / "models" / "geneML_default.keras", *(ROOT / REFERENCE[g] for g in a.genomes))
        if not Path(x).exists()
    ]
    if missing:
        raise SystemExit(f"missing: {', '.join(missing)}\nrun `python workflow/scripts/fetch_real_data.py`")
    with_geneml = (GENEML / "bin" / "geneml").exists()
    if not with_geneml:
        print("geneML's CLI is not installed (`make compat` builds .oracle-geneml-venv): its rows are left out")
    with_augustus = shutil.which("augustus") is not None
    with work_dir(a.keep, "genetune-real-") as work:
        _link_checkout(work)
        for genome in a.genomes:
            fasta = ROOT / "resources" / "real" / DATA[genome] / "genome.fa"
            reference = ROOT / REFERENCE[genome]
            res = work / "results" / genome
            if genome in BEFORE:
                run_workflow(work, BEFORE[genome], a.cores)
            wall = run_workflow(work, genome, a.cores)
            annotations, cli_walls = {}, {}
            if with_geneml:
                gml = {
                    "geneML CLI (defaults)": work / f"{genome}_geneml.gff3",
                    "geneML CLI (--max-transcripts 1)": work / f"{genome}_geneml_mt1.gff3",
                }
                annotations.update(gml)
                repeats = 1 if a.skip_speed else a.repeats
                cli_walls = {  # the defaults timed --repeats times; one transcript per gene run once, for accuracy
                    "geneML CLI (defaults)": [
                        measure(geneml_cli(fasta, gml["geneML CLI (defaults)"], a.cores)) for _ in range(repeats)
                    ],
                    "geneML CLI (--max-transcripts 1)": [
                        measure(
                            geneml_cli(fasta, gml["geneML CLI (--max-transcripts 1)"], a.cores, "--max-transcripts", 1)
                        )
                    ],
                }
            if with_augustus and genome in AUGUSTUS_SPECIES:
                hints = ROOT / HINTS[genome] if genome in HINTS else None
                name = f"AUGUSTUS {AUGUSTUS_SPECIES[genome]}" + (" + hints" if hints else "")
                annotations[name] = work / f"{genome}_augustus.gff3"
                cli_walls[name] = [(augustus(fasta, annotations[name], AUGUSTUS_SPECIES[genome], hints), 0)]
            annotations["genetune first pass"] = res / "first_pass/annotation.gff3"
            for r in range(1, 10):
                if (res / f"round{r}/annotation.gff3").exists():
                    annotations[f"genetune round {r}"] = res / f"round{r}/annotation.gff3"
            annotations["genetune final"] = res / "final/annotation.gff3"
            annotations[HIGH] = res / "final/annotation.high_confidence.gff3"
            where = ""
            if genome in SCORED_REGION:
                region = SCORED_REGION[genome]
                where = f", on {region[0]}:{region[1] + 1}-{region[2]} only"
                reference = in_region(reference, work / f"{genome}_reference{reference.suffix}", region)
                annotations = {
                    k: in_region(v, work / f"{genome}_{k.replace(' ', '_')}.gff3", region)
                    for k, v in annotations.items()
                }
            table = scores(reference, annotations, res / "genome.h5")
            psauron = None
            if PSAURON_WEIGHTS.exists():
                from genetune.deliver.protein_score import load

                psauron = load(PSAURON_WEIGHTS)
            print(
                f"\n{genome}: accuracy against {REFERENCE[genome]} (genetune's evaluator{where}; PSAURON: "
                "share of the genes it calls protein-coding)"
            )
            print(f"{'':<40}{'gene F1':>9}{'transcr.':>9}{'CDS-exon':>9}{'base':>7}{'genes':>7}{'PSAURON':>9}")
            for label, (f1, n, _, _) in table.items():
                share = coding_share(annotations[label], res / "genome.h5", psauron) if psauron else float("nan")
                print(
                    f"{label:<40}"
                    + "".join(f"{f1[lvl]:>9.3f}" for lvl in LEVELS[:3])
                    + f"{f1[LEVELS[3]]:>7.3f}{n:>7}{share:>9.3f}"
                )
            print_taxonomy(genome, table)
            print_high_confidence(genome, table)
            rounds_tsv = (res / "final" / "rounds.tsv").read_text()
            print(f"\n{genome}: the final check (results/{genome}/final/rounds.tsv)\n{rounds_tsv}")
            for verdict in sorted(res.glob("round*/verdict.tsv")):
                print(f"{verdict.relative_to(res)}: {verdict.read_text().splitlines()[1]}")
            print(f"whole workflow: {wall:.0f} s on {a.cores} cores")
            if a.skip_speed or not with_geneml:
                continue
            steps = first_pass_steps(work, genome, a.cores)
            ours = []
            for _ in range(a.repeats):
                ours.append([measure(cmd) for cmd in steps])
            stages = ["ingest", "import", "predict", "decode"]
            med = [statistics.median(run[i][0] for run in ours) for i in range(len(stages))]
            rss = max(m for run in ours for _, m in run)
            total = sum(med)
            print(
                f"\n{genome}: speed on {a.cores} cores, medians of {a.repeats} (whole workflow incl. fine-tuning: "
                f"{wall:.0f} s)"
            )
            for label, runs in cli_walls.items():
                w = statistics.median(x for x, _ in runs)
                print(f"{label:<40}{w:>8.1f} s {max(m for _, m in runs):>7.0f} MiB")
            print(
                f"{'genetune ingest+import+predict+decode':<40}{total:>8.1f} s {rss:>7.0f} MiB  ("
                + ", ".join(f"{s} {t:.1f}" for s, t in zip(stages, med))
                + ")"
            )
            base_cli = statistics.median(x for x, _ in cli_walls["geneML CLI (defaults)"])
            print(f"end to end: genetune {base_cli / total:.1f}x faster than geneML's CLI (goal >= 3x)")
            tf_s, torch_s, diff = model_alone(work, genome, a.cores)
            print(
                f"model alone, both strands: geneML/TensorFlow {tf_s:.1f} s, genetune/torch {torch_s:.1f} s: "
                f"{tf_s / torch_s:.1f}x; max abs diff of the 7 outputs {diff:.1e}"
            )
        if not a.skip_helixer and not a.skip_speed:
            theirs, ours = helixer_keras_timing(work, a.cores, a.repeats)
            print(
                f"\nreleased-size HybridModel on {a.genomes[-1]} (both strands, overlap, {a.cores} cores): Helixer "
                f"HybridModel.py {theirs:.1f} s, genetune predict.py {ours:.1f} s: {theirs / ours:.1f}x"
            )


if __name__ == "__main__":
    main()
