"""The rules' conda envs: channels named, versions pinned exactly as requirements.txt pins them
(one source of truth), and exactly the packages their rules' scripts import (statically, through
genetune's own modules, function-level imports included). conda cannot be reached here, so this
checks names, channels and pins; solving is left to a machine with conda."""

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "workflow" / "rules"
SRC = ROOT / "src" / "genetune"
# import name -> pip distribution (requirements.txt) -> (conda package, channel)
DISTRIBUTION = {
    "numpy": "numpy",
    "h5py": "h5py",
    "torch": "torch",
    "pysam": "pysam",
    "Bio": "biopython",
    "gffutils": "gffutils",
    "numba": "numba",
    "isal": "isal",
    "tqdm": "tqdm",
    "matplotlib": "matplotlib",
    "yaml": "pyyaml",
    "jsonschema": "jsonschema",
    "pandas": "pandas",
}
CONDA = {
    "torch": ("pytorch", "conda-forge"),
    "isal": ("python-isal", "conda-forge"),
    "matplotlib": ("matplotlib-base", "conda-forge"),
    "pysam": ("pysam", "bioconda"),
    "gffutils": ("gffutils", "bioconda"),
}


def _requirements():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s#]+)", line.strip())
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def _imports(path):
    """Top-level module names imported by a file, and genetune modules it imports."""
    tree = ast.parse(Path(path).read_text())
    external, internal = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                (internal if a.name.startswith("genetune") else external).add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside genetune
                base = Path(path).parent
                for _ in range(node.level - 1):
                    base = base.parent
                parts = (node.module or "").split(".") if node.module else []
                target = base.joinpath(*parts)
                names = [target] if node.module else [base / a.name for a in node.names]
                for t in names:
                    internal.add(str(t))
            elif (node.module or "").startswith("genetune"):
                internal.add(node.module)
                for a in node.names:
                    internal.add(f"{node.module}.{a.name}")
            else:
                external.add(node.module)
    return {m.split(".")[0] for m in external}, internal


def _module_file(name):
    if name.startswith("genetune"):
        p = SRC.parent.joinpath(*name.split("."))
    else:
        p = Path(name)
    for cand in (p.with_suffix(".py"), p / "__init__.py"):
        if cand.exists():
            return cand
    return None


def third_party(paths):
    seen, todo, found = set(), list(paths), set()
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        ext, internal = _imports(f)
        found |= ext
        for name in internal:
            mf = _module_file(name)
            if mf:
                todo.append(mf)
    return {DISTRIBUTION[m] for m in found if m in DISTRIBUTION}


def rules_by_env():
    """env file -> scripts its rules run (from each rule's conda: and script_path("...") params)."""
    out = {}
    for smk in RULES.glob("*.smk"):
        for block in re.split(r"\n(?=rule |use rule )", smk.read_text()):
            env = re.search(r'conda:\s*\n\s*"\.\./envs/([a-z_]+\.yaml)"', block)
            script = re.search(r'script_path\("([a-z_0-9]+\.py)"\)', block)
            if env and script:
                out.setdefault(env.group(1), set()).add(ROOT / "workflow" / "scripts" / script.group(1))
    return out


ENVS = sorted(p.name for p in (ROOT / "workflow" / "envs").glob("*.yaml"))


@pytest.mark.parametrize("env", ENVS)
def test_conda_env_pins_what_its_rules_import_at_the_requirements_versions(env):
    spec = yaml.safe_load((ROOT / "workflow" / "envs" / env).read_text())
    pins = _requirements()
    needed = third_party(rules_by_env()[env])
    listed = {}
    for dep in spec["dependencies"]:
        name, _, version = (part.strip() for part in dep.partition("=="))
        assert version, f"{env}: {dep} is not pinned exactly (name ==version)"
        listed[name] = version
    assert listed.pop("python") == f"{sys.version_info.major}.{sys.version_info.minor}"
    conda_of = {d: CONDA.get(d, (d, "conda-forge")) for d in needed}
    assert set(listed) == {c for c, _ in conda_of.values()}, (
        f"{env}: lists {sorted(listed)}, rules import {sorted(needed)}"
    )
    for dist, (conda_name, channel) in conda_of.items():
        assert listed[conda_name] == pins[dist], (
            f"{env}: {conda_name} {listed[conda_name]} vs requirements.txt {pins[dist]}"
        )
        assert channel in spec["channels"], f"{env}: {conda_name} lives in {channel}, not in {spec['channels']}"
    assert spec["channels"][-1] == "nodefaults"


def test_every_rule_names_a_conda_env():
    for smk in RULES.glob("*.smk"):
        for block in re.split(r"\n(?=rule )", smk.read_text()):
            if block.startswith("rule ") and "shell:" in block:
                assert re.search(r'conda:\s*\n\s*"\.\./envs/', block), f"{smk.name}: {block.splitlines()[0]}"
