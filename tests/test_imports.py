"""The package's import graph, function-level imports included: no cycle, and the stage subpackages
stacked in floors that only ever import down (prediction never imports training; core imports
nothing of genetune)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "genetune"


def _module(path):
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph():
    """{module: {genetune modules it imports anywhere in its body}}."""
    graph = {}
    for path in SRC.rglob("*.py"):
        name = _module(path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("genetune"):
                    continue
                for alias in node.names:  # `from genetune.core import layout` imports a module
                    sub = f"{target}.{alias.name}"
                    deps.add(
                        sub
                        if (SRC.parent / (sub.replace(".", "/") + ".py")).exists()
                        or (SRC.parent / sub.replace(".", "/")).is_dir()
                        else target
                    )
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("genetune"))
        graph[name] = {d for d in deps if d != name}
    return graph


def _reach(graph, start):
    seen, todo = set(), [start]
    while todo:
        for dep in graph.get(todo.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_the_package_has_no_import_cycle():
    graph = _graph()
    cycles = sorted(m for m in graph if m in _reach(graph, m) and m != "genetune")
    assert not cycles, f"modules on an import cycle: {cycles}"


# The stage subpackages, bottom floor first: a module may import its own subpackage and those below.
FLOORS = ["core", "io", "evidence", "decode", "pseudolabels", "models", "training", "deliver", "evaluate", "demo"]


def _floor(module):
    parts = module.split(".")
    return FLOORS.index(parts[1]) if len(parts) > 1 and parts[1] in FLOORS else None


def test_every_module_lives_in_a_stage_subpackage():
    loose = sorted(p.name for p in SRC.glob("*.py") if p.name != "__init__.py")
    packages = sorted(p.name for p in SRC.iterdir() if (p / "__init__.py").exists())
    assert not loose, f"modules outside a stage subpackage: {loose}"
    assert packages == sorted(FLOORS), packages


def test_no_subpackage_imports_one_above_it():
    upward = []
    for module, deps in _graph().items():
        floor = _floor(module)
        assert floor is not None or module == "genetune", module
        upward += [
            f"{module} -> {dep}"
            for dep in deps
            if floor is not None and _floor(dep) is not None and _floor(dep) > floor
        ]
    assert not upward, f"imports that run up a floor: {upward}"


def test_prediction_and_core_never_import_training():
    graph = _graph()
    for module in ("genetune.models.predict", "genetune.decode.run", "genetune.core.cli"):
        assert not any(d.startswith("genetune.training") for d in _reach(graph, module)), module
    for module in graph:
        if module.startswith("genetune.core"):
            assert all(d.startswith("genetune.core") for d in _reach(graph, module)), module


def test_no_family_name_is_spelled_outside_the_models_package():
    """Prediction, training and decoding ask the family interface; only models/ knows the families."""
    from genetune.models import FAMILIES

    spelled = []
    for path in SRC.rglob("*.py"):
        if "models" in path.relative_to(SRC).parts:
            continue
        text = path.read_text()
        spelled += [
            f"{path.name}: {name}"
            for name in FAMILIES
            if f'"{name}"' in text or f"'{name}'" in text or f"models.{name}" in text
        ]
    assert not spelled, spelled


def test_the_readme_layout_table_lists_every_subpackage_and_module():
    readme = (SRC.parents[1] / "README.md").read_text()
    section = readme[readme.index("## Layout") :]
    rows = [line.split("|")[1:4] for line in section.splitlines() if line.startswith("| `")]
    listed = {cells[0].strip(" `"): {m.strip(" `") for m in cells[2].split(",")} for cells in rows}
    tree = {
        p.name: {m.stem for m in p.glob("*.py") if m.name != "__init__.py"}
        for p in SRC.iterdir()
        if (p / "__init__.py").exists()
    }
    assert listed == tree
    assert list(listed) == FLOORS  # in floor order, bottom first
