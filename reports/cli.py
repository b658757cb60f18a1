"""`harness plot RUN [--figure NAME]` and `harness report RUN`: rebuild outputs from saved artifacts.

Mount with ``app.command("plot")(plot_cmd)`` and ``app.command("report")(report_cmd)``. Importing this
module costs only typer: pandas and matplotlib load when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.ui import console


def plot_cmd(
    run: Annotated[Path, typer.Argument(help="A `harness compare` folder (or its report/ folder).")],
    figure: Annotated[str | None, typer.Option("--figure", "-f", help="One figure name; default: every figure with data.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default <run>/report/figures).")] = None,
    list_figures: Annotated[bool, typer.Option("--list", help="List the figure names and exit.")] = False,
    x_axis: Annotated[str, typer.Option("--x-axis", help="rl_dynamics x axis: 'tokens' (required generated tokens, "
                                        "incl. pre-RL steps: compare arms at equal compute) or 'step' (RL steps).")] = "tokens",
) -> None:
    """Regenerate paper-ready figures (PDF + PNG) from a comparison's saved artifacts; nothing is re-run."""
    from reports.figures import FIGURES, plot

    if list_figures:
        for name, (_, caption) in FIGURES.items():
            console.print(f"[bold]{name}[/]: {caption}")
        return
    if x_axis not in ("tokens", "step"):
        raise typer.BadParameter(f"--x-axis must be 'tokens' or 'step', got {x_axis!r}")
    for name, res in plot(run, figure, out, options={"rl_dynamics": {"x": x_axis}}).items():
        if isinstance(res, str):
            console.print(f"[yellow]skipped[/] {name}: {res}")
        else:
            console.print(f"[green]wrote[/] {name}: " + ", ".join(str(p) for p in res))


def report_cmd(
    run: Annotated[Path, typer.Argument(help="A `harness compare` folder.")],
    out: Annotated[Path | None, typer.Option("--out", help="Report folder (default <run>/report).")] = None,
    n_boot: Annotated[int, typer.Option("--n-boot", min=100, help="Bootstrap resamples for CIs and p-values.")] = 10_000,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Draw the figures (most of the build time).")] = True,
) -> None:
    """Rebuild the report folder (tables, figures, report.md, index.html) from saved artifacts."""
    from reports.leaderboard import print_leaderboard
    from reports.load import resolve_run
    from reports.render import build_report
    from reports.verdict import print_verdict

    folder = build_report(resolve_run(run), out, n_boot=n_boot, figures=figures)
    print_leaderboard(folder)
    print_verdict(folder)  # ends with the report's path
