"""The packages' own imports, read from the source (every ``import``, including those inside
functions and under TYPE_CHECKING): no import circles between modules, no arrow back up
between the folders of a package, and the packages import one way only:
sim <- datagen <- multimodal <- edge, with edge.runtime importing none of the others."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sim", "datagen", "multimodal", "edge")
ORDER = {name: rank for rank, name in enumerate(PACKAGES)}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imported(module: str, path: Path) -> set[str]:
    """Project modules ``module`` imports: ``from pkg import sub`` counts as ``pkg.sub``."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
            names = subs if len(subs) == len(node.names) else [base, *subs]
        else:
            continue
        for name in names:
            target = _resolve(name) if name.split(".")[0] in PACKAGES else None
            if target and target != module:
                found.add(target)
    return found


GRAPH = {m: _imported(m, p) for m, p in MODULES.items()}


def _folder(module: str) -> str:
    """The unit of the folder-level graph: a module at a package's top, else its sub-folder."""
    parts = module.split(".")
    if len(parts) >= 2 and (ROOT / parts[0] / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
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


def test_the_graph_is_read() -> None:
    assert len(MODULES) > 100
    assert "sim.drivers.env" in GRAPH["sim.drivers.evaluate"]
    assert "multimodal.model" in set().union(*GRAPH.values())


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_between_modules() -> None:
    assert _cycles(GRAPH) == []


def test_no_arrow_back_up_between_folders() -> None:
    folders: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        for target in targets:
            a, b = _folder(module), _folder(target)
            if a != b:
                folders.setdefault(a, set()).add(b)
    assert _cycles(folders) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_packages_import_one_way(package: str) -> None:
    wrong = sorted(
        f"{m} -> {t}" for m, targets in GRAPH.items() if m.split(".")[0] == package
        for t in targets if ORDER[t.split(".")[0]] > ORDER[package]
    )  # fmt: skip
    assert wrong == []


def test_board_runtime_imports_only_itself() -> None:
    wrong = sorted(
        f"{m} -> {t}" for m, targets in GRAPH.items() if m.startswith("edge.runtime")
        for t in targets if not t.startswith("edge.runtime")
    )  # fmt: skip
    assert wrong == []
