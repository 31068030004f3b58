import copy
import json
import os
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.current_basedir).parents[1] / "src"))
from genetune.errors import InputError
from genetune.settings import validate_config

# A species config given with --configfile is complete by itself: the demo's keys in
# config/config.yaml (the Snakefile's configfile) do not leak into it (issue: a species without
# `rnaseq:` silently used the demo's BAM). Missing keys take the schema's defaults. A config file
# without `species` (config/pretrain.yaml) adds to the demo config instead.
if (
    workflow.overwrite_configfiles
    and "species" in workflow.config_settings.overwrite_config
):
    config.clear()
    config.update(copy.deepcopy(dict(workflow.config_settings.overwrite_config)))
CONFIG_SOURCE = (
    ", ".join(map(str, workflow.overwrite_configfiles)) or "config/config.yaml"
)
try:
    validate_config(config, CONFIG_SOURCE)
except InputError as exc:
    raise WorkflowError(str(exc)) from None

# the scripts beside the rules: found from the workflow, not the working directory (module deployment)
SCRIPTS = Path(workflow.current_basedir).parent / "scripts"


def script_path(name):
    return str(SCRIPTS / name)


SPECIES = config["species"]
RESULTS = f"results/{SPECIES}"


wildcard_constraints:
    species=r"[A-Za-z0-9_.\-]+",
    round=r"[1-9][0-9]*",
    demo=r"[A-Za-z0-9_.\-]+",
    source=r"[A-Za-z0-9_.\-]+",


KERAS_SUFFIXES = (".keras", ".h5")


def get_base_model(wildcards=None):
    """The base checkpoint: config's .pt as is; a Keras model (geneML .keras, Helixer .h5) is
    imported into results/<species>/base_model.pt first (rule import_base_model)."""
    if config["base_model"].endswith(KERAS_SUFFIXES):
        return f"{RESULTS}/base_model.pt"
    return config["base_model"]


def get_bams(wildcards=None):
    """The RNA-seq BAMs in configured order (the order is part of a coverage model's input)."""
    return [entry["bam"] for entry in config.get("rnaseq", [])]


def bam_args(wildcards, input):
    """add_coverage.py's --bam options, quoted, in configured order."""
    return " ".join(f"--bam {shlex.quote(b)}" for b in input.bams)


def get_strandedness(wildcards=None):
    return [entry["strandedness"] for entry in config.get("rnaseq", [])]


def has_rnaseq():
    return bool(config.get("rnaseq"))


def get_coverage(wildcards=None):
    """coverage.h5 when BAMs are configured, else nothing."""
    return [f"{RESULTS}/coverage.h5"] if has_rnaseq() else []


def coverage_arg(wildcards, input):
    """--coverage-h5 PATH, quoted, when the rule's input has coverage.h5."""
    paths = list(input.get("coverage") or [])
    return f"--coverage-h5 {shlex.quote(paths[0])}" if paths else ""


ROUNDS = list(range(1, config.get("rounds", 1) + 1))


def get_finetuned_coverage(wildcards):
    """Coverage for re-prediction, only if the fine-tuned model reads it."""
    return get_coverage() if config["finetune"]["mode"] == "coverage" else []


def previous(wildcards, what):
    """A file of the stage before round {round}: the first pass for round 1, else round - 1.
    what: predictions, annotation or model (the model that stage predicted with)."""
    r = int(wildcards.round)
    if r == 1:
        return {
            "predictions": f"{RESULTS}/first_pass/predictions.h5",
            "annotation": f"{RESULTS}/first_pass/annotation.gff3",
            "model": get_base_model(),
        }[what]
    return {
        "predictions": f"{RESULTS}/round{r - 1}/predictions.h5",
        "annotation": f"{RESULTS}/round{r - 1}/annotation.gff3",
        "model": f"{RESULTS}/round{r - 1}/finetune/best.pt",
    }[what]


def previous_predictions(wildcards):
    return previous(wildcards, "predictions")


def previous_annotation(wildcards):
    return previous(wildcards, "annotation")


def previous_model(wildcards):
    return previous(wildcards, "model")


def round_prediction_args(wildcards, input):
    """evaluate.py's --prediction NAME=GFF3 for every round."""
    return " ".join(
        f"--prediction round{r}={shlex.quote(path)}"
        for r, path in zip(ROUNDS, input.rounds)
    )


def round_files(pattern):
    """`pattern` (with {r}) for every self-training round."""
    return [pattern.format(r=r) for r in ROUNDS]


def settings(section):
    """A config section as inline JSON for a script's --settings."""
    return json.dumps(config.get(section, {}), sort_keys=True)


def pseudolabel_options():
    """pseudolabels_to_h5 flags for the non-Helixer choices in config["pseudolabels"]."""
    opts = config["pseudolabels"]
    flags = {
        "--no-error-masks": not opts["error_masks"],
        "--all-transcripts": opts["all_transcripts"],
    }
    chosen = [flag for flag, on in flags.items() if on]
    return " ".join(
        chosen + [f"--missing-utr-masks {opts.get('missing_utr_masks', 'auto')}"]
    )


def get_final_outputs():
    outputs = [f"{RESULTS}/final/annotation.gff3", f"{RESULTS}/final/rounds.tsv"]
    outputs += round_files(f"{RESULTS}/round{{r}}/finetune/learning_curves.svg")
    if config.get("reference"):
        outputs += [f"{RESULTS}/evaluation/metrics.tsv", f"{RESULTS}/evaluation/f1.svg"]
    if has_rnaseq():
        outputs.append(f"{RESULTS}/qc/strandedness.tsv")
    return outputs


def demo_param(key):
    """Input function for a simulation setting of a demo species (lists joined for the shell)."""

    def get(wildcards):
        value = config["demo_inputs"][wildcards.demo][key]
        return " ".join(map(str, value)) if isinstance(value, list) else value

    return get


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
