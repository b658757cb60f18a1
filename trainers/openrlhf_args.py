"""OpenRLHF's real argument parsers, rebuilt from the installed wheel's source without importing it.

Why: ``openrlhf.cli.train_sft`` / ``train_ppo_ray`` import torch, deepspeed, ray and flash-attn at module
top, which cannot be installed on a CPU box, but their ``argparse`` definitions sit in the
``if __name__ == "__main__":`` block and use nothing but argparse. We execute exactly those statements
(up to ``parse_args``), so every flag, type and ``choices`` list is OpenRLHF's own, for the version
installed (``pip install --no-deps openrlhf`` is enough). The backend checks each command it builds
against this parser before printing or launching it.
"""

from __future__ import annotations

import argparse
import ast
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

SCRIPTS = ("train_sft", "train_ppo_ray")


class FlagError(ValueError):
    """A generated command does not parse under the installed OpenRLHF."""


def openrlhf_version() -> str | None:
    try:
        return version("openrlhf")
    except PackageNotFoundError:
        return None


def script_path(script: str) -> Path:
    """Source file of ``openrlhf.cli.<script>``; `find_spec` of the top package imports nothing."""
    spec = find_spec("openrlhf")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("openrlhf is not installed here; for the flag check run: pip install --no-deps openrlhf")
    path = Path(next(iter(spec.submodule_search_locations))) / "cli" / f"{script}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (openrlhf {openrlhf_version()})")
    return path


def _main_block(tree: ast.Module) -> list[ast.stmt]:
    for node in tree.body:
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name)
            and node.test.left.id == "__name__"
        ):
            return node.body
    raise ValueError("no `if __name__ == '__main__':` block")


@cache
def load_parser(script: str) -> argparse.ArgumentParser:
    """OpenRLHF's own parser for ``openrlhf.cli.<script>`` (statements before ``parse_args``, executed)."""
    if script not in SCRIPTS:
        raise ValueError(f"script must be one of {SCRIPTS}, got {script!r}")
    path = script_path(script)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    namespace: dict = {"__name__": "openrlhf_args"}
    for stmt in tree.body:  # the script's own top-level imports; the heavy ones (ray, torch) may fail
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            try:
                exec(compile(ast.Module(body=[stmt], type_ignores=[]), str(path), "exec"), namespace)  # noqa: S102
            except ImportError:
                continue
    body = _main_block(tree)
    setup: list[ast.stmt] = []
    for stmt in body:
        if any(isinstance(n, ast.Attribute) and n.attr == "parse_args" for n in ast.walk(stmt)):
            break
        setup.append(stmt)
    exec(compile(ast.Module(body=setup, type_ignores=[]), str(path), "exec"), namespace)  # noqa: S102 - see module doc
    parser = namespace.get("parser")
    if not isinstance(parser, argparse.ArgumentParser):
        raise ValueError(f"{path}: the __main__ block did not build `parser`")
    return parser


def known_flags(script: str) -> set[str]:
    return {s for a in load_parser(script)._actions for s in a.option_strings}


def check_command(script: str, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv`` (the flags after the module name) with OpenRLHF's parser; raise `FlagError` on any
    unknown flag, bad type or value outside ``choices``. Returns the parsed namespace for assertions."""
    parser = load_parser(script)
    unknown = [a for a in argv if a.startswith("--") and a.split("=", 1)[0] not in known_flags(script)]
    if unknown:
        raise FlagError(f"openrlhf {openrlhf_version()} {script}: unknown flag(s) {', '.join(unknown)}")

    def fail(message: str) -> None:
        raise FlagError(f"openrlhf {openrlhf_version()} {script}: {message}")

    original = parser.error
    parser.error = fail  # type: ignore[method-assign]  # argparse would sys.exit
    try:
        return parser.parse_args(argv)
    finally:
        parser.error = original  # type: ignore[method-assign]
