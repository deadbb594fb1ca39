"""The layering holds: imports point down harness.LAYERS, no cycles, and the sandbox
stands alone (it imports nothing of the harness; the harness imports only its
event-log contract). Read from the source with ast, function-level imports included."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import bench
import harness
from harness.paths import PROJECT_ROOT

Graph = Mapping[str, Sequence[str]]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, known: Set[str]) -> List[str]:
    """Every module ``path`` imports, anywhere in it (a ``from X import y`` that names a
    module counts as that module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: List[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [
                f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known
            ]
    return found


def import_graph(*packages: str) -> Dict[str, List[str]]:
    paths = [p for package in packages for p in sorted((PROJECT_ROOT / package).rglob("*.py"))]
    known = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, known) for p in paths}


def layer_of(module: str, layers: Sequence[Sequence[str]]) -> Optional[int]:
    """The index in ``layers`` of a harness module (None: not a harness module, or the package)."""
    parts = module.split(".")
    if parts[0] != "harness" or len(parts) < 2:
        return None
    for index, names in enumerate(layers):
        if parts[1] in names:
            return index
    raise AssertionError(f"{module} is in no layer of harness.LAYERS")


def upward_imports(graph: Graph, layers: Sequence[Sequence[str]]) -> List[str]:
    """Each import of a harness module from a layer above its own."""
    found = []
    for module, imported in graph.items():
        own = layer_of(module, layers)
        if own is None:
            continue
        for target in imported:
            theirs = layer_of(target, layers)
            if theirs is not None and theirs > own:
                found.append(f"{module} imports {target} (layer {theirs} > {own})")
    return found


def cycles(graph: Graph) -> List[Tuple[str, ...]]:
    """The import cycles among the graph's own modules (each once, as first found)."""
    found: List[Tuple[str, ...]] = []
    done: Set[str] = set()

    def visit(module: str, path: Tuple[str, ...]) -> None:
        if module in path:
            found.append((*path[path.index(module) :], module))
            return
        if module in done:
            return
        for target in graph.get(module, ()):
            if target in graph and target != module:
                visit(target, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())
    return found


def outside_imports(graph: Graph, prefix: str, allowed: Iterable[str] = ()) -> List[str]:
    """Imports of modules starting with ``prefix`` other than ``allowed``."""
    allowed = set(allowed)
    return [
        f"{module} imports {target}"
        for module, imported in graph.items()
        for target in imported
        if (target == prefix or target.startswith(prefix + ".")) and target not in allowed
    ]


# --------------------------------------------------------------------------- the project


def test_every_harness_import_points_down_the_layers() -> None:
    assert upward_imports(import_graph("harness"), harness.LAYERS) == []


def test_the_harness_has_no_import_cycle() -> None:
    assert cycles(import_graph("harness")) == []


def test_the_sandbox_and_the_function_import_nothing_of_the_harness() -> None:
    for package in ("lambda_sandbox", "function"):
        graph = import_graph(package)
        assert outside_imports(graph, "harness") == [], package
        assert outside_imports(graph, "bench") == [], package
    assert outside_imports(import_graph("function"), "lambda_sandbox") == []
    assert cycles(import_graph("lambda_sandbox")) == []


def test_the_harness_and_benchmarks_import_only_the_sandboxs_event_log_contract() -> None:
    for package in ("harness", "bench"):
        graph = import_graph(package)
        for module in bench.SANDBOX_INTERNALS:
            graph.pop(module, None)
        assert outside_imports(graph, "lambda_sandbox", {harness.SANDBOX_CONTRACT}) == [], package


def test_the_benchmarks_of_the_sandboxs_internals_import_nothing_of_the_harness() -> None:
    graph = import_graph("bench")
    internals = {module: graph[module] for module in bench.SANDBOX_INTERNALS}
    assert outside_imports(internals, "harness") == []
    assert outside_imports(internals, "bench") == []


def test_every_harness_folder_and_module_has_a_layer() -> None:
    names = {
        p.stem if p.is_file() else p.name
        for p in (PROJECT_ROOT / "harness").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    layered = {name for layer in harness.LAYERS for name in layer}
    assert names == layered


def test_the_readme_states_the_same_order() -> None:
    rule = " → ".join(", ".join(layer) for layer in harness.LAYERS)
    assert rule in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- the checks


LAYERS = (("paths",), ("model",), ("report",))


def test_an_upward_import_is_found() -> None:
    graph = {"harness.model.cells": ["harness.report.meta", "harness.paths", "json"]}
    assert upward_imports(graph, LAYERS) == [
        "harness.model.cells imports harness.report.meta (layer 2 > 1)"
    ]
    assert upward_imports({"harness.report.meta": ["harness.model.cells"]}, LAYERS) == []


def test_a_cycle_is_found_even_through_a_lazy_import(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from harness.report import meta\n")
    assert imports_of(source, {"harness.report.meta"}) == ["harness.report", "harness.report.meta"]
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert cycles(graph) == [("a", "b", "c", "a")]
    assert cycles({"a": ["b"], "b": []}) == []


def test_an_import_of_the_sandbox_beyond_its_contract_is_found() -> None:
    graph = {"harness.x": ["lambda_sandbox.eventlog", "lambda_sandbox.lifecycle"]}
    assert outside_imports(graph, "lambda_sandbox", {"lambda_sandbox.eventlog"}) == [
        "harness.x imports lambda_sandbox.lifecycle"
    ]
