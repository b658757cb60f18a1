"""A per-call deadline that works on any thread, without signals, and that library code cannot swallow.

math-verify's own timeouts use ``signal.alarm``, which only works on the main thread of the main
interpreter (huggingface/Math-Verify#50), so we switch them off and enforce time ourselves: one daemon
watchdog thread per process raises `GradingTimeout` asynchronously (``PyThreadState_SetAsyncExc``) in the
thread that overran, and raises it again every `REFIRE_SECONDS` until the guarded block has exited. sympy
and math-verify wrap work in ``except Exception`` (and a few places in bare ``except``) and carry on; one
exception would be swallowed there, a stream of them reaches the block's end. Python loops are interrupted
within a few bytecodes.

What this cannot do: interrupt a single long C call (a big-integer power, a regex backtracking in C), which
holds the GIL until it returns. That is why every grading entry point runs math-verify in a worker process
that `harness.grading.pool` kills at a hard deadline; this deadline is the cheap first line inside it.
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

__all__ = ["REFIRE_SECONDS", "GradingTimeout", "deadline"]

# After the deadline, how often the exception is raised again while the block is still running.
REFIRE_SECONDS = 0.05


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
        self.fired = 0


class _Watchdog:
    """One thread, a heap of deadlines. An entry fires at its deadline and then every `REFIRE_SECONDS`
    until it is done. It only fires under ``lock`` and only while ``done`` is False; `deadline` sets
    ``done`` first thing on exit and then clears, under the lock, whatever exception is still pending,
    so an exception can never land in code after the block."""

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
                entry.fired += 1
                _set_async_exc(entry.thread_id, GradingTimeout)
                # Again soon, unless the block exits first (then `settle` marks it done).
                heapq.heappush(self.heap, (now + REFIRE_SECONDS, next(self.counter), entry))

    def settle(self, entry: _Entry) -> bool:
        """After ``entry.done`` was set: wait out a firing in progress, clear a pending exception, and
        say whether the deadline fired at all."""
        with self.lock:
            if entry.fired:
                _clear_async_exc(entry.thread_id, None)
            return entry.fired > 0


_WATCHDOG = _Watchdog()


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise `GradingTimeout` inside the block once ``seconds`` have passed (None or <= 0: no limit),
    and keep raising it until the block exits.

    If the deadline fired but the block still finished (every exception swallowed by a bare
    ``except``), `GradingTimeout` is raised on exit, so an overrun is always reported as one."""
    if seconds is None or seconds <= 0:
        yield
        return
    entry = _WATCHDOG.register(seconds)
    try:
        yield
    finally:
        # First statement, a plain attribute store: no call, so no pending async exception can be
        # raised before it; from here on the watchdog fires no more for this entry. `settle` may still
        # raise the one pending exception at its call: that is a GradingTimeout leaving the block, as it
        # should, and nothing stays pending behind it. (Should the exception instead hit contextlib's
        # __exit__ before it resumes us, the generator is closed as soon as the context manager is
        # dropped, and this runs then: the refire interval is far longer than that.)
        entry.done = True
        fired = _WATCHDOG.settle(entry)
        if fired and not isinstance(sys.exc_info()[1], (GradingTimeout, GeneratorExit)):
            raise GradingTimeout(f"deadline of {seconds:g}s passed")
