"""Rich rendering of the build progress and of the abilities table (kept apart from the logic)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table


def progress_bar(console: Any) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def abilities_table(ab: dict[str, Any]) -> Group:
    """Two tables: solving by difficulty, and verifying own failed attempts (+ continuation check)."""
    k = ab.get("samples", 8)
    solve = Table(title=f"World model: solving ({ab.get('split', 'test')} split, T=1, {k} samples)")
    for col in ("level", "problems", f"avg@{k}", f"pass@{k}", "all-wrong groups"):
        solve.add_column(col, justify="right")
    for r in ab["solve"]:
        solve.add_row(
            r["category"], str(r["problems"]), f"{r[f'avg@{k}']:.1%}", f"{r[f'pass@{k}']:.1%}", f"{r['all_wrong_groups']:.1%}"
        )
    z = ab.get("zero_advantage")
    if z:
        lv = z["levels"]
        solve.caption = (
            f"RL start, {z['split']} split levels {lv[0]}-{lv[-1]}, groups of {z['group_size']} at T={z['temperature']:g}: "
            f"{z['all_wrong_share']:.1%} of {z['groups']} groups all-wrong (zero advantage)"
        )
    v = ab["verify"]
    ver = Table(title="World model: verifying its own failed attempts against the reference")
    ver.add_column("metric")
    ver.add_column("value", justify="right")
    ver.add_row("failed attempts checked", str(v["failed_attempts"]))
    ver.add_row("parse rate", f"{v['parse_rate']:.1%}")
    ver.add_row("location = true first error", f"{v['exact_location_rate']:.1%}")
    ver.add_row("... and content = corrected step", f"{v['exact_location_and_content_rate']:.1%}")
    ver.add_row("off-by-k (predicted - true)", ", ".join(f"{a}: {b}" for a, b in v["off_by_k"].items()))
    c = ab.get("continuation") or {}
    if c.get("attempts"):
        ratio = "inf" if c["ratio"] is None else f"{c['ratio']:.1f}x"
        ver.add_row(
            "continuation success: intervention vs original step",
            f"{c['success_after_intervention']:.1%} vs {c['success_after_original_step']:.1%} ({ratio})",
        )
    ver.caption = f"backend: {ab.get('backend')}, grader: {ab.get('grader')}"
    return Group(solve, ver)
