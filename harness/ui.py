"""Terminal output shared by every command: one progress helper, one status-line helper, one console.

On a terminal, progress is a rich bar. Redirected to a file or a CI log (no TTY), a bar would print
nothing until the end, so progress becomes plain lines instead: one at the start, one at least every
``HEARTBEAT_SECONDS`` while work goes on, one at the end -- a user tailing a log always sees it move.
"""

from __future__ import annotations

import time
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
HEARTBEAT_SECONDS = 30.0


# Library deprecation noise that says nothing to a user of the harness (fixed upstream in TRL's next release).
_NOISE = (r".*is_gradient_checkpointing.*is deprecated.*",)


def quiet_libraries() -> None:
    """Keep the console to our own lines: Hugging Face progress bars off (unless the user set the
    variables), known library deprecation warnings filtered. Children inherit the environment."""
    import os
    import warnings

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    for pattern in _NOISE:
        warnings.filterwarnings("ignore", message=pattern, category=FutureWarning)


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def status_line(text: str) -> None:
    """One timestamped line (what a step is doing, what it cost); markup-free, so user text is safe."""
    console.print(f"[{time.strftime('%H:%M:%S')}] {text}", markup=False, highlight=False)


class Ticker:
    """Calls ``line()`` every ``every`` seconds from a daemon thread until stopped: a long batch, a
    pretraining phase or a model load still shows life in a log."""

    def __init__(self, line: Callable[[], None], every: float = HEARTBEAT_SECONDS) -> None:
        import threading

        self.line, self.every = line, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="harness-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.line()

    def stop(self) -> None:
        self._stop.set()


class Heartbeat:
    """Plain progress lines for non-interactive output: ``label: done/total (elapsed, ~remaining)`` at the
    start, every ``every`` seconds while work goes on (even inside one long batch), and at the end."""

    def __init__(self, label: str, total: int | None, every: float = HEARTBEAT_SECONDS) -> None:
        self.label, self.total, self.every = label, total, every
        self.done, self.t0 = 0, time.perf_counter()
        self._line("started")
        self._ticker = Ticker(self._line, every)

    def _line(self, note: str = "") -> None:
        elapsed = time.perf_counter() - self.t0
        if self.total:
            eta = f", ~{_hms(elapsed / self.done * (self.total - self.done))} left" if self.done and self.done < self.total else ""
            where = f"{self.done}/{self.total}"
        else:
            eta, where = "", f"{self.done}"
        status_line(f"{self.label}: {where} ({_hms(elapsed)} elapsed{eta}){' ' + note if note else ''}")

    def advance(self, n: int = 1) -> None:
        self.done += n

    def close(self) -> None:
        self._ticker.stop()
        self._line("done")


def print_error(message: object) -> None:
    """``error: <message>`` in red on stderr. The message is escaped: text from users, plugins and files
    (``[project.entry-points."harness.trainers"]``, ``[0, 1]``) must print as written, not as rich markup.
    ``soft_wrap``: rich would otherwise break a long message into several lines at the console width (80
    columns in a CI log or a pipe), and one error is one line for grep and log readers. A message with line
    breaks of its own (a missing data file's "Tried:" / "To fix:" lines) keeps them."""
    console.print(f"[bold red]error:[/] {escape(str(message))}", soft_wrap=True)


@contextmanager
def progress_bar(description: str, total: int, *, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``: a rich bar on a terminal, heartbeat lines otherwise, nothing when disabled or
    total is 0."""
    if not enabled or total <= 0:
        yield lambda n=1: None
        return
    if not console.is_terminal:
        beat = Heartbeat(description, total)
        try:
            yield beat.advance
        finally:
            beat.close()
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
