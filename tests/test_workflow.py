"""Real Snakemake runs on a tiny simulated species (the whole chain, end to end)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from Bio.Seq import Seq

from genetune.core import layout
from genetune.evaluate import rounds
from genetune.io.fasta import IUPAC, read_fasta
from genetune.io.gff import read_gff3
from genetune.models.checkpoint import load_checkpoint

pytestmark = pytest.mark.workflow  # `make test-fast` leaves these out

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# the tiny species of .test/ (the catalog's test config): simulated from a seed, three short contigs
TINY = yaml.safe_load((ROOT / ".test" / "config" / "config.yaml").read_text())


def _workdir(tmp_path, config):
    """A run directory that links the workflow, scripts and package and holds its own config."""
    for name in ("workflow", "src"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "resources" / "models").mkdir(parents=True)
    (tmp_path / "resources" / "models" / "demo_base.pt").symlink_to(ROOT / "resources/models/demo_base.pt")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def _env():
    """The environment without the interpreter's folder on PATH: the rules must find their Python
    from Snakemake's own, as `.venv/bin/snakemake` on a fresh shell does."""
    env = dict(os.environ)
    here = Path(sys.executable).parent
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p and Path(p) != here)
    return env


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    # spaces and shell metacharacters in the path: every command must quote what it is given
    wd = _workdir(tmp_path_factory.mktemp("wf run $HOME 'x' &"), TINY)
    proc = subprocess.run(
        SNAKEMAKE + ["--cores", "2", "--directory", str(wd)], cwd=wd, env=_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return wd


def test_workflow_writes_valid_gene_models(tiny_run):
    """Every CDS of both passes translates (Biopython) without an internal stop: complete genes
    from ATG to a stop codon, genes cut by a sequence end in the frame their CDS phase gives."""
    res = tiny_run / "results" / "tiny"
    letters = np.array(list(IUPAC) + ["N"])
    genome = {sid: "".join(letters[codes]) for sid, codes in read_fasta(tiny_run / "resources/demo/tiny/genome.fa")}
    for stage in ("first_pass", "final"):
        genes = read_gff3(res / stage / "annotation.gff3")
        assert len(genes) >= 5
        for t in genes:
            cds = "".join(genome[t.seqid][s:e] for s, e in t.cds)
            cds = cds if t.strand == "+" else str(Seq(cds).reverse_complement())
            at_start, at_end = t.start == 0, t.end == len(genome[t.seqid])
            partial5, partial3 = (at_start, at_end) if t.strand == "+" else (at_end, at_start)
            if partial5 or partial3:
                first_phase = t.cds_phases[0] if t.strand == "+" else t.cds_phases[-1]
                codons = cds[first_phase:]
                protein = str(Seq(codons[: len(codons) // 3 * 3]).translate())
                assert "*" not in (protein if partial3 else protein[:-1])
                continue
            protein = str(Seq(cds).translate())
            assert cds.startswith("ATG") and protein.endswith("*") and "*" not in protein[:-1]


def test_the_final_annotation_comes_with_proteins_cds_mrna_and_gtf(tiny_run, tmp_path):
    """One protein, CDS and mRNA record per final transcript, complete proteins from M without an
    internal stop; the GTF names the same transcripts."""
    from Bio import SeqIO

    res = tiny_run / "results" / "tiny" / "final"
    transcripts = {t.transcript_id: t for t in read_gff3(res / "annotation.gff3") if t.cds}
    for name in ("proteins.faa", "cds.fna", "mrna.fna"):
        assert {r.id for r in SeqIO.parse(str(res / name), "fasta")} == set(transcripts), name
    for r in SeqIO.parse(str(res / "proteins.faa"), "fasta"):
        if "partial=" not in r.description:
            assert str(r.seq).startswith("M") and "*" not in str(r.seq), r.id
    gtf_ids = {ln.split('transcript_id "')[1].split('"')[0] for ln in (res / "annotation.gtf").read_text().splitlines()}
    assert gtf_ids == set(transcripts)
    if shutil.which("gffread"):  # an independent route (Debian's gffread) gives the same proteins
        theirs = tmp_path / "gffread.faa"
        genome = shutil.copy(tiny_run / "resources/demo/tiny/genome.fa", tmp_path)  # gffread writes a .fai beside it
        subprocess.run(["gffread", "-y", str(theirs), "-g", str(genome), str(res / "annotation.gff3")], check=True)
        gffread = {r.id: str(r.seq).rstrip(".*") for r in SeqIO.parse(str(theirs), "fasta")}
        complete = [r for r in SeqIO.parse(str(res / "proteins.faa"), "fasta") if "partial=" not in r.description]
        assert complete and all(gffread[r.id] == str(r.seq) for r in complete)


def test_the_final_annotation_carries_evidence_a_high_confidence_subset_and_a_summary(tiny_run):
    res = tiny_run / "results" / "tiny" / "final"
    genes = [ln.split("\t") for ln in (res / "annotation.gff3").read_text().splitlines() if "\tgene\t" in ln]
    assert genes and all("introns_supported=" in g[8] and "exon_coverage=" in g[8] for g in genes)
    assert any("evidence=full" in g[8] for g in genes)  # the tiny species has reads
    high = read_gff3(res / "annotation.high_confidence.gff3")
    assert 0 < len(high) <= len(genes)
    summary = {ln.split("\t")[0]: ln.split("\t")[1:] for ln in (res / "summary.tsv").read_text().splitlines()}
    assert summary["measure"] == ["first_pass", "final"]
    assert int(summary["genes"][1]) == len(genes) and int(summary["high_confidence_genes"][1]) == len(high)
    assert "gene_f1" in summary and (res / "protein_lengths.svg").stat().st_size > 1000


def test_a_genetic_code_ncbi_does_not_define_is_rejected_by_the_schema(tmp_path):
    wd = _workdir(tmp_path, {**TINY, "genetic_code": 7})
    proc = subprocess.run(SNAKEMAKE + ["-n", "--cores", "1"], cwd=wd, env=_env(), capture_output=True, text=True)
    assert proc.returncode != 0 and "genetic_code: 7 is not one of" in proc.stdout + proc.stderr


@pytest.mark.skipif(
    shutil.which("gt") is None, reason="GFF3 validation needs Debian's genometools: apt-get install genometools"
)
def test_every_gff3_the_workflow_writes_passes_gt_gff3validator(tiny_run):
    for path in (
        "results/tiny/first_pass/annotation.gff3",
        "results/tiny/final/annotation.gff3",
        "results/tiny/final/annotation.high_confidence.gff3",
        "resources/demo/tiny/annotation.gff3",
    ):
        proc = subprocess.run(["gt", "gff3validator", str(tiny_run / path)], capture_output=True, text=True)
        assert proc.returncode == 0 and "input is valid GFF3" in proc.stdout + proc.stderr, proc.stderr


def test_workflow_evaluates_first_pass_every_round_and_final_against_reference(tiny_run):
    lines = (tiny_run / "results/tiny/evaluation/metrics.tsv").read_text().splitlines()
    rows = [ln.split("\t") for ln in lines[1:]]
    f1 = {(r[0], r[1], r[2]): float(r[5]) for r in rows}
    assert {r[0] for r in rows} == {"first_pass", "round1", "round2", "final"}
    assert f1[("first_pass", "base", "genic")] > 0.2  # the base model finds genes on the unseen preset
    # the final annotation is one of the stages, so it scores as that stage does at every level
    final = {key[1:]: value for key, value in f1.items() if key[0] == "final"}
    assert any(
        final == {key[1:]: value for key, value in f1.items() if key[0] == stage}
        for stage in ("first_pass", "round1", "round2")
    )
    assert (tiny_run / "results/tiny/evaluation/f1.svg").stat().st_size > 1000


def test_workflow_trains_a_coverage_model_from_the_confident_pseudolabels(tiny_run):
    res = tiny_run / "results/tiny/round1"
    metrics = (res / "finetune/metrics.tsv").read_text().splitlines()
    assert metrics[0] == "epoch\tstep\tsplit\tmetric\tvalue\tlr" and metrics[1].startswith("0\t0\tval\t")
    ckpt = load_checkpoint(res / "finetune/best.pt")
    cov = ckpt["input_channels"]["coverage"]
    assert cov["bams"] == ["rnaseq.bam"] and cov["strandedness"] == ["reverse"]
    assert ckpt["architecture"]["coverage_adapter"]["n_bams"] == 1
    with h5py.File(res / "pseudolabels/confident.h5") as c:
        n_genes, n_kept = c.attrs["n_genes"], c.attrs["n_genes_kept"]
    genes = (res / "pseudolabels/genes.tsv").read_text().splitlines()
    assert n_kept < n_genes and "intron_support" in genes[0] and len(genes) - 1 == n_genes
    with h5py.File(res / "finetune/training_data.h5") as t:
        assert layout.coverage_name() in t and t[layout.Y].shape[0] == t[layout.X].shape[0]
    assert (res / "finetune/learning_curves.svg").stat().st_size > 5000


def test_each_round_fine_tunes_the_previous_rounds_model_and_the_final_is_the_best_by_validation(tiny_run):
    res = tiny_run / "results/tiny"
    from genetune.models.checkpoint import sha256

    r1, r2 = (load_checkpoint(res / f"round{r}/finetune/best.pt") for r in (1, 2))
    assert r2["parent_sha256"] == sha256(res / "round1/finetune/best.pt")
    assert r1["parent_sha256"] == sha256(tiny_run / "resources/models/demo_base.pt")
    lines = (res / "final/rounds.tsv").read_text().splitlines()
    rows = [dict(zip(lines[0].split("\t"), ln.split("\t"))) for ln in lines[1:]]
    assert rows[0]["check"] == rounds.EVIDENCE_CHECK  # the tiny species has RNA-seq: the junction check first
    assert int(rows[0]["junctions"]) > 0  # the split sent read junctions to validation
    assert [r["chosen"] for r in rows].count("yes") == 1
    chosen = next(r for r in rows if r["chosen"] == "yes")
    if chosen["verdict"] == "decides":
        decided = [r for r in rows if r["check"] == chosen["check"]]
        assert [r["stage"] for r in decided] == ["first_pass", "round1", "round2"]
        best = max(float(r["score"]) for r in decided)
        assert float(chosen["score"]) == best
        assert all(float(r["score"]) < best for r in decided[: decided.index(chosen)])  # the earliest best
    else:  # no check could decide: said so, and the first pass stays
        assert chosen["stage"] == "first_pass" and chosen["check"] == "none could decide"
        assert all(r["verdict"].startswith("cannot decide: ") for r in rows[:-1])
    assert (res / "chosen/annotation.gff3").read_text() == (tiny_run / chosen["annotation"]).read_text()
    # the final annotation is the chosen stage's gene models, renamed by locus tag
    final, stage = read_gff3(res / "final/annotation.gff3"), read_gff3(tiny_run / chosen["annotation"])
    assert sorted((t.seqid, t.strand, t.exons, t.cds) for t in final) == sorted(
        (t.seqid, t.strand, t.exons, t.cds) for t in stage
    )
    assert [t.gene_id for t in final] == [f"tiny_{10 * k:06d}" for k in range(1, len(final) + 1)]


def test_workflow_predictions_keep_genome_chunk_order(tiny_run):
    res = tiny_run / "results/tiny"
    with h5py.File(res / "genome.h5") as g, h5py.File(res / "round2/predictions.h5") as p:
        assert np.array_equal(g[layout.START_ENDS][:], p[layout.START_ENDS][:])
        assert np.array_equal(g[layout.SEQIDS][:], p[layout.SEQIDS][:])
        classes = p[layout.PREDICTIONS][0]
        assert np.allclose(classes.sum(-1), 1, atol=1e-3) and (classes >= 0).all()  # probabilities per base
        assert p[layout.PREDICTIONS].shape == g[layout.X].shape


def test_decoding_used_the_rnaseq_hints(tiny_run):
    for log in ("decode/tiny.first_pass.0.log", "decode/tiny.round1.0.log", "decode/tiny.round2.0.log"):
        assert "RNA-seq hints from results/tiny/coverage.h5" in (tiny_run / "logs" / log).read_text()


def test_every_rule_left_a_log(tiny_run):
    logs = {p.parent.name for p in (tiny_run / "logs").rglob("*.log")}
    assert {
        "ingest_genome",
        "add_coverage",
        "predict",
        "gather_predictions",
        "decode",
        "gather_annotation",
        "correct_pseudolabels",
        "pseudolabels_to_h5",
        "select_confident",
        "split_train_val",
        "finetune",
        "choose_final_round",
        "deliver",
        "evaluate",
        "gene_stats",
    } <= logs


def test_demo_config_validates_and_plans_the_whole_chain(tmp_path):
    wd = _workdir(tmp_path, yaml.safe_load((ROOT / "config/config.yaml").read_text()))
    proc = subprocess.run(SNAKEMAKE + ["-n", "--cores", "2"], cwd=wd, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for rule in ("simulate_demo_species", "predict", "finetune", "decode", "evaluate"):
        assert rule in proc.stdout


def test_invalid_config_is_rejected_by_the_schema(tmp_path):
    wd = _workdir(tmp_path, {**TINY, "finetune": {"mode": "everything"}})
    proc = subprocess.run(SNAKEMAKE + ["-n", "--cores", "1"], cwd=wd, env=_env(), capture_output=True, text=True)
    assert proc.returncode != 0 and "everything" in proc.stdout + proc.stderr


def test_readme_starts_with_the_demo_and_test_commands():
    lines = [ln for ln in (ROOT / "README.md").read_text().splitlines() if ln.strip()]
    assert lines[1] == "```" and lines[2].startswith("make demo") and lines[3].startswith("make test")


def test_pretrain_target_plans_source_simulation_through_training(tmp_path):
    wd = _workdir(tmp_path, yaml.safe_load((ROOT / "config/config.yaml").read_text()))
    (wd / "config" / "pretrain.yaml").write_text((ROOT / "config/pretrain.yaml").read_text())
    proc = subprocess.run(
        SNAKEMAKE + ["-n", "--cores", "2", "pretrain", "--configfile", "config/pretrain.yaml"],
        cwd=wd,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for rule in (
        "simulate_source_species",
        "ingest_source_genome",
        "source_labels_to_h5",
        "concatenate_sources",
        "split_sources",
        "train_base_model",
    ):
        assert rule in proc.stdout
    assert proc.stdout.count("rule simulate_source_species") == 3  # three source presets
    # a rule reused under another name (use rule ... as) logs into its own folder, which names it in
    # the line a killed job leaves (killed_from_outside)
    assert "killed_from_outside $? logs/ingest_source_genome/source_a.log" in proc.stdout


TINY_RESIDUAL = {
    **TINY,
    "rnaseq": [],
    "base_model": "resources/models/tiny_residual.keras",
    "rounds": 1,
    "decode": {"min_intron": 30, "boundary_weight": 5.0},
    "finetune": {"mode": "unfreeze_last", "unfreeze_last": 1, "epochs": 1, "batch_size": 2, "lr": 0.001, "patience": 2},
}


@pytest.fixture(scope="module")
def residual_run(tmp_path_factory):
    """The chain with a residual-CNN base model given as a Keras 3 file (geneML's format)."""
    import torch
    from keras3_like import write_keras3_like

    from genetune.models.residual import ResidualArchitecture, ResidualCNN

    torch.manual_seed(0)
    wd = _workdir(tmp_path_factory.mktemp("wf_res"), TINY_RESIDUAL)
    write_keras3_like(
        ResidualCNN(ResidualArchitecture(channels=8, groups=[[2, 5, 1], [1, 5, 2]])).eval(),
        wd / "resources" / "models" / "tiny_residual.keras",
    )
    proc = subprocess.run(
        SNAKEMAKE + ["--cores", "2", "--directory", str(wd)], cwd=wd, env=_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return wd


def test_a_keras_base_model_is_imported_fine_tuned_and_re_predicts_through_the_same_rules(residual_run):
    res = residual_run / "results" / "tiny"
    assert load_checkpoint(res / "base_model.pt")["model_card"]["source"]["format"] == "keras3"
    tuned = load_checkpoint(res / "round1" / "finetune" / "best.pt")
    assert tuned["family"] == "residual" and tuned["train_config"]["mode"] == "unfreeze_last"
    for stage in ("first_pass", "round1"):
        with h5py.File(res / stage / "predictions.h5") as p:
            assert p.attrs["model_family"] == "residual" and layout.PREDICTIONS_BOUNDARY in p
        assert read_gff3(res / stage / "annotation.gff3") is not None
    for log in ("decode/tiny.first_pass.0.log", "decode/tiny.round1.0.log"):
        assert "boundary probabilities from" in (residual_run / "logs" / log).read_text()
    assert (residual_run / "logs" / "import_base_model" / "tiny.log").exists()


RESUMABLE = {
    **TINY,
    "rnaseq": [],
    "rounds": 1,
    "finetune": {"mode": "full", "epochs": 5, "batch_size": 2, "lr": 0.001, "patience": 10, "save_every": 1},
}


def _finetune_pid(workdir):
    """The pid of the finetune.py process running in `workdir`, if any."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            if any(c.endswith(b"finetune.py") for c in cmd) and Path(os.readlink(proc / "cwd")) == workdir:
                return int(proc.name)
        except (OSError, ValueError):
            continue
    return None


def test_kill_9_of_the_whole_run_then_the_same_command_ends_as_an_uninterrupted_run(tmp_path_factory):
    """kill -9 of Snakemake's whole process group (a lost login node) mid fine-tuning, then the same
    command, as the README says: the dead run's locks are removed (no --unlock), the resume state is
    no output, so Snakemake keeps it; training continues from the last saved step and the checkpoints
    and metrics equal an uninterrupted run's, without duplicated rows."""
    import signal
    import time

    import torch

    whole = _workdir(tmp_path_factory.mktemp("whole"), RESUMABLE)
    proc = subprocess.run(SNAKEMAKE + ["--cores", "2"], cwd=whole, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cut = _workdir(tmp_path_factory.mktemp("cut"), RESUMABLE)
    state = cut / "results/tiny/round1/finetune_state/state.pt"
    run = subprocess.Popen(
        SNAKEMAKE + ["--cores", "2"],
        cwd=cut,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, as a login shell's job
    )
    killed_at, deadline = None, time.time() + 600
    while killed_at is None and time.time() < deadline and run.poll() is None:
        if state.exists():
            try:
                s = torch.load(state, weights_only=False)
            except Exception:  # being replaced right now
                continue
            pid = _finetune_pid(cut)
            if s["step"] >= 6 and not s["done"] and pid:
                os.killpg(run.pid, signal.SIGKILL)  # Snakemake and its jobs at once
                killed_at = s["step"]
        time.sleep(0.05)
    run.wait()
    assert killed_at and run.returncode != 0, "the finetune job finished before it could be killed"
    # Snakemake died with its jobs: nothing cleaned up what fine-tuning had written so far
    assert state.exists() and list(
        (cut / ".snakemake/locks").glob("*.lock")
    )  # what made the rerun fail with "cannot be locked"
    again = subprocess.run(SNAKEMAKE + ["--cores", "2"], cwd=cut, env=_env(), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "removed the locks of the run pid" in again.stderr
    log = (cut / "logs/finetune/tiny.round1.log").read_text()
    assert "resumed from" in log
    a, b = (w / "results/tiny/round1/finetune" for w in (whole, cut))
    assert (a / "metrics.tsv").read_text() == (b / "metrics.tsv").read_text()
    rows = (b / "metrics.tsv").read_text().splitlines()
    assert len(rows) == len(set(rows))
    for name in ("best.pt", "last.pt"):
        x, y = (load_checkpoint(d / name)["model_state"] for d in (a, b))
        assert all(torch.equal(x[k], y[k]) for k in x), name
    # the same config twice: byte-identical gene models and metrics (reproducibility)
    for path in ("round1/annotation.gff3", "final/annotation.gff3", "evaluation/metrics.tsv", "stats/genes.tsv"):
        assert (whole / "results/tiny" / path).read_bytes() == (cut / "results/tiny" / path).read_bytes(), path


SLURM_SPECIES = {
    **TINY,
    "rnaseq": [],
    "reference": None,
    "rounds": 1,
    "finetune": {"mode": "head", "epochs": 1, "batch_size": 4, "lr": 0.001, "patience": 1},
}


def test_the_slurm_profile_submits_jobs_the_executor_plugin_accepts(tmp_path):
    """A real (not dry) run through snakemake-executor-plugin-slurm with stub sbatch, sacct, squeue
    and srun that run each job at once: every job is submitted with the profile's account and
    partitions, GPU rules with --gpus=1 on the GPU partition, CPU rules with --cpus-per-task from
    their threads, and memory and runtime from the rules' input functions."""
    pytest.importorskip("snakemake_executor_plugin_slurm")
    (tmp_path / "w").mkdir()
    wd = _workdir(tmp_path / "w", SLURM_SPECIES)
    env = _env()
    env["PATH"] = f"{ROOT / 'tests' / 'slurm_stubs'}{os.pathsep}{env['PATH']}"
    env["SLURM_STUB_DIR"] = str(tmp_path / "slurm")
    targets = ["results/tiny/round1/finetune/best.pt", "results/tiny/round1/pieces/0.predictions.h5"]
    # the chain up to the split runs locally first; then a CPU rule (split_train_val), finetune and
    # predict (round 1) are submitted: three jobs, a short test
    local = subprocess.run(
        SNAKEMAKE + ["--cores", "2", "results/tiny/round1/finetune/training_data.h5"],
        cwd=wd,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert local.returncode == 0, local.stderr[-3000:]
    proc = subprocess.run(
        SNAKEMAKE
        + [
            "--workflow-profile",
            "workflow/profiles/slurm",
            "--jobs",
            "2",
            "--default-resources",
            "slurm_account=testacct",
            "slurm_partition=short",
            "--latency-wait",
            "5",
            "--slurm-init-seconds-before-status-checks",
            "1",
            "--seconds-between-status-checks",
            "1",
            "--forcerun",
            "split_train_val",
            "--",
            *targets,
        ],
        cwd=wd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    calls = (tmp_path / "slurm" / "sbatch.log").read_text().splitlines()

    def call_for(rule):
        found = [c for c in calls if f"rule_{rule}_" in c]
        assert len(found) == 1, f"sbatch calls for {rule}: {found} of {calls}"
        return found[0]

    predict, finetune, ingest = (call_for(r) for r in ("predict", "finetune", "split_train_val"))
    for call in (predict, finetune, ingest):
        assert "-A testacct" in call and " --mem " in call and " -t " in call
    for call in (predict, finetune):
        assert "-p gpu" in call and "--gpus=1" in call and "--gres" not in call
    assert "-p short" in ingest and "--gpus" not in ingest
    assert len(calls) == 3 and all((wd / t).exists() for t in targets)
    assert "--cpus-per-task=8" in predict and "--cpus-per-task=1" in ingest  # threads of the profile, of the rule


def test_the_workflow_deploys_as_a_module_from_another_directory(tmp_path):
    """The catalog's standardized usage: a Snakefile of the user's own with `module genetune:` and
    `use rule * from genetune`, the user's config, run from the user's directory to the end."""
    d = tmp_path / "my project"
    (d / "config").mkdir(parents=True)
    cfg = {
        **TINY,
        "rnaseq": [],
        "rounds": 1,
        "finetune": {"mode": "head", "epochs": 1, "batch_size": 4, "lr": 0.001, "patience": 1},
    }
    (d / "config" / "config.yaml").write_text(yaml.safe_dump(cfg))
    (d / "resources" / "models").mkdir(parents=True)
    (d / "resources" / "models" / "demo_base.pt").symlink_to(ROOT / "resources/models/demo_base.pt")
    (d / "Snakefile").write_text(f'''configfile: "config/config.yaml"


module genetune:
    snakefile:
        "{ROOT / "workflow" / "Snakefile"}"
    config:
        config


use rule * from genetune
''')
    proc = subprocess.run(SNAKEMAKE + ["--cores", "2"], cwd=d, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert read_gff3(d / "results/tiny/final/annotation.gff3")
    assert (d / "results/tiny/evaluation/metrics.tsv").exists() and (d / "results/tiny/stats/genes.tsv").exists()


def test_a_species_sheet_runs_several_species_in_one_dag(tmp_path):
    wd = _workdir(tmp_path, TINY)
    for name in ("alpha", "beta"):
        (wd / f"{name}.fa").write_text(f">{name}1\n" + "ACGTTGCA" * 2000 + "\n")
        (wd / f"{name}.yaml").write_text(yaml.safe_dump({"species": name, "genome": f"{name}.fa"}))
    (wd / "species.tsv").write_text("species\tconfig\nalpha\talpha.yaml\nbeta\tbeta.yaml\n")
    (wd / "multi.yaml").write_text(yaml.safe_dump({"species_sheet": "species.tsv"}))
    proc = subprocess.run(
        SNAKEMAKE + ["-n", "--cores", "2", "--configfile", "multi.yaml"],
        cwd=wd,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for name in ("alpha", "beta"):
        assert f"results/{name}/final/annotation.gff3" in proc.stdout
        assert f"logs/finetune/{name}.round1.log" in proc.stdout
    assert "tiny" not in proc.stdout.replace("resources/demo/tiny", "")


def test_every_job_peaked_below_the_memory_it_asks_the_cluster_for(tiny_run):
    """Each step's log states its peak memory; no job of the tiny run used more than its mem_mb (a
    cluster's memory cgroup would have killed it). benchmarks/memory.py measures the same on any run."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import memory

    rows = memory.measure(tiny_run)
    measured = {rule for rule, *_ in rows}
    assert {"predict", "decode", "finetune", "deliver", "evaluate"} <= measured
    assert "peak memory" in (tiny_run / "logs/finetune/tiny.round1.log").read_text()
    over = [(rule, peak, asked) for rule, _, _, _, peak, asked in rows if peak > asked]
    assert not over, over


def test_every_gff3_header_says_what_made_it(tiny_run):
    from genetune import __version__
    from genetune.models.checkpoint import sha256

    for stage in ("first_pass", "round1", "final"):
        head = [
            ln
            for ln in (tiny_run / "results/tiny" / stage / "annotation.gff3").read_text().splitlines()
            if ln.startswith("#")
        ]
        # the settings that shaped the gene models, not the whole config (that would rerun every decode)
        settings = next(ln for ln in head if ln.startswith("# decode settings "))
        assert f"# genetune {__version__}" in head and '"gene_penalty": 20.0' in settings
        assert (
            f"# base model resources/models/demo_base.pt sha256 {sha256(ROOT / 'resources/models/demo_base.pt')}"
            in head
        )
        assert any(ln.startswith("# model sha256 ") for ln in head)
    record = yaml.safe_load((tiny_run / "results/tiny/final/provenance.yaml").read_text())
    assert record["genetune"] == __version__ and record["config"]["species"] == "tiny"
    assert len(record["config_sha256"]) == 64


def test_rounds_auto_runs_rounds_until_a_verdict_says_stop(tmp_path):
    """rounds: auto (the default): after each round a checkpoint judges whether another runs; the
    final check then scores exactly the rounds that ran, and a round the verdict stopped before
    never trains."""
    wd = _workdir(tmp_path, {**TINY, "rounds": "auto"})
    proc = subprocess.run(SNAKEMAKE + ["--cores", "2"], cwd=wd, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    res = wd / "results/tiny"
    ran = []
    for r in range(1, rounds.MAX_AUTO_ROUNDS + 1):
        if not (res / f"round{r}/annotation.gff3").exists():
            break
        ran.append(r)
        verdict = res / f"round{r}/verdict.tsv"
        if r == rounds.MAX_AUTO_ROUNDS:
            break
        decision = rounds.read_verdict(verdict)
        row = dict(zip(*(ln.split("\t") for ln in verdict.read_text().splitlines())))
        assert row["reason"] and 0 <= float(row["cds_exon_f1_to_previous"]) <= 1
        if decision == "stop":
            break
    assert ran and not (res / f"round{ran[-1] + 1}/finetune").exists()
    lines = (res / "final/rounds.tsv").read_text().splitlines()
    stages = {ln.split("\t")[0] for ln in lines[1:]}
    assert stages == {"first_pass"} | {f"round{r}" for r in ran}
    again = subprocess.run(SNAKEMAKE + ["-n", "--cores", "2"], cwd=wd, env=_env(), capture_output=True, text=True)
    assert "Nothing to be done" in again.stdout + again.stderr  # the verdicts are stable: a rerun has nothing to do


def _jobs(wd, *extra):
    """{(rule, its outputs): its inputs} of the jobs a dry run plans (--forceall: every job)."""
    proc = subprocess.run(
        SNAKEMAKE + ["-n", "--cores", "1", *extra], cwd=wd, env=_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \w+:)", proc.stdout):
        rule = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", block)
        if rule:
            outputs = re.search(r"\n\s+output: (.*)", block)
            inputs = re.search(r"\n\s+input: (.*)", block)
            key = (rule.group(1), outputs.group(1) if outputs else rule.group(1))
            jobs[key] = set(inputs.group(1).split(", ")) if inputs else set()
    return jobs


def _descendants(dag, start):
    """The jobs of `dag` (_jobs) that read, directly or not, what the `start` jobs write."""
    done, todo = set(start), list(start)
    while todo:
        made = set(todo.pop()[1].split(", "))
        for job, inputs in dag.items():
            if job not in done and inputs & made:
                done.add(job)
                todo.append(job)
    return done


# one setting per config section, and the jobs that read it (rule, and a part of their output path)
CHANGES = {
    "decode": (
        {"decode": {**TINY["decode"], "gene_penalty": 25.0}},
        [("decode", ""), ("judge_round", ""), ("choose_final_round", ""), ("estimate_profile", "round1/")],
    ),
    "select": ({"select": {**TINY["select"], "keep_fraction": 0.7}}, [("select_confident", "")]),
    "split": ({"split": {**TINY["split"], "seed": 2}}, [("split_train_val", "")]),
    "finetune": ({"finetune": {**TINY["finetune"], "lr": 0.001}}, [("finetune", "")]),
    "evaluate": ({"reference_is_incomplete": True}, [("evaluate", "")]),
    "deliver": ({"deliver": {"min_confidence": 0.5}}, [("deliver", "")]),
    "scatter": ({"scatter": {"pieces": 2}}, [("predict", ""), ("decode", "")]),
    "rounds": ({"rounds": 1}, [("choose_final_round", ""), ("evaluate", "")]),
}


@pytest.mark.parametrize("section", list(CHANGES))
def test_a_setting_change_reruns_only_the_rules_that_read_it_and_what_follows(tiny_run, tmp_path, section):
    """Snakemake plans exactly the jobs that read the changed section, what depends on them, and
    provenance.yaml (the whole config's record); never the first pass for a later section."""
    wd = tmp_path / "run"
    shutil.copytree(tiny_run, wd, symlinks=True, ignore=shutil.ignore_patterns("logs"))
    change, readers = CHANGES[section]
    (wd / "config" / "config.yaml").write_text(yaml.safe_dump({**TINY, **change}))
    dag = _jobs(wd, "--forceall")
    start = {job for job in dag for rule, part in readers if job[0] == rule and part in job[1]}
    start |= {job for job in dag if job[0] == "provenance"}
    expected = {rule for rule, _ in _descendants(dag, start)}
    planned = {rule for rule, _ in _jobs(wd)}
    assert planned == expected, (sorted(planned - expected), sorted(expected - planned))
    if section in ("select", "split", "finetune", "evaluate", "deliver"):
        assert not any("first_pass" in outputs for _, outputs in _jobs(wd))


def test_after_a_change_the_rerun_does_the_planned_jobs_and_then_nothing(tiny_run, tmp_path):
    wd = tmp_path / "run"
    shutil.copytree(tiny_run, wd, symlinks=True, ignore=shutil.ignore_patterns("logs"))
    (wd / "config" / "config.yaml").write_text(yaml.safe_dump({**TINY, "reference_is_incomplete": True}))
    planned = {rule for rule, _ in _jobs(wd)}
    assert planned == {"evaluate", "summarize", "provenance", "all"}
    proc = subprocess.run(SNAKEMAKE + ["--cores", "2"], cwd=wd, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    again = subprocess.run(SNAKEMAKE + ["-n", "--cores", "1"], cwd=wd, env=_env(), capture_output=True, text=True)
    assert "Nothing to be done" in again.stdout + again.stderr


def _pid_of(script, workdir):
    """The pid of the `script` process running in `workdir`, if any."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            if any(c.endswith(script.encode()) for c in cmd) and Path(os.readlink(proc / "cwd")) == workdir:
                return int(proc.name)
        except (OSError, ValueError):
            continue
    return None


def test_a_job_killed_by_signal_9_says_so_in_its_log(tmp_path):
    """What a memory cgroup does to a job: its log gets a line naming the signal, memory and mem_mb."""
    import signal
    import time

    wd = _workdir(tmp_path, TINY)
    run = subprocess.Popen(
        SNAKEMAKE + ["--cores", "1"], cwd=wd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while time.time() < deadline and run.poll() is None:
        pid = _pid_of("simulate_species.py", wd)
        if pid:
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    assert run.wait(timeout=300) != 0
    log = (wd / "logs/simulate_demo_species/tiny.log").read_text()
    assert "killed from outside by signal 9" in log and "--set-resources simulate_demo_species:mem_mb" in log
