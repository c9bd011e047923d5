"""The shape the code keeps: modules that import each other in one direction only, and a command line
that parses and prints while the library does the work.

Read from the source files with `ast`, imports inside functions included: a lazy import is a dependency
all the same, and two modules that import each other lazily are still one knot.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "pipeline"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported(name: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The package's modules one import statement of module `name` names."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names} & MODULES.keys()
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    base = node.module or ""
    if node.level:
        parts = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*parts, *([base] if base else [])])
    named = {f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names}
    return (named & MODULES.keys()) - {name}


def imports_of(name: str) -> set[str]:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    nodes = (n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom))
    return set().union(*(imported(name, n) for n in nodes))


GRAPH = {name: imports_of(name) for name in MODULES}


def knots(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected groups of more than one module (Tarjan), each a cycle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while not group or w != v:
                w = stack.pop()
                group.add(w)
            if len(group) > 1:
                found.append(group)

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_read_from_every_module_and_its_lazy_imports():
    assert "pipeline.cli" in GRAPH and "pipeline.web.desk" in GRAPH
    assert "pipeline.api" in GRAPH["pipeline.cli"] and "pipeline.resident" in GRAPH["pipeline.launch"]
    assert "pipeline.cli" in GRAPH["pipeline.launch"]  # imported inside main(), after the server is asked


def test_the_check_finds_a_knot_of_two_and_one_of_three():
    assert knots({"a": {"b"}, "b": {"a"}, "c": set()}) == [{"a", "b"}]
    assert knots({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert knots({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_module_of_the_package_imports_one_that_imports_it_back():
    assert knots(GRAPH) == []


# What the command line leaves to the library: the stores, the rules, the data of regions and tariffs.
LIBRARY_ONLY = [
    "pipeline.store", "pipeline.journal", "pipeline.mailqueue", "pipeline.register", "pipeline.digest",
    "pipeline.regions", "pipeline.tariff", "pipeline.dues", "pipeline.rules", "pipeline.routing",
    "pipeline.intake", "pipeline.campaign", "pipeline.render", "pipeline.variants", "pipeline.dossiers",
]  # fmt: skip


@pytest.mark.parametrize("module", LIBRARY_ONLY)
def test_the_command_line_leaves_to_the_library(module):
    assert module in MODULES, f"{module} no longer exists: update this list"
    assert module not in GRAPH["pipeline.cli"]


def test_the_command_line_holds_no_sql():
    source = (PACKAGE / "cli.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    sql = [
        s for s in strings if any(w in s.upper().split() for w in ("SELECT", "INSERT", "UPDATE", "DELETE"))
    ]
    assert "sqlite3" not in {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert sql == []


def test_the_benches_import_no_test_helper():
    """What both use lives in testkit/ (or pipeline.sample): a bench runs without pytest's session."""
    benches = sorted((PACKAGE.parent / "bench").glob("*.py"))
    imports = {
        path.name: {
            alias.name if isinstance(node, ast.Import) else node.module or ""
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        for path in benches
    }
    assert len(benches) > 5 and "testkit.visitor" in imports["deposit_load.py"]
    assert {
        name: sorted(m for m in found if m.split(".")[0] == "tests") for name, found in imports.items()
    } == {name: [] for name in imports}
