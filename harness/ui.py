"""Terminal output shared by every command: one progress-bar helper, one console."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


def print_error(message: object) -> None:
    """``error: <message>`` in red on stderr. The message is escaped: text from users, plugins and files
    (``[project.entry-points."harness.trainers"]``, ``[0, 1]``) must print as written, not as rich markup."""
    console.print(f"[bold red]error:[/] {escape(str(message))}")


@contextmanager
def progress_bar(description: str, total: int, *, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; draws a rich bar on the terminal, or nothing when disabled or total is 0."""
    if not enabled or total <= 0:
        yield lambda n=1: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        tid = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(tid, n)
