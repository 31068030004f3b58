"""The README's commands, as written: each script and option it names exists, each config it runs
validates, and a script run by a Python without genetune's requirements says what to do."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from genetune.core.settings import species_configs

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SPANS = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", README, flags=re.S))
SCRIPT_CALLS = [s for s in SPANS if re.search(r"workflow/scripts/[a-z_]+\.py", s) and "<step>" not in s]
SNAKEMAKE_CALLS = [s for s in SPANS if s.startswith((".venv/bin/snakemake", "snakemake"))]


def test_the_readme_runs_every_command_with_the_venv_that_make_demo_builds():
    bare = [s for s in SPANS if re.match(r"(snakemake|python) ", s)]
    assert not bare, f"commands that need an activated venv: {bare}"
    assert SCRIPT_CALLS and SNAKEMAKE_CALLS


@pytest.mark.parametrize("call", SCRIPT_CALLS)
def test_every_script_call_in_the_readme_names_options_the_script_has(call):
    for part in call.split("&&"):
        match = re.search(r"(workflow/scripts/[a-z_]+\.py)(.*)", part)
        if not match:
            continue
        script, args = match.groups()
        proc = subprocess.run([sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        for option in re.findall(r"(--[a-z][a-z0-9-]*)", args):
            assert option in proc.stdout, f"{script} has no {option}"


@pytest.mark.parametrize("call", SNAKEMAKE_CALLS)
def test_every_config_the_readme_runs_is_valid(call):
    match = re.search(r"--configfile (\S+)", call)
    if not match or "<" in match.group(1):
        return
    path = ROOT / match.group(1)
    assert path.exists(), path
    configs = species_configs(yaml.safe_load(path.read_text()), str(path))
    assert all(c["genome"] for c in configs.values())


def test_a_python_without_the_requirements_is_told_what_to_do():
    proc = subprocess.run(
        [sys.executable, "-S", str(ROOT / "workflow/scripts/predict.py"), "--help"], capture_output=True, text=True
    )  # -S: no site-packages, so no numpy
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and "cannot import" in proc.stderr and ".venv/bin/snakemake" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
