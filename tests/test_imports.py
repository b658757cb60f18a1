"""Every module of the project imports, and the import graph among them has no cycle.

The graph is built from the source (``ast``): an edge A -> B for every ``import B`` / ``from B import x``
anywhere in A (function-level imports included, since they are still a dependency). A broken import of
our own code fails here, never as a skip."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "tasks", "trainers", "reports", "int_harness")


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    """The project module an import names (``a.b.c`` may name a function of ``a.b``)."""
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = mod if is_pkg else mod.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        pkg = pkg.rpartition(".")[0]
                    base = f"{pkg}.{base}".strip(".")
                targets = [f"{base}.{a.name}" for a in node.names] or [base]
            for t in targets:
                dep = _resolve(t, mods)
                if dep and dep != mod and not mod.startswith(dep + "."):  # a submodule importing its own package's names is fine
                    graph[mod].add(dep)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if colour.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in colour and (cycle := visit(nxt)):
                return cycle
        colour[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in colour and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_among_project_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


OPTIONAL = {  # modules that import an optional stack at module top (they are imported lazily by design)
    "harness.backends.vllm", "harness.ecosystem.inspect_tasks", "harness.ecosystem.lm_eval_tasks.utils", "int_harness",
}


@pytest.mark.parametrize("module", sorted(set(_modules()) - OPTIONAL))
def test_every_module_imports(module):
    importlib.import_module(module)


def test_generic_code_does_not_reach_into_the_world():
    """The embedded world reaches generic code only through entry points, task capabilities and data."""
    offenders = []
    for mod, path in _modules().items():
        if mod.startswith("harness.world") or mod == "tasks.world":
            continue
        text = path.read_text(encoding="utf-8")
        for needle in ("harness.world", '== "world"', '!= "world"'):
            if needle in text:
                offenders.append(f"{mod}: {needle}")
    assert not offenders, offenders


WORLD_DEFAULTS = {"world:default", "world@hard", "embedded", "compact"}  # names only the world's plugin may use


def test_generic_code_does_not_hold_the_worlds_defaults():
    """The world's base model, training set, trainer preset and prompt set come from its plugin
    (harness/world/plugin.py, through entry points): no string constant of generic code names them
    (docstrings may, as examples)."""
    import ast

    offenders = []
    for mod, path in _modules().items():
        if mod.startswith("harness.world") or mod == "tasks.world":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {id(node.body[0].value) for node in ast.walk(tree)
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        offenders += [f"{mod}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
                      if isinstance(node, ast.Constant) and node.value in WORLD_DEFAULTS and id(node) not in docs]
    assert not offenders, offenders
