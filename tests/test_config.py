"""The workflow's config: validated by the schema with one sentence per mistake, and a species
config given with --configfile complete by itself (nothing of the demo's config leaks in)."""

import subprocess

import pytest
import yaml
from test_workflow import SNAKEMAKE, TINY, _env, _workdir

SPECIES = {"species": "mine", "genome": "data/mine.fa", "base_model": "resources/models/demo_base.pt"}


def _dry_run(tmp_path, species_config):
    wd = _workdir(tmp_path, TINY)  # the Snakefile's own config: a demo with BAM, reference, simulation
    (wd / "data").mkdir()
    (wd / "data" / "mine.fa").write_text(">c1\n" + "ACGT" * 3000 + "\n")
    (wd / "mine.yaml").write_text(yaml.safe_dump(species_config))
    return subprocess.run(
        SNAKEMAKE + ["-n", "--cores", "1", "--configfile", "mine.yaml"],
        cwd=wd,
        env=_env(),
        capture_output=True,
        text=True,
    )


def test_a_species_config_without_rnaseq_or_reference_uses_no_demo_input(tmp_path):
    proc = _dry_run(tmp_path, SPECIES)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    plan = proc.stdout
    assert "results/mine/first_pass/annotation.gff3" in plan and "results/mine/final/annotation.gff3" in plan
    for demo_only in ("simulate_demo_species", "add_coverage", "rule evaluate", "rnaseq.bam", "resources/demo"):
        assert demo_only not in plan, demo_only


@pytest.mark.parametrize(
    "change,expect",
    [
        ({"unknown_key": 1}, "config: unknown key unknown_key"),
        ({"select": {"keep": 0.5}}, "select: unknown key keep"),
        ({"predict": {"batch_size": -3}}, "predict.batch_size: -3 must be >= 1"),
        ({"split": {"val_fraction": 1}}, "split.val_fraction: 1 must be < 1"),
        ({"finetune": {"epochs": "3"}}, 'finetune.epochs: "3" is not a integer'),
        ({"finetune": {"lr": -0.01}}, "finetune.lr: -0.01 must be > 0"),
        ({"decode": {"min_intron": -5}}, "decode.min_intron: -5 must be >= 4"),
        ({"species": "bad name"}, 'species: "bad name" does not match'),
        ({"rnaseq": [{"bam": "x.bam", "strandedness": "sideways"}]}, "rnaseq.0.strandedness"),
        ({"genome": None}, "genome: null is not a string"),
    ],
)
def test_a_config_mistake_is_one_sentence_naming_the_file_and_key(tmp_path, change, expect):
    proc = _dry_run(tmp_path, {**SPECIES, **change})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-2000:]
    line = next(ln for ln in out.splitlines() if expect in ln)
    assert line.startswith(str(tmp_path / "mine.yaml")) or "mine.yaml" in line
    assert "Failed validating" not in out and "properties" not in out  # no dump of the schema


def test_config_readme_describes_every_key_of_the_schema():
    """config/README.md is made from the schema, so no key goes undocumented."""
    from conftest import ROOT

    from genetune.core.settings import markdown

    assert (ROOT / "config" / "README.md").read_text() == markdown(), (
        "regenerate it: python -m genetune.core.settings > config/README.md"
    )


def test_the_schema_is_the_one_source_of_every_scripts_setting():
    """Each settings dataclass has exactly its schema section's keys, with the schema's defaults and
    types; its from_dict validates through the schema (once), so a new key is one schema entry plus
    the dataclass field this test checks."""
    from dataclasses import fields

    from genetune.core.settings import schema, section_defaults
    from genetune.decode import DecodeConfig
    from genetune.pseudolabels.select import SelectConfig
    from genetune.training.train import TrainConfig

    props = schema()["properties"]
    json_types = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    for section, cls in (("finetune", TrainConfig), ("decode", DecodeConfig), ("select", SelectConfig)):
        keys = props[section]["properties"]
        assert {f.name for f in fields(cls)} == set(keys) - {"preset"}, section
        defaults = section_defaults(section)
        for f in fields(cls):
            default = f.default_factory() if callable(f.default_factory) else f.default
            assert f.name in defaults and defaults[f.name] == default, (section, f.name)
            allowed = keys[f.name].get("type")
            allowed = allowed if isinstance(allowed, list) else [allowed]
            kind = "null" if default is None else json_types[type(default)]
            assert kind in allowed or (kind == "integer" and "number" in allowed), (section, f.name, kind, allowed)
        assert cls.from_dict({}) == cls()  # the schema's defaults are the dataclass's
