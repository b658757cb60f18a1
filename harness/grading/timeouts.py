"""A per-call deadline that works on any thread, without signals.

math-verify's own timeouts use ``signal.alarm``, which only works on the main thread of the main
interpreter (huggingface/Math-Verify#50), so we switch them off and enforce time ourselves: one daemon
watchdog thread per process raises `GradingTimeout` asynchronously (``PyThreadState_SetAsyncExc``) in the
thread that overran. sympy's slow paths are Python loops, so that interrupts them within a few bytecodes.
It cannot interrupt a single long C call; `harness.grading.pool` adds a parent-side kill for that case.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["GradingTimeout", "deadline"]


class GradingTimeout(BaseException):  # noqa: N818 - reads better at call sites than ...Error
    """Raised in a grading thread whose deadline passed.

    A BaseException on purpose: math-verify and sympy wrap their work in ``except Exception`` and would
    otherwise swallow it and carry on."""


# Two prototypes of the same C function: one passes the exception class, one passes NULL (which clears
# a pending async exception; a py_object None would be Py_None, not NULL).
_set_async_exc = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.py_object)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)
_clear_async_exc = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)(
    ("PyThreadState_SetAsyncExc", ctypes.pythonapi)
)


class _Entry:
    __slots__ = ("thread_id", "done", "fired")

    def __init__(self, thread_id: int) -> None:
        self.thread_id = thread_id
        self.done = False
        self.fired = False


class _Watchdog:
    """One thread, a heap of deadlines. Fires each entry at most once, so a late exception can never
    land in unrelated code: `deadline` clears a pending one under the same lock before it returns."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wake = threading.Condition(self.lock)
        self.heap: list[tuple[float, int, _Entry]] = []
        self.counter = itertools.count()
        self.thread: threading.Thread | None = None
        self.pid = -1

    def register(self, seconds: float) -> _Entry:
        entry = _Entry(threading.get_ident())
        with self.lock:
            if self.thread is None or not self.thread.is_alive() or self.pid != os.getpid():
                # (Re)start after a fork: threads do not survive fork, the heap must not either.
                self.heap = []
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self._run, name="grading-watchdog", daemon=True)
                self.thread.start()
            when = time.monotonic() + seconds
            # Wake the watchdog only if it now has to fire earlier; a thread switch per grade is not free.
            if not self.heap or when < self.heap[0][0]:
                self.wake.notify()
            heapq.heappush(self.heap, (when, next(self.counter), entry))
        return entry

    def _run(self) -> None:
        with self.lock:
            while True:
                while self.heap and self.heap[0][2].done:
                    heapq.heappop(self.heap)
                if not self.heap:
                    self.wake.wait()
                    continue
                when, _, entry = self.heap[0]
                now = time.monotonic()
                if when > now:
                    self.wake.wait(when - now)
                    continue
                heapq.heappop(self.heap)
                entry.fired = True
                _set_async_exc(entry.thread_id, GradingTimeout)

    def finish(self, entry: _Entry) -> bool:
        """Mark done; return whether the deadline fired (and clear the exception if still pending)."""
        with self.lock:
            entry.done = True
            if entry.fired:
                _clear_async_exc(entry.thread_id, None)
            return entry.fired


_WATCHDOG = _Watchdog()


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise `GradingTimeout` inside the block once ``seconds`` have passed (None or <= 0: no limit).

    If the deadline fired but the block still finished (the exception was swallowed by a bare
    ``except``), `GradingTimeout` is raised on exit, so an overrun is always reported as one."""
    if seconds is None or seconds <= 0:
        yield
        return
    entry = _WATCHDOG.register(seconds)
    try:
        yield
    finally:
        # Also when library code turned our exception into another one, or swallowed it.
        if _WATCHDOG.finish(entry) and not isinstance(sys.exc_info()[1], GradingTimeout):
            raise GradingTimeout(f"deadline of {seconds:g}s passed")
