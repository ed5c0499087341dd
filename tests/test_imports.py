"""No import cycles in the `sim` package, and the model does not reach back up the flow
(YAML -> Scenario -> Model -> tables -> figures and report; style.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

SIM = Path(__file__).resolve().parents[1] / "sim"
# What the model and the rule kinds may not import: the layers that run, write or show a model.
ABOVE_THE_MODEL = ("sim.api", "sim.cli", "sim.runner", "sim.workers", "sim.outputs", "sim.app", "sim.experiments",
                   "sim.explain", "sim.validation")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in SIM.rglob("*.py"):
        parts = list(path.relative_to(SIM.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, known: set[str], at_import_time: bool) -> set[str]:
    """The `sim` modules `path` imports, leaving out `if TYPE_CHECKING:` blocks; with `at_import_time`,
    only those imported when the module itself is (not inside functions, which defer them)."""
    found: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    visit(other, in_function)
                continue
            deferred = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if not (at_import_time and in_function):
                if isinstance(child, ast.Import):
                    found.update(alias.name for alias in child.names)
                elif isinstance(child, ast.ImportFrom) and child.module:
                    found.add(child.module)
                    found.update(f"{child.module}.{alias.name}" for alias in child.names)
            visit(child, deferred)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found & known


def import_graph(at_import_time: bool) -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        graph.add_edges_from((name, other) for other in imports(path, set(modules), at_import_time) if other != name)
    return graph


def test_the_sim_package_has_no_import_cycle():
    graph = import_graph(at_import_time=True)
    assert graph.number_of_edges() > 50  # the parser does find the imports
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], f"import cycles: {cycles}"


def test_a_cycle_is_detected(tmp_path: Path):
    (tmp_path / "a.py").write_text("from sim.b import x\n")
    (tmp_path / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import sim.a\n")
    known = {"sim.a", "sim.b"}
    assert imports(tmp_path / "a.py", known, True) == {"sim.b"}
    assert imports(tmp_path / "b.py", known, True) == set()  # type-checking only: no cycle


def test_the_model_and_rules_do_not_import_the_layers_that_run_or_show_them():
    graph = import_graph(at_import_time=False)
    for module in graph:
        if module.startswith(("sim.model.", "sim.rules")):
            up = [t for t in graph.successors(module) if t.startswith(ABOVE_THE_MODEL)]
            assert up == [], f"{module} imports {up}"
