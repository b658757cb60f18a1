"""Rich rendering of the build progress and of the abilities table (kept apart from the logic)."""

from __future__ import annotations

import time
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


class LineProgress:
    """The subset of `rich.progress.Progress` the build uses, printing plain lines for a log or CI:
    every phase change, and at most every `harness.ui.HEARTBEAT_SECONDS` while a phase runs."""

    def __init__(self) -> None:
        from harness.ui import HEARTBEAT_SECONDS, Ticker

        self.every, self.tasks, self.last = HEARTBEAT_SECONDS, {}, 0.0
        self.t0 = time.perf_counter()
        self._ticker = Ticker(self._latest, self.every)

    def _latest(self) -> None:
        if self.tasks and time.perf_counter() - self.last >= self.every * 0.9:
            self._line(max(self.tasks))

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._ticker.stop()
        for tid in self.tasks:
            self._line(tid)

    def add_task(self, description: str, total: float | None = None) -> int:
        tid = len(self.tasks)
        self.tasks[tid] = {"description": description, "total": total, "completed": 0}
        self._line(tid)
        return tid

    def update(self, tid: int, **fields: Any) -> None:
        task = self.tasks[tid]
        phase_changed = fields.get("description", task["description"]).split(" ")[0] != task["description"].split(" ")[0]
        task.update({k: v for k, v in fields.items() if k in ("description", "total", "completed")})
        if phase_changed or time.perf_counter() - self.last >= self.every:
            self._line(tid)

    def _line(self, tid: int) -> None:
        from harness.ui import status_line

        self.last = time.perf_counter()
        t = self.tasks[tid]
        done = f" {t['completed']:,.0f}/{t['total']:,.0f}" if t["total"] else ""
        status_line(f"world build: {t['description']}{done} ({self.last - self.t0:.0f}s elapsed)")


def progress_bar(console: Any) -> Progress | LineProgress:
    """A rich bar on a terminal; plain heartbeat lines when the output is a file or a CI log."""
    if not console.is_terminal:
        return LineProgress()
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
    r = ab.get("reflection") or {}
    if r.get("attempts"):
        ver.add_row("self-reflection rewrite: parsed / correct", f"{r['parse_rate']:.1%} / {r['correct_rate']:.1%} of {r['attempts']}")
    nll = ab.get("reference_nll") or {}
    if nll.get("problems"):
        ver.add_row("NLL per token: reference vs own format", f"{nll['reference']:.3f} vs {nll['own_format']:.3f} ({nll['problems']} problems)")
    ver.caption = f"backend: {ab.get('backend')}, grader: {ab.get('grader')}"
    return Group(solve, ver)
