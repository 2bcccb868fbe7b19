"""The structure the code promises (docs/architecture.md): the protocol and database layers
know no feature, nothing imports in a circle, no module outgrows 400 lines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "b24tel"
# the ground floor and the protocol layer; composition-level modules may know everything,
# and nothing below may know them; every other package is a feature
GROUND = {"db", "wire"}
PROTOCOL = {"rest"}
COMPOSITION = {"app", "services", "tables", "cli", "simulate"}
FEATURES = (
    {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    - GROUND
    - PROTOCOL
    - COMPOSITION
)
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


def test_the_ground_floor_imports_nothing_above_it() -> None:
    """``db/`` knows no REST and no feature; ``wire/`` knows nothing of b24tel but itself
    and the ground floor's single modules (errors, clock…)."""
    graph = _graph()
    offenders = {
        m: sorted(i for i in graph[m] if _layer(i) == "rest" or _layer(i) in FEATURES)
        for m in graph
        if _layer(m) == "db"
    }
    # the ground floor's single modules (errors, clock…), not the composition root
    ground = {m for m in graph if m.count(".") == 1 and _layer(m) not in COMPOSITION}
    offenders |= {
        m: sorted(i for i in graph[m] if _layer(i) != "wire" and i not in ground)
        for m in graph
        if _layer(m) == "wire"
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


def named_in_architecture_doc() -> list[tuple[str, str]]:
    """``package/module`` and ``package/module.Name`` as docs/architecture.md names them."""
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir()}
    found = []
    for match in re.finditer(r"\b([a-z_]+)/([a-z_]+)(?:\.py)?(?:\.([A-Za-z_]+))?", text):
        package, module, name = match.groups()
        if package in packages and package != "docs":
            found.append((f"b24tel.{package}.{module}", name or ""))
    return found


def test_every_module_and_name_the_architecture_doc_names_exists() -> None:
    missing = []
    for module, name in named_in_architecture_doc():
        path = PACKAGE.parent / (module.replace(".", "/") + ".py")
        package_dir = PACKAGE.parent / module.replace(".", "/")
        if not path.is_file() and not package_dir.is_dir():
            missing.append(module)
        elif name and path.is_file():
            defined = {
                n.name
                for n in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            }
            if name not in defined:
                missing.append(f"{module}.{name}")
    assert named_in_architecture_doc() and missing == []


def test_no_cycle_between_packages() -> None:
    """Package by package (``telephony`` → ``crm``…), type-checking imports included: the
    service container knows no feature, features use it and each other one way."""
    edges: dict[str, set[str]] = {}
    for module, imported in _graph().items():
        for other in imported:
            if _layer(module) != _layer(other):
                edges.setdefault(_layer(module), set()).add(_layer(other))

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            here = todo.pop()
            for nxt in edges.get(here, ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    assert edges and sorted(p for p in edges if reaches(p, p)) == []
