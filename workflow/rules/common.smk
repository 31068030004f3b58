import copy
import hashlib
import json
import os
import re
import shlex
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.current_basedir).parents[1] / "src"))
from genetune import __version__ as GENETUNE_VERSION
from genetune.core.errors import InputError
from genetune.evaluate.rounds import MAX_AUTO_ROUNDS, read_verdict
from genetune.core.settings import validate_config

# A species config given with --configfile is complete by itself: the demo's keys in
# config/config.yaml (the Snakefile's configfile) do not leak into it, so a species without
# `rnaseq:` never reads the demo's BAM. Missing keys take the schema's defaults. A config file
# without `species` (config/pretrain.yaml) adds to the demo config instead.
overwrite = workflow.config_settings.overwrite_config
if workflow.overwrite_configfiles and (
    "species" in overwrite or "species_sheet" in overwrite
):
    config.clear()
    config.update(copy.deepcopy(dict(overwrite)))
CONFIG_SOURCE = (
    ", ".join(map(str, workflow.overwrite_configfiles)) or "config/config.yaml"
)


def _load_species():
    """species name -> its complete, validated config: the one config, or every config of the
    species sheet (a TSV with the columns species and config; several species, one DAG).
    """
    if "species_sheet" in config:
        sheet = Path(config["species_sheet"])
        try:
            lines = [
                ln.split("\t") for ln in sheet.read_text().splitlines() if ln.strip()
            ]
        except OSError as exc:
            raise WorkflowError(
                f"{sheet}: cannot read the species sheet ({exc.strerror})"
            )
        if not lines or lines[0][:2] != ["species", "config"]:
            raise WorkflowError(
                f"{sheet}: needs the tab-separated columns species and config"
            )
        out = {}
        for k, row in enumerate(lines[1:], 2):
            if len(row) < 2:
                raise WorkflowError(
                    f"{sheet} line {k}: needs a species and a config file"
                )
            try:
                cfg = yaml.safe_load(Path(row[1]).read_text())
            except (OSError, yaml.YAMLError) as exc:
                raise WorkflowError(f"{sheet} line {k}: cannot read {row[1]} ({exc})")
            if not isinstance(cfg, dict) or cfg.get("species") != row[0]:
                raise WorkflowError(
                    f"{row[1]}: its species is not '{row[0]}' ({sheet} line {k})"
                )
            if row[0] in out:
                raise WorkflowError(
                    f"{sheet} line {k}: species '{row[0]}' is listed twice"
                )
            out[row[0]] = _validated(cfg, row[1])
        return out
    return {config.get("species", ""): _validated(config, CONFIG_SOURCE)}


def _validated(cfg, source):
    try:
        return validate_config(cfg, source)
    except InputError as exc:
        raise WorkflowError(str(exc)) from None


SPECIES_CONFIGS = _load_species()
SPECIES = list(SPECIES_CONFIGS)

# the scripts beside the rules: found from the workflow, not the working directory (module deployment)
SCRIPTS = Path(workflow.current_basedir).parent / "scripts"


# only the configured species: another species' results (a related species' profile.yaml given
# as decode: profile) are inputs to read, not outputs to make with this config
wildcard_constraints:
    species="|".join(re.escape(s) for s in SPECIES),
    round=r"[1-9][0-9]*",
    stage=r"first_pass|round[1-9][0-9]*",
    piece=r"[0-9]+",
    demo=r"[A-Za-z0-9_.\-]+",
    source=r"[A-Za-z0-9_.\-]+",


def script_path(name):
    return str(SCRIPTS / name)


def cfg(wildcards):
    """The config of the rule's species."""
    return SPECIES_CONFIGS[wildcards.species]


def config_hash(species):
    """sha256 of a species' complete config (written into its GFF3 headers)."""
    text = json.dumps(SPECIES_CONFIGS[species], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# --- inputs -----------------------------------------------------------------------------------

KERAS_SUFFIXES = (".keras", ".h5")


def get_genome(wildcards):
    return cfg(wildcards)["genome"]


def get_base_model(wildcards):
    """The base checkpoint: config's .pt as is; a Keras model (geneML .keras, Helixer .h5) is
    imported into results/<species>/base_model.pt first (rule import_base_model)."""
    path = cfg(wildcards)["base_model"]
    if path.endswith(KERAS_SUFFIXES):
        return f"results/{wildcards.species}/base_model.pt"
    return path


def get_keras_model(wildcards):
    path = cfg(wildcards)["base_model"]
    if not path.endswith(KERAS_SUFFIXES):
        raise WorkflowError(
            f"base_model {path} of {wildcards.species} is no Keras file"
        )
    return path


def bam_entries(species):
    """The rnaseq entries that are BAMs (the others are hints files), in configured order."""
    return [e for e in SPECIES_CONFIGS[species].get("rnaseq", []) if "bam" in e]


def get_bams(wildcards):
    """The RNA-seq BAMs in configured order (the order is part of a coverage model's input)."""
    return [entry["bam"] for entry in bam_entries(wildcards.species)]


def get_hints(wildcards):
    """AUGUSTUS/BRAKER hints files of the species (rnaseq entries with `hints`)."""
    return [e["hints"] for e in cfg(wildcards).get("rnaseq", []) if "hints" in e]


def hints_args(wildcards, input):
    return " ".join(f"--hints {shlex.quote(h)}" for h in input.hints)


def has_evidence(species):
    """Whether the species has read evidence (BAMs or hints) for junctions."""
    return bool(SPECIES_CONFIGS[species].get("rnaseq"))


def get_junctions(wildcards):
    """junctions.tsv when the species has read evidence, else nothing."""
    if has_evidence(wildcards.species):
        return [f"results/{wildcards.species}/evidence/junctions.tsv"]
    return []


def junctions_arg(wildcards, input):
    """--junctions PATH, quoted, when the rule's input has junctions.tsv."""
    paths = list(input.get("junctions") or [])
    return f"--junctions {shlex.quote(paths[0])}" if paths else ""


def stage_profile(wildcards):
    """The species profile the stage decodes with (first pass: from the base model's card)."""
    return f"results/{wildcards.species}/{wildcards.stage}/profile.yaml"


def previous_profile(wildcards):
    return f"results/{wildcards.species}/{previous_stage(wildcards)}/profile.yaml"


def paralog_args(wildcards, input):
    """split_train_val.py's options for masking validation paralogs of training genes."""
    return (
        f"--gff3 {shlex.quote(input.gff3)} --genes-tsv {shlex.quote(input.genes)} "
        f"--genome-h5 {shlex.quote(input.genome)}"
    )


def min_intron_param(wildcards):
    return cfg(wildcards)["decode"].get("min_intron", 30)


def start_profile_arg(wildcards):
    """make_profile.py's --profile FILE when decode: profile: is configured."""
    path = cfg(wildcards)["decode"].get("profile")
    return f"--profile {shlex.quote(path)}" if path else ""


def get_start_profile(wildcards):
    path = cfg(wildcards)["decode"].get("profile")
    return [path] if path else []


def bam_args(wildcards, input):
    """add_coverage.py's --bam options, quoted, in configured order."""
    return " ".join(f"--bam {shlex.quote(b)}" for b in input.bams)


def strandedness_args(wildcards):
    return " ".join(e["strandedness"] for e in bam_entries(wildcards.species))


def has_rnaseq(species):
    """Whether the species has RNA-seq BAMs (coverage); hints files alone give junctions only."""
    return bool(bam_entries(species))


def get_coverage(wildcards):
    """coverage.h5 when BAMs are configured, else nothing."""
    if has_rnaseq(wildcards.species):
        return [f"results/{wildcards.species}/coverage.h5"]
    return []


def coverage_arg(wildcards, input):
    """--coverage-h5 PATH, quoted, when the rule's input has coverage.h5."""
    paths = list(input.get("coverage") or [])
    return f"--coverage-h5 {shlex.quote(paths[0])}" if paths else ""


def get_psauron_model(wildcards):
    path = cfg(wildcards).get("psauron_model")
    return [path] if path else []


def psauron_arg(wildcards, input):
    paths = list(input.get("psauron") or [])
    return f"--psauron-model {shlex.quote(paths[0])}" if paths else ""


def get_reference(wildcards):
    return cfg(wildcards).get("reference") or []


def reference_loci_flag(wildcards):
    return (
        "--reference-loci-only" if cfg(wildcards).get("reference_is_incomplete") else ""
    )


# --- stages, rounds, pieces --------------------------------------------------------------------


def auto_rounds(species):
    return SPECIES_CONFIGS[species].get("rounds", "auto") == "auto"


def rounds(species):
    """Every round the species may run: `rounds: N`, or up to MAX_AUTO_ROUNDS with auto."""
    value = SPECIES_CONFIGS[species].get("rounds", "auto")
    return list(range(1, (MAX_AUTO_ROUNDS if value == "auto" else int(value)) + 1))


def rounds_run(species):
    """The rounds that run: all of them for `rounds: N`; with auto, up to the first round whose
    verdict (checkpoint judge_round) says stop."""
    if not auto_rounds(species):
        return rounds(species)
    out = []
    for r in rounds(species):
        out.append(r)
        if r == rounds(species)[-1]:
            break
        verdict = checkpoints.judge_round.get(species=species, round=str(r)).output.tsv
        if read_verdict(verdict) == "stop":
            break
    return out


def n_pieces(species):
    """Pieces the genome is scattered into for prediction and decoding: the setting, or one per
    ~50 Mb of FASTA (at most 32) when it is `auto` (1 while the FASTA does not exist yet).
    """
    value = SPECIES_CONFIGS[species]["scatter"]["pieces"]
    if value != "auto":
        return int(value)
    genome = SPECIES_CONFIGS[species]["genome"]
    size = os.path.getsize(genome) if os.path.exists(genome) else 0
    return max(1, min(32, round(size / 50e6)))


def model_of(wildcards, stage):
    """The model `stage` predicts with: the base model for the first pass, else the round's."""
    if stage == "first_pass":
        return get_base_model(wildcards)
    return f"results/{wildcards.species}/{stage}/finetune/best.pt"


def stage_model(wildcards):
    return model_of(wildcards, wildcards.stage)


def piece_files(name):
    """Input function: `name` of every piece of the stage."""

    def get(wildcards):
        return [
            f"results/{wildcards.species}/{wildcards.stage}/pieces/{k}.{name}"
            for k in range(n_pieces(wildcards.species))
        ]

    return get


def n_pieces_param(wildcards):
    return n_pieces(wildcards.species)


def previous_stage(wildcards):
    r = int(wildcards.round)
    return "first_pass" if r == 1 else f"round{r - 1}"


def previous_predictions(wildcards):
    return f"results/{wildcards.species}/{previous_stage(wildcards)}/predictions.h5"


def previous_annotation(wildcards):
    return f"results/{wildcards.species}/{previous_stage(wildcards)}/annotation.gff3"


def previous_model(wildcards):
    """The model the round fine-tunes: the one its previous stage predicted with."""
    return model_of(wildcards, previous_stage(wildcards))


def pseudolabel_genes(wildcards):
    """The gene models a round labels: the previous stage's, checked against the read junctions
    when the species has evidence (rule correct_pseudolabels)."""
    if has_evidence(wildcards.species):
        return f"results/{wildcards.species}/round{wildcards.round}/pseudolabels/genes.gff3"
    return previous_annotation(wildcards)


def held_out_genes(wildcards):
    """Round 1's pseudolabel gene models: its validation genes are what the final check holds out."""
    if has_evidence(wildcards.species):
        return f"results/{wildcards.species}/round1/pseudolabels/genes.gff3"
    return f"results/{wildcards.species}/first_pass/annotation.gff3"


def get_corrections(wildcards):
    """corrections.tsv of the round when the species has evidence, else nothing."""
    if has_evidence(wildcards.species):
        return [
            f"results/{wildcards.species}/round{wildcards.round}/pseudolabels/corrections.tsv"
        ]
    return []


def corrections_arg(wildcards, input):
    paths = list(input.get("corrections") or [])
    return f"--corrections {shlex.quote(paths[0])}" if paths else ""


def _rounds_of(wildcards):
    """The rounds an input function lists: those run, or up to the rule's own {round} (judge_round)."""
    if "round" in wildcards.keys():
        return list(range(1, int(wildcards.round) + 1))
    return rounds_run(wildcards.species)


def decoder_fit_inputs(wildcards):
    """Round 1 of a species with evidence fits the decoder's meta-parameters to the genes the reads
    support on the training side, decoding the first pass's predictions without reads.
    """
    if wildcards.round != "1" or not has_evidence(wildcards.species):
        return {}
    base = f"results/{wildcards.species}"
    return {
        "fit_predictions": f"{base}/first_pass/predictions.h5",
        "fit_train": f"{base}/round1/finetune/training_data.h5",
        "corrections": f"{base}/round1/pseudolabels/corrections.tsv",
    }


def decoder_fit_args(wildcards, input):
    if "fit_predictions" not in input.keys():
        return ""
    return (
        f"--fit-predictions {shlex.quote(input.fit_predictions)} "
        f"--fit-train-h5 {shlex.quote(input.fit_train)} "
        f"--corrections {shlex.quote(input.corrections)} "
        f"--decode-settings {shlex.quote(settings('decode')(wildcards))}"
    )


def round_files(pattern):
    """Input function: `pattern` (with {species} and {r}) for every round run (up to {round})."""

    def get(wildcards):
        return [
            pattern.format(species=wildcards.species, r=r)
            for r in _rounds_of(wildcards)
        ]

    return get


def stage_files(name):
    """Input function: `name` of every stage run (up to {round}), the first pass first."""

    def get(wildcards):
        stages = ["first_pass"] + [f"round{r}" for r in _rounds_of(wildcards)]
        return [f"results/{wildcards.species}/{stage}/{name}" for stage in stages]

    return get


def round_prediction_args(wildcards, input):
    """evaluate.py's --prediction NAME=GFF3 for every round run."""
    return " ".join(
        f"--prediction round{r}={shlex.quote(path)}"
        for r, path in zip(rounds_run(wildcards.species), input.rounds)
    )


def gene_stats_inputs(wildcards):
    out = {
        "first_pass": f"results/{wildcards.species}/first_pass/annotation.gff3",
        "final": f"results/{wildcards.species}/final/annotation.gff3",
    }
    if cfg(wildcards).get("reference"):
        out["reference"] = cfg(wildcards)["reference"]
    return out


def gene_stats_args(wildcards, input):
    return " ".join(
        f"--annotation {name}={shlex.quote(path)}"
        for name, path in input.items()
        if name != "genome"
    )


# --- settings ----------------------------------------------------------------------------------


def settings(section):
    """Params function: a config section of the species as inline JSON for a script's --settings."""

    def get(wildcards):
        return json.dumps(cfg(wildcards).get(section, {}), sort_keys=True)

    return get


def species_setting(*keys):
    """Params function: a config value of the species."""

    def get(wildcards):
        value = cfg(wildcards)
        for k in keys:
            value = value[k]
        return value

    return get


def overlap_flag(wildcards):
    return "" if cfg(wildcards)["predict"]["overlap"] else "--no-overlap"


def gff3_comments(wildcards):
    """--comment lines for the GFF3 header: what made it (reproducibility)."""
    lines = [
        f"genetune {GENETUNE_VERSION}",
        f"config sha256 {config_hash(wildcards.species)}",
        f"stage {wildcards.stage}",
    ]
    return " ".join(f"--comment {shlex.quote(line)}" for line in lines)


def pseudolabel_options(wildcards):
    """pseudolabels_to_h5 flags for the non-Helixer choices in config["pseudolabels"]."""
    opts = cfg(wildcards)["pseudolabels"]
    flags = {
        "--no-error-masks": not opts["error_masks"],
        "--all-transcripts": opts["all_transcripts"],
    }
    chosen = [flag for flag, on in flags.items() if on]
    return " ".join(
        chosen + [f"--missing-utr-masks {opts.get('missing_utr_masks', 'auto')}"]
    )


# --- resources: scale with the genome ----------------------------------------------------------


def genome_mb(input):
    """MB of the rule's genome.h5 (or FASTA) input, for memory and runtime requests."""
    path = input.get("genome") or input.get("fasta")
    path = path[0] if isinstance(path, list) else path
    return os.path.getsize(path) / 1e6 if path and os.path.exists(path) else 100.0


def by_genome(base, per_mb):
    """Resource function: base + per_mb x the genome's MB, times the attempt (memory in MB,
    runtime in minutes)."""

    def get(wildcards, input, attempt):
        return int((base + per_mb * genome_mb(input)) * attempt)

    return get


# --- what `rule all` asks for ------------------------------------------------------------------


def species_outputs(species):
    out = [
        f"results/{species}/final/annotation.gff3",
        f"results/{species}/final/rounds.tsv",
        f"results/{species}/final/annotation.gtf",
        f"results/{species}/final/proteins.faa",
        f"results/{species}/stats/genes.tsv",
    ]
    out += [  # with rounds: auto, the rounds after the first run when their verdicts say so
        f"results/{species}/round{r}/finetune/learning_curves.svg"
        for r in (rounds(species)[:1] if auto_rounds(species) else rounds(species))
    ]
    if SPECIES_CONFIGS[species].get("reference"):
        out += [
            f"results/{species}/evaluation/metrics.tsv",
            f"results/{species}/evaluation/f1.svg",
            f"results/{species}/evaluation/confusion.svg",
            f"results/{species}/evaluation/errors.tsv",
        ]
    if has_rnaseq(species):
        out.append(f"results/{species}/qc/strandedness.tsv")
    return out


def get_final_outputs():
    return [path for species in SPECIES for path in species_outputs(species)]


# --- demo and pretraining inputs ----------------------------------------------------------------


def demo_inputs():
    """Every species' demo_inputs, merged: simulated demo species by name."""
    merged = {}
    for c in SPECIES_CONFIGS.values():
        merged.update(c.get("demo_inputs", {}))
    return merged


def demo_param(key):
    """Input function for a simulation setting of a demo species (lists joined for the shell)."""

    def get(wildcards):
        demos = demo_inputs()
        if wildcards.demo not in demos:
            raise WorkflowError(
                f"resources/demo/{wildcards.demo}/ is missing and no config's demo_inputs describes it"
            )
        value = demos[wildcards.demo][key]
        return " ".join(map(str, value)) if isinstance(value, list) else value

    return get


def demo_read_contigs_arg(wildcards):
    contigs = demo_inputs().get(wildcards.demo, {}).get("read_contigs")
    return "--read-contigs " + " ".join(map(shlex.quote, contigs)) if contigs else ""


def _pretrain():
    if "pretrain" not in config:
        raise ValueError(
            "pretraining settings missing: run with --configfile config/pretrain.yaml"
        )
    return config["pretrain"]


def pretrain_sources():
    return list(config["pretrain"]["sources"]) if "pretrain" in config else []


def pretrain_param(key):
    """Input function for a simulation setting of a pretraining source species."""

    def get(wildcards):
        value = _pretrain()["sources"][wildcards.source][key]
        return " ".join(map(str, value)) if isinstance(value, list) else value

    return get


def pretrain_setting(key):
    return config["pretrain"][key] if "pretrain" in config else None


def pretrain_json(key):
    return (
        json.dumps(config["pretrain"][key], sort_keys=True)
        if "pretrain" in config
        else "{}"
    )


def output_dir(wildcards, output):
    """The folder of a rule's first output, for scripts that write several files into one."""
    return os.path.dirname(output[0])
