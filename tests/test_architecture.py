"""The house rules, checked on the source: three floors, parts that never import each other, tools
that nothing in production imports, and no import circle anywhere.

Every import counts: module level, inside functions and under TYPE_CHECKING, so an import cannot be
moved into a function to hide a circle. Only `hub/app/cli.py` imports inside functions (so
`hub --help` answers without loading the whole hub); nothing imports it, so it cannot close a circle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hub", "connectors", "consumers", "schemas")
LAZY_IMPORTS_ALLOWED = {"hub.app.cli"}
REGISTRIES = {"connectors.registry", "consumers.registry"}


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    in_function: bool


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:  # Alembic scripts: loaded by Alembic, never imported
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(modules: dict[str, Path]) -> list[Import]:
    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    found = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        nested = {id(child) for f in functions for child in ast.walk(f)}
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                target = known(name)
                if target and target != module:
                    found.append(Import(module, target, node.lineno, id(node) in nested))
    return found


def _floor(module: str) -> str:
    top, _, rest = module.partition(".")
    if module in REGISTRIES or module in ("connectors", "consumers"):
        return "registry"
    if top in ("connectors", "consumers"):
        return "part"
    if top == "schemas" or module == "hub" or module.startswith("hub.core"):
        return "core"
    if module.startswith("hub.app"):
        return "app"
    if module.startswith("hub.tools"):
        return "tools"
    raise AssertionError(f"{module} is on no floor; put it in hub/core, hub/app, hub/tools or a part")


def _part(module: str) -> str:
    return ".".join(module.split(".")[:2])


IMPORTS = _imports(_modules())


def _where(imp: Import) -> str:
    return f"{imp.source} (line {imp.line}) imports {imp.target}"


def test_the_core_imports_no_part_application_or_tool() -> None:
    wrong = [_where(i) for i in IMPORTS if _floor(i.source) == "core" and _floor(i.target) != "core"]
    assert wrong == []


def test_parts_import_only_the_core_and_themselves() -> None:
    wrong = [
        _where(i) for i in IMPORTS
        if _floor(i.source) == "part" and not (_floor(i.target) == "core" or _part(i.target) == _part(i.source))
    ]
    assert wrong == []


def test_registries_are_plain_lists() -> None:
    assert [_where(i) for i in IMPORTS if _floor(i.source) == "registry"] == []


def test_the_application_finds_parts_only_through_their_registries() -> None:
    wrong = [_where(i) for i in IMPORTS if _floor(i.source) == "app" and _floor(i.target) == "part"]
    assert wrong == []


def test_only_the_application_starts_tools() -> None:
    wrong = [_where(i) for i in IMPORTS if _floor(i.target) == "tools" and _floor(i.source) not in ("tools", "app")]
    assert wrong == []


def test_no_imports_hidden_in_functions() -> None:
    wrong = [_where(i) for i in IMPORTS if i.in_function and i.source not in LAZY_IMPORTS_ALLOWED]
    assert wrong == []


def test_no_import_circles() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in IMPORTS:
        graph[imp.source].add(imp.target)
    assert _circles(graph) == []


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_circle_finder_finds_circles() -> None:
    """The check above would pass on a finder that finds nothing; this one shows it does not."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []
