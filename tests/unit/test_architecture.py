"""The structure the code promises (docs/architecture.md): the protocol and database layers
know no feature, nothing imports in a circle, no module outgrows 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "b24tel"
FEATURES = {"users", "crm", "telephony", "recordings", "events", "journal", "admin", "ops", "web",
            "bridge"}  # fmt: skip
# composition-level modules: they may know everything, and nothing below may know them
COMPOSITION = {"app", "services", "tables", "cli", "simulate"}
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def _resolve(name: str, modules: dict[str, Path]) -> str:
    """The module an import refers to (``from b24tel.crm import calls`` is b24tel.crm.calls
    when that module exists)."""
    return name if name in modules else name.rsplit(".", 1)[0]


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every b24tel module ``path`` imports, type-checking-only imports included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("b24tel")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("b24tel"):
            for alias in node.names:
                found.add(_resolve(f"{node.module}.{alias.name}", modules))
    return {m for m in found if m in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_protocol_and_database_layers_import_no_feature() -> None:
    graph = _graph()
    lower = [m for m in graph if _layer(m) in ("rest", "db", "config")]
    assert lower, "no modules found"
    offenders = {
        m: sorted(i for i in graph[m] if _layer(i) in FEATURES | COMPOSITION) for m in lower
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_features_do_not_import_the_composition_root() -> None:
    graph = _graph()
    offenders = {
        m: sorted(i for i in graph[m] if _layer(i) in {"app", "cli", "tables"})
        for m in graph
        if _layer(m) in FEATURES
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_no_import_cycles() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert cycles == []


def test_no_module_over_400_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in PACKAGE.rglob("*.py")
        if "migrations" not in p.parts
        and (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
