"""The package's import graph, function-level imports included: no cycle, and nothing runs back up
(prediction never imports training; the helpers everyone uses sit at the bottom)."""

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
                for alias in node.names:  # `from . import layout` imports the module genetune.layout
                    sub = f"{target}.{alias.name}"
                    deps.add(sub if (SRC.parent / (sub.replace(".", "/") + ".py")).exists()
                             or (SRC.parent / sub.replace(".", "/")).is_dir() else target)
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


def test_prediction_and_the_bottom_helpers_never_import_training():
    graph = _graph()
    for module in ("genetune.predict", "genetune.decode", "genetune.device", "genetune.progress",
                   "genetune.metrics_table", "genetune.cli", "genetune.fileio", "genetune.settings"):
        assert "genetune.train" not in _reach(graph, module), module
    for bottom in ("genetune.device", "genetune.progress", "genetune.metrics_table"):
        assert _reach(graph, bottom) <= {"genetune.fileio", "genetune.errors"}, bottom


def test_no_family_name_is_spelled_outside_the_models_package():
    """Prediction, training and decoding ask the family interface; only models/ knows the families."""
    from genetune.models import FAMILIES
    spelled = []
    for path in SRC.rglob("*.py"):
        if "models" in path.relative_to(SRC).parts:
            continue
        text = path.read_text()
        spelled += [f"{path.name}: {name}" for name in FAMILIES if f'"{name}"' in text or f"'{name}'" in text
                    or f"models.{name}" in text]
    assert not spelled, spelled
