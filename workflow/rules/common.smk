# The config, validated once, and the functions the rules call: inputs, params and resources.
import json
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.iocontainers import Wildcards

sys.path.insert(0, str(Path(workflow.current_basedir).parents[1] / "src"))
from genetune import __version__ as GENETUNE_VERSION
from genetune.core.errors import InputError
from genetune.core.settings import section_defaults, species_configs
from genetune.evaluate.rounds import MAX_AUTO_ROUNDS, read_verdict

SCRIPTS = (
    Path(workflow.current_basedir).parent / "scripts"
)  # beside the rules (module deployment)
KERAS_SUFFIXES = (".keras", ".h5")


CONFIG_SOURCE = (
    ", ".join(map(str, workflow.overwrite_configfiles)) or "config/config.yaml"
)
try:
    SPECIES_CONFIGS = species_configs(config, CONFIG_SOURCE)
except InputError as exc:
    raise WorkflowError(str(exc)) from None
SPECIES = list(SPECIES_CONFIGS)


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
    """The script's path from the working directory: a run folder that is moved or copied with its
    workflow keeps its params, so Snakemake does not rerun the chain for a new absolute path.
    """
    return os.path.relpath(SCRIPTS / name)


def cfg(wildcards):
    """The config of the rule's species."""
    return SPECIES_CONFIGS[wildcards.species]


def path(output, wildcards, **values):
    """A rule's output pattern (rules.X.output.name) for these wildcards, some replaced by values."""
    return output.format(**{**dict(wildcards.items()), **values})


# --- params -------------------------------------------------------------------------------------


def settings(section, *keys):
    """A config section of the species (only `keys` of it, when given: what the script reads, so that
    changing another key reruns nothing) as inline JSON, the one --settings a script reads.
    """

    def get(wildcards):
        values = cfg(wildcards).get(section, {})
        if keys:
            values = {k: values[k] for k in keys if k in values}
        return json.dumps(values, sort_keys=True)

    return get


def profile_settings(wildcards):
    """make_profile.py's decode settings: min_intron, and the whole section where round 1 fits the
    decoder to the evidence (it decodes then)."""
    fits = wildcards.get("round") == "1" and has_evidence(wildcards.species)
    return (
        settings("decode")(wildcards)
        if fits
        else settings("decode", "min_intron")(wildcards)
    )


def species_setting(*keys, default=None):
    """A config value of the species (`default` where the schema leaves it to a preset)."""

    def get(wildcards):
        value = cfg(wildcards)
        for k in keys:
            if k not in value:
                return default
            value = value[k]
        return value

    return get


def min_intron(wildcards):
    return species_setting(
        "decode", "min_intron", default=section_defaults("decode")["min_intron"]
    )(wildcards)


def strandedness(wildcards):
    return [e["strandedness"] for e in bam_entries(wildcards.species)]


def output_dir(wildcards, output):
    """The folder of a rule's first output, for scripts that write several files into one."""
    return os.path.dirname(output[0])


# --- inputs -------------------------------------------------------------------------------------


def get_genome(wildcards):
    return cfg(wildcards)["genome"]


def get_base_model(wildcards):
    """The base checkpoint: config's .pt as is; a Keras model (geneML .keras, Helixer .h5) is
    imported first (rule import_base_model; no TensorFlow needed)."""
    model = cfg(wildcards)["base_model"]
    return (
        path(rules.import_base_model.output.pt, wildcards)
        if model.endswith(KERAS_SUFFIXES)
        else model
    )


def get_keras_model(wildcards):
    model = cfg(wildcards)["base_model"]
    if not model.endswith(KERAS_SUFFIXES):
        raise WorkflowError(
            f"base_model {model} of {wildcards.species} is no Keras file"
        )
    return model


def bam_entries(species):
    """The rnaseq entries that are BAMs (the others are hints files), in configured order."""
    return [e for e in SPECIES_CONFIGS[species].get("rnaseq", []) if "bam" in e]


def has_rnaseq(species):
    """Whether the species has RNA-seq BAMs (coverage); hints files alone give junctions only."""
    return bool(bam_entries(species))


def has_evidence(species):
    """Whether the species has read evidence (BAMs or hints) for junctions."""
    return bool(SPECIES_CONFIGS[species].get("rnaseq"))


def get_bams(wildcards):
    """The RNA-seq BAMs in configured order (the order is part of a coverage model's input)."""
    return [entry["bam"] for entry in bam_entries(wildcards.species)]


def get_hints(wildcards):
    """AUGUSTUS/BRAKER hints files of the species (rnaseq entries with `hints`)."""
    return [e["hints"] for e in cfg(wildcards).get("rnaseq", []) if "hints" in e]


def get_junctions(wildcards):
    if has_evidence(wildcards.species):
        return [path(rules.collect_junctions.output.tsv, wildcards)]
    return []


def get_coverage(wildcards):
    if has_rnaseq(wildcards.species):
        return [path(rules.add_coverage.output.h5, wildcards)]
    return []


def get_start_profile(wildcards):
    start = cfg(wildcards)["decode"].get("profile")
    return [start] if start else []


def get_psauron_model(wildcards):
    model = cfg(wildcards).get("psauron_model")
    return [model] if model else []


def get_evaluation(wildcards):
    """evaluation/metrics.tsv when a reference is given, else nothing."""
    if cfg(wildcards).get("reference"):
        return [path(rules.evaluate.output.metrics, wildcards)]
    return []


def get_reference(wildcards):
    return cfg(wildcards).get("reference") or []


# --- stages, rounds, pieces ---------------------------------------------------------------------


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


def n_pieces(wildcards):
    """Pieces the genome is scattered into for prediction and decoding: the setting, or one per
    ~50 Mb of FASTA (at most 32) when it is `auto` (1 while the FASTA does not exist yet).
    """
    value = cfg(wildcards)["scatter"]["pieces"]
    if value != "auto":
        return int(value)
    genome = cfg(wildcards)["genome"]
    size = os.path.getsize(genome) if os.path.exists(genome) else 0
    return max(1, min(32, round(size / 50e6)))


def piece_files(rule, name):
    """`name` output of `rule` for every piece of the stage."""
    return lambda wildcards: [
        path(getattr(rules, rule).output[name], wildcards, piece=k)
        for k in range(n_pieces(wildcards))
    ]


def previous_stage(wildcards):
    r = int(wildcards.round)
    return "first_pass" if r == 1 else f"round{r - 1}"


def _profile_of(wildcards, stage):
    if stage == "first_pass":
        return path(rules.first_pass_profile.output.yaml, wildcards)
    return path(
        rules.estimate_profile.output.yaml, wildcards, round=stage.removeprefix("round")
    )


def _model_of(wildcards, stage):
    """The model `stage` predicts with: the base model for the first pass, else the round's."""
    if stage == "first_pass":
        return get_base_model(wildcards)
    return path(
        rules.finetune.output.best, wildcards, round=stage.removeprefix("round")
    )


def stage_profile(wildcards):
    return _profile_of(wildcards, wildcards.stage)


def stage_model(wildcards):
    return _model_of(wildcards, wildcards.stage)


def previous_profile(wildcards):
    return _profile_of(wildcards, previous_stage(wildcards))


def previous_model(wildcards):
    """The model the round fine-tunes: the one its previous stage predicted with."""
    return _model_of(wildcards, previous_stage(wildcards))


def previous_predictions(wildcards):
    return path(
        rules.gather_predictions.output.h5, wildcards, stage=previous_stage(wildcards)
    )


def previous_annotation(wildcards):
    return path(
        rules.gather_annotation.output.gff3, wildcards, stage=previous_stage(wildcards)
    )


def pseudolabel_genes(wildcards):
    """The gene models a round labels: the previous stage's, checked against the read junctions
    when the species has evidence (rule correct_pseudolabels)."""
    if has_evidence(wildcards.species):
        return path(rules.correct_pseudolabels.output.gff3, wildcards)
    return previous_annotation(wildcards)


def round1(function):
    """An input function asked for round 1 (the final check holds out round 1's validation genes)."""
    return lambda wildcards: function(
        Wildcards(fromdict={**dict(wildcards.items()), "round": "1"})
    )


def get_corrections(wildcards):
    if has_evidence(wildcards.species):
        return [path(rules.correct_pseudolabels.output.tsv, wildcards)]
    return []


def decoder_fit(name):
    """Round 1 of a species with evidence fits the decoder's meta-parameters to the genes the reads
    support on the training side, decoding the first pass's predictions without reads.
    """

    def get(wildcards):
        if wildcards.round != "1" or not has_evidence(wildcards.species):
            return []
        return {
            "predictions": path(
                rules.gather_predictions.output.h5, wildcards, stage="first_pass"
            ),
            "train": path(rules.split_train_val.output.train, wildcards),
            "corrections": path(rules.correct_pseudolabels.output.tsv, wildcards),
        }[name]

    return get


def _rounds_of(wildcards):
    """The rounds an input function lists: those run, or up to the rule's own {round} (judge_round)."""
    if "round" in wildcards.keys():
        return list(range(1, int(wildcards.round) + 1))
    return rounds_run(wildcards.species)


def round_files(rule, name):
    """`name` output of `rule` for every round run (up to {round})."""
    return lambda wildcards: [
        path(getattr(rules, rule).output[name], wildcards, round=r)
        for r in _rounds_of(wildcards)
    ]


def round_stages(rule, name):
    """`name` output of a per-stage `rule` for every round run (up to {round})."""
    return lambda wildcards: [
        path(getattr(rules, rule).output[name], wildcards, stage=f"round{r}")
        for r in _rounds_of(wildcards)
    ]


def stage_files(rule, name):
    """`name` output of `rule` for every stage run (up to {round}), the first pass first."""
    return lambda wildcards: [
        path(getattr(rules, rule).output[name], wildcards, stage=stage)
        for stage in ["first_pass"] + [f"round{r}" for r in _rounds_of(wildcards)]
    ]


def stage_profiles(wildcards):
    return [
        _profile_of(wildcards, stage)
        for stage in ["first_pass"] + [f"round{r}" for r in _rounds_of(wildcards)]
    ]


# --- resources: scale with the genome -----------------------------------------------------------
# mem_mb: measured with benchmarks/memory.py (each step's logged getrusage peak) on runs of genome.h5
# 0.16 MB (.test), 0.37 (Micromonas, geneML), 1.73 (demo), 8.55 (sim_6mb, 6 Mb, geneML): a fit
# peak = a + b x genome.h5 MB per rule, requested as about 1.5 a + 2 b x MB. The peaks hardly grow
# (streamed); predict and finetune add 1.2-1.6 GB for a CUDA context (host memory; not measured here).


def genome_mb(input):
    """MB of the rule's genome.h5 (or FASTA) input, for memory and runtime requests."""
    genome = input.get("genome") or input.get("fasta")
    genome = genome[0] if isinstance(genome, list) else genome
    return os.path.getsize(genome) / 1e6 if genome and os.path.exists(genome) else 100.0


def by_genome(base, per_mb):
    """base + per_mb x the genome's MB, times the attempt (memory in MB, runtime in minutes)."""
    return lambda wildcards, input, attempt: int(
        (base + per_mb * genome_mb(input)) * attempt
    )


# --- what `rule all` asks for -------------------------------------------------------------------


def species_outputs(species):
    w = Wildcards(fromdict={"species": species})
    out = [path(rules.deliver.output[name], w) for name in rules.deliver.output.keys()]
    out += [path(rules.summarize.output[name], w) for name in ("tsv", "svg")]
    out += [
        path(rules.choose_final_round.output.rounds, w),
        path(rules.gene_stats.output.tsv, w),
        path(rules.provenance.output.yaml, w),
    ]
    # with rounds: auto, the rounds after the first run when their verdicts say so
    out += [
        path(rules.finetune.output.curves, w, round=r)
        for r in (rounds(species)[:1] if auto_rounds(species) else rounds(species))
    ]
    if SPECIES_CONFIGS[species].get("reference"):
        out += [
            path(rules.evaluate.output[name], w)
            for name in ("metrics", "plot", "confusion", "errors")
        ]
    if has_rnaseq(species):
        out.append(path(rules.add_coverage.output.strandedness, w))
    return out


def get_final_outputs():
    return [out for species in SPECIES for out in species_outputs(species)]


# --- demo and pretraining (demo.smk, pretrain.smk) ---------------------------------------------


def demo_param(key, default=None):
    """A simulation setting of a demo species (every config's demo_inputs, merged, by name)."""

    def get(wildcards):
        demos = {}
        for c in SPECIES_CONFIGS.values():
            demos.update(c.get("demo_inputs", {}))
        if wildcards.demo not in demos:
            raise WorkflowError(
                f"resources/demo/{wildcards.demo}/ is missing and no config's demo_inputs describes it"
            )
        return demos[wildcards.demo].get(key, default)

    return get


def pretrain_param(key):
    """A simulation setting of a pretraining source species."""

    def get(wildcards):
        if "pretrain" not in config:
            raise WorkflowError(
                "pretraining settings missing: run with --configfile config/pretrain.yaml"
            )
        return config["pretrain"]["sources"][wildcards.source][key]

    return get


def pretrain_json(*keys):
    """Inline JSON: the pretrain section's `keys` (one key: its value)."""
    section = config.get("pretrain", {})
    value = (
        section.get(keys[0], {})
        if len(keys) == 1
        else {k: section.get(k) for k in keys}
    )
    return json.dumps(value, sort_keys=True)
