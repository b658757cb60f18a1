"""A pool of grading processes with memoisation and a parent-side hard deadline.

Why this shape:
- Processes, not threads: sympy holds the GIL, and a worker stuck in one long C call (a big-integer
  power, say) can only be stopped by killing it. So every grading entry point -- `grade`, a pool,
  ``MathVerifyGrader(workers=0)``, the RL reward -- runs math-verify in such a worker.
- Workers are started as ``python -c <bootstrap>`` with one end of a socket pair, not through
  multiprocessing's ``spawn``/``forkserver``: those re-import the caller's ``__main__`` in every worker, so
  a script without an ``if __name__ == "__main__":`` guard had its workers die at start-up (measured: both
  fail the same way; ``fork`` works but is unsafe once torch or tokenizers threads exist). The bootstrap
  imports only this module, works from any thread, and costs the same as ``spawn``.
- Memoisation in the parent: 128 samples of one problem repeat the same few answers, so each distinct
  (gold, extracted answer) pair is graded once per pool; string-level rules (no box, integers, prose
  answers) are decided in the parent without a round trip.
- Each worker gets one chunk at a time and streams a result per item, so the parent always knows which
  item a worker is on and since when. Past ``timeout + grace`` the worker is killed, that item scored
  ``timeout``, the rest of its chunk re-queued and a fresh worker spawned. Inside the worker the same
  ``timeout`` is enforced softly (`timeouts.deadline`), which handles the common case without a kill.
- `shared_pool` is the one-worker pool behind `grade` and the RL reward; its worker starts on the first
  answer the string rules cannot decide, so integer-only callers never start a process.
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.spawn
import os
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from harness.grading.extract import extract_boxed
from harness.grading.rules import Decision, quick_decide, verdict_for
from harness.grading.verdict import Verdict

__all__ = ["GradingPool", "PoolStats", "shared_pool"]

Key = tuple[str, str]  # (gold, extracted answer)
_READY = "ready"
# A fresh worker imports sympy and math-verify (seconds on a loaded machine); its first item's clock
# starts when it reports ready, with this much patience for the start itself.
STARTUP_TIMEOUT = 120.0


@dataclass
class PoolStats:
    """Counters for one pool. ``graded`` counts distinct pairs actually graded (parent fast path or
    worker); ``cache_hits`` counts answers served from memory instead."""

    requested: int = 0
    no_answer: int = 0
    cache_hits: int = 0
    graded: int = 0
    fast_path: int = 0
    sent_to_workers: int = 0
    timeouts: int = 0
    kills: int = 0
    worker_deaths: int = 0
    respawns: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _worker_main(conn: Connection, timeout: float | None, memory_limit_mb: int | None) -> None:
    """Worker loop: receive a chunk of (slot, extracted, gold), send back one result per item."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    if memory_limit_mb:
        try:
            import resource

            limit = memory_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # MemoryError instead of the OOM killer
        except (ImportError, ValueError, OSError):
            pass
    from harness.grading.rules import decide_with_timeout

    decide_with_timeout("\\frac{1}{2}", "0.5", timeout)  # load sympy's lazy paths before real work
    conn.send(_READY)  # the parent starts the per-item clock only from here
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        for slot, extracted, gold in chunk:
            d = decide_with_timeout(extracted, gold, timeout)
            conn.send((slot, d.correct, d.status, d.reason))


# Run by ``python -c`` in a fresh interpreter: take the socket, adopt the parent's sys.path, serve.
_BOOTSTRAP = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "from multiprocessing.connection import Connection; conn = Connection(int(sys.argv[1])); "
    "sys.path[:] = conn.recv(); from harness.grading.pool import _worker_main; _worker_main(conn, *conn.recv())"
)


class _Process:
    """The few `multiprocessing.Process` methods the pool uses, over a `subprocess.Popen`."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self.popen = popen
        self.pid = popen.pid

    def is_alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        self.popen.kill()

    def join(self, timeout: float | None = None) -> None:
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass

    @property
    def exitcode(self) -> int | None:
        return self.popen.poll()


def _start_process(timeout: float | None, memory_limit_mb: int | None) -> tuple[Any, Connection]:
    """A worker process and the parent's end of its connection (see the module docstring for why not
    ``spawn``). Windows has no fd passing; there multiprocessing's spawn is used (it needs the guard)."""
    if os.name == "nt":  # pragma: no cover - not a supported platform for training, kept usable
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(target=_worker_main, args=(child, timeout, memory_limit_mb), daemon=True)
        proc.start()
        child.close()
        return proc, parent
    ours, theirs = socket.socketpair()
    try:
        popen = subprocess.Popen(  # noqa: S603 - our own interpreter and bootstrap, no shell
            [multiprocessing.spawn.get_executable(), "-c", _BOOTSTRAP, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
        )
    finally:
        theirs.close()
    conn = Connection(ours.detach())
    conn.send(list(sys.path))
    conn.send((timeout, memory_limit_mb))
    return _Process(popen), conn


class _Worker:
    def __init__(self, timeout: float | None, memory_limit_mb: int | None) -> None:
        self.proc, self.conn = _start_process(timeout, memory_limit_mb)
        self.inflight: deque[int] = deque()
        self.ready = False
        self.started = 0.0
        self.spawned = time.monotonic()

    def deadline(self, hard_timeout: float) -> float:
        """When the item being graded now must be finished (or, before ready, when startup must be)."""
        return self.started + hard_timeout if self.ready else self.spawned + STARTUP_TIMEOUT

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()


def _shutdown(workers: list[_Worker], owner: int) -> None:
    if os.getpid() != owner:  # a forked child dropping its copy: the workers are the parent's
        workers.clear()
        return
    for w in workers:
        try:
            w.conn.send(None)
        except (OSError, ValueError):
            pass
    for w in workers:
        w.proc.join(timeout=2)
        w.kill()
    workers.clear()


class GradingPool:
    """Grade many (response, gold) pairs with a reusable pool; a context manager. Thread-safe: calls
    to `grade_many` from several threads are serialised."""

    def __init__(
        self,
        workers: int = 2,
        timeout: float = 10.0,
        *,
        grace: float | None = None,
        soft_timeout: bool = True,
        memory_limit_mb: int | None = 4096,
        chunk_size: int = 16,
        max_cache: int = 1_000_000,
        lazy_start: bool = False,
    ) -> None:
        """``timeout``: per-answer limit. ``grace``: extra time before the parent kills a worker (default
        ``max(2, timeout/2)``; the soft in-worker limit usually answers first). ``soft_timeout=False``
        leaves only the hard kill (for tests of that path). ``lazy_start``: start the workers only when
        the first answer needs one (the string rules decide many answers in this process)."""
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self.timeout = float(timeout)
        self.hard_timeout = self.timeout + (max(2.0, self.timeout / 2) if grace is None else grace)
        self.chunk_size = max(1, chunk_size)
        self.max_cache = max_cache
        self.stats = PoolStats()
        self._soft = self.timeout if soft_timeout else None
        self._memory = memory_limit_mb
        self._cache: dict[Key, Decision] = {}
        self._lock = threading.Lock()
        self._startup_failures = 0
        self._pool: list[_Worker] = [] if lazy_start else [self._spawn() for _ in range(workers)]
        self._finalizer = weakref.finalize(self, _shutdown, self._pool, os.getpid())

    def _spawn(self) -> _Worker:
        return _Worker(self._soft, self._memory)

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    # -- public API --------------------------------------------------------------------------------

    def grade_many(self, items: Sequence[tuple[str, str]]) -> list[Verdict]:
        """Verdicts for (response, gold) pairs, in input order."""
        with self._lock:
            if not self._finalizer.alive:
                raise RuntimeError("GradingPool is closed")
            return self._grade_many(items)

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        with self._lock:
            self._finalizer()

    def __enter__(self) -> GradingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------------

    def _grade_many(self, items: Sequence[tuple[str, str]]) -> list[Verdict]:
        self.stats.requested += len(items)
        extracted: list[str | None] = []
        decided: dict[Key, Decision] = {}  # this call's answers (the cache may evict; this may not)
        todo: dict[Key, None] = {}  # insertion-ordered set of pairs the workers must grade
        for item in items:
            response, gold = item[0], item[1]
            ans = extract_boxed(response)
            extracted.append(ans)
            if ans is None:
                self.stats.no_answer += 1
                continue
            key = (gold, ans)
            if key in decided or key in todo:
                self.stats.cache_hits += 1
                continue
            if key in self._cache:
                self.stats.cache_hits += 1
                decided[key] = self._cache[key]
                continue
            try:
                quick = quick_decide(ans, gold)
            except Exception as exc:  # noqa: BLE001 - a bad string must not kill the run
                quick = Decision(False, "error", f"{type(exc).__name__}: {str(exc)[:300]}")
            if quick is None:
                todo[key] = None
            else:
                self.stats.graded += 1
                self.stats.fast_path += 1
                decided[key] = quick
                self._remember(key, quick)
        if todo:
            keys = list(todo)
            for key, decision in zip(keys, self._run(keys), strict=True):
                decided[key] = decision
                self._remember(key, decision)
            self.stats.graded += len(keys)
        no_box = Decision(False, "no_answer", "no complete \\boxed{} in the response")
        return [
            verdict_for(ans, decided[(item[1], ans)]) if ans is not None else verdict_for(None, no_box)
            for item, ans in zip(items, extracted, strict=True)
        ]

    def _remember(self, key: Key, decision: Decision) -> None:
        if len(self._cache) >= self.max_cache:
            for old in list(self._cache)[: self.max_cache // 10 or 1]:
                del self._cache[old]
        self._cache[key] = decision

    def _run(self, keys: list[Key]) -> list[Decision]:
        """Grade distinct pairs on the workers, enforcing the hard deadline."""
        self.stats.sent_to_workers += len(keys)
        while len(self._pool) < self.workers:  # lazy_start, or a pool whose first call this is
            self._pool.append(self._spawn())
        results: list[Decision | None] = [None] * len(keys)
        pending: deque[int] = deque(range(len(keys)))
        remaining = len(keys)
        while remaining:
            now = time.monotonic()
            chunk = max(1, min(self.chunk_size, len(pending) // (2 * len(self._pool)) or 1))
            for w in list(self._pool):
                if not w.inflight and pending:
                    batch = [pending.popleft() for _ in range(min(chunk, len(pending)))]
                    w.inflight.extend(batch)
                    w.started = now
                    try:
                        w.conn.send([(i, keys[i][1], keys[i][0]) for i in batch])
                    except (OSError, ValueError):  # died while idle: requeue, replace, retry next round
                        self.stats.worker_deaths += 1
                        self._replace(w, pending)
            busy = [w for w in self._pool if w.inflight]
            if not busy:
                continue
            first_deadline = min(w.deadline(self.hard_timeout) for w in busy)
            ready = wait([w.conn for w in busy], timeout=max(0.0, first_deadline - time.monotonic()))
            for w in busy:
                if w.conn in ready:
                    remaining -= self._drain(w, results, pending)
            now = time.monotonic()
            for w in list(self._pool):
                if w.inflight and now > w.deadline(self.hard_timeout):
                    slot = w.inflight.popleft()
                    what = f"hard deadline {self.hard_timeout:g}s" if w.ready else f"worker start-up limit {STARTUP_TIMEOUT:g}s"
                    results[slot] = Decision(False, "timeout", f"{what} passed; worker killed and respawned")
                    remaining -= 1
                    self.stats.timeouts += 1
                    self.stats.kills += 1
                    self._replace(w, pending)
        return [r if r is not None else Decision(False, "error", "lost result") for r in results]

    def _drain(self, w: _Worker, results: list[Decision | None], pending: deque[int]) -> int:
        """Read every result a worker has sent; handle its death. Returns how many items finished."""
        done = 0
        try:
            while w.inflight and w.conn.poll():
                msg = w.conn.recv()
                if msg == _READY:
                    w.ready, w.started = True, time.monotonic()
                    self._startup_failures = 0
                    continue
                slot, correct, status, reason = msg
                expected = w.inflight.popleft()
                if slot != expected:
                    raise RuntimeError(f"grading worker answered slot {slot}, expected {expected}")
                results[slot] = Decision(bool(correct), status, reason)
                if status == "timeout":
                    self.stats.timeouts += 1
                w.started = time.monotonic()
                done += 1
        except (EOFError, OSError):
            w.proc.join(timeout=1)
            code = w.proc.exitcode
            if not w.ready:
                self._startup_failures += 1
                if self._startup_failures >= 3:  # a broken environment, not a bad answer: say so loudly
                    raise RuntimeError(
                        f"grading workers die while starting (exit code {code}); the worker's own error is "
                        f"printed above. Check that `{multiprocessing.spawn.get_executable()} -c \"import "
                        f"harness.grading.rules\"` works, and that memory_limit_mb={self._memory} is enough"
                    ) from None
            slot = w.inflight.popleft()
            results[slot] = Decision(False, "error", f"grading worker died (exit code {code}); answer not graded")
            done += 1
            self.stats.worker_deaths += 1
            self._replace(w, pending)
        return done

    def _replace(self, w: _Worker, pending: deque[int]) -> None:
        """Kill ``w``, give its unfinished items back to the queue (front), start a fresh worker."""
        pending.extendleft(reversed(w.inflight))
        w.inflight.clear()
        w.kill()
        self._pool[self._pool.index(w)] = self._spawn()
        self.stats.respawns += 1


# -- the shared pool behind grade() and the RL reward --------------------------------------------------

_SHARED: dict[float, GradingPool] = {}
_SHARED_LOCK = threading.Lock()


def _forget_shared() -> None:
    """In a forked child: the parent's pools (and their lock state) are not ours to use."""
    global _SHARED_LOCK
    _SHARED_LOCK = threading.Lock()
    _SHARED.clear()


os.register_at_fork(after_in_child=_forget_shared)


def shared_pool(timeout: float = 10.0) -> GradingPool:
    """This process's one-worker pool for per-answer ``timeout`` (created on first use, its worker
    started on the first answer that needs math-verify, closed at exit). Every in-process grading path
    goes through it, so none can run longer than ``timeout + max(2, timeout/2)`` per distinct answer."""
    key = float(timeout)
    with _SHARED_LOCK:
        pool = _SHARED.get(key)
        if pool is None or pool.closed:
            pool = _SHARED[key] = GradingPool(workers=1, timeout=key, lazy_start=True, max_cache=100_000)
        return pool


def grade(response: str, gold: str, *, timeout: float = 10.0) -> Verdict:
    """Grade one response (any thread). The string rules decide here; math-verify runs in this process's
    shared grading worker (`harness.grading.pool.shared_pool`), which is killed and replaced past
    ``timeout + max(2, timeout/2)`` seconds, so no answer -- not even one stuck in a single C call --
    holds the caller longer. Timeouts and errors come back as verdicts, never as exceptions."""
    return shared_pool(timeout).grade_many([(response, gold)])[0]
