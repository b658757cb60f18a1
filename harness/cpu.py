"""CPU threads for torch: as many as the model can use and the machine can give *now*.

WHY this module: torch's CPU kernels run on an OpenMP team of ``torch.get_num_threads()`` threads (all
cores by default), and every op of a small model is a short parallel region that needs the whole team
scheduled at once. On an idle 2-core machine two threads train the 1.2M-parameter world model 1.7x
faster than one; with a single busy process beside it, the team waits for a core it does not get at
every region and a step takes 3-8x longer than with one thread (measured: 0.25 s/step with one thread,
0.85-2.9 s/step with two, at load 5-8 -- benchmarks/world_build_bench.py). A fixed thread count is
therefore wrong in one of the two situations. `ThreadGovernor` re-decides between units of work (a
pretraining step, a decoding step, a trainer step): the cores in this process's affinity set (and cgroup
quota) minus what *other* processes used over the last few seconds, capped by what the model's size can
use. The user can pin it: ``HARNESS_THREADS=N`` (or ``harness --threads N``), ``auto`` by default.

Results do not depend on the choice for the embedded world's shipped presets: pretraining with one or
two threads gives bit-identical weights (tests/test_cpu_threads.py; the default build's weights hash is
the same as a fixed two-thread build's). In general a GEMM may split its reduction across threads, so
for other models two thread counts agree up to float rounding only -- pin ``HARNESS_THREADS`` when a
bitwise-reproducible rerun matters more than speed on a busy machine.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

ENV = "HARNESS_THREADS"
# Measured on 2 cores: a ~215k-parameter model trains 8x SLOWER on two threads than on one (the regions
# are too small to pay for the team), 1.2M and 3.8M parameters 1.7x faster. One thread per this many
# parameters is the cap (a heuristic from those three points; pin HARNESS_THREADS to override).
PARAMS_PER_THREAD = 500_000
OTHERS_SLACK = 0.25  # cores of other load tolerated before giving up a thread (background noise)


def allowed_cpus() -> int:
    """Cores this process may run on: its affinity set, reduced by a cgroup v2 CPU quota if one is set."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.floor(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def requested_threads() -> int | None:
    """The user's pin from ``$HARNESS_THREADS`` (None for unset or ``auto``); a bad value is one line."""
    raw = os.environ.get(ENV, "").strip().lower()
    if raw in ("", "auto"):
        return None
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"${ENV}={raw!r}: expected a positive integer or 'auto'") from None
    if n < 1:
        raise ValueError(f"${ENV}={raw!r}: expected a positive integer or 'auto'")
    return n


def size_cap(n_params: int | None) -> int | None:
    """The most threads a model of ``n_params`` parameters uses well (None: no cap known)."""
    return None if not n_params else max(1, n_params // PARAMS_PER_THREAD)


class _CpuSampler:
    """Busy core-seconds of *other* processes on our allowed cores, between two calls (Linux /proc via psutil)."""

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        self._me = psutil.Process()
        try:
            self._cpus = sorted(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            self._cpus = None
        self._last = self._read()

    def _read(self) -> tuple[float, float, float]:
        per = self._psutil.cpu_times(percpu=True)
        cpus = [per[i] for i in self._cpus if i < len(per)] if self._cpus else per
        busy = sum(t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)
                   + getattr(t, "steal", 0.0) for t in cpus)
        own = self._me.cpu_times()
        return time.monotonic(), busy, own.user + own.system

    def others(self) -> float | None:
        """Cores used by other processes since the last call (None if the window was too short)."""
        now = self._read()
        (t0, b0, o0), (t1, b1, o1) = self._last, now
        if t1 - t0 < 0.2:
            return None
        self._last = now
        return max(0.0, ((b1 - b0) - (o1 - o0)) / (t1 - t0))


@dataclass
class ThreadGovernor:
    """Sets ``torch.set_num_threads`` between units of work; call `tick` from the thread that runs torch.

    ``interval`` seconds between decisions (a decision costs ~0.1 ms); every decision is kept in
    ``history`` as (monotonic time, threads, other processes' cores) for logs and benchmarks."""

    n_params: int | None = None
    interval: float = 5.0
    threads: int = 0
    history: list[tuple[float, int, float | None]] = field(default_factory=list)
    _next: float = 0.0
    _sampler: _CpuSampler | None = None

    def __post_init__(self) -> None:
        self.pinned = requested_threads()
        self.cpus = allowed_cpus()
        cap = size_cap(self.n_params)
        self.limit = max(1, min(self.cpus, cap) if cap else self.cpus)
        if self.pinned is None:
            try:
                self._sampler = _CpuSampler()
            except Exception:  # no psutil / no /proc: fall back to the size cap alone
                self._sampler = None
        self._apply(self.pinned or self.limit, None)
        self._next = time.monotonic() + min(1.0, self.interval)  # the first look comes soon

    def choose(self, others: float | None) -> int:
        """Threads for ``others`` cores of foreign load: the free cores (one short of a busy core gives
        that core up), never more than the size cap, never fewer than one."""
        if self.pinned is not None:
            return self.pinned
        if others is None:
            return self.threads or self.limit
        free = self.cpus - others
        return max(1, min(self.limit, math.floor(free + OTHERS_SLACK)))

    def tick(self) -> int:
        """Re-decide if ``interval`` has passed; returns the thread count in force."""
        if self.pinned is not None or self._sampler is None:
            return self.threads
        now = time.monotonic()
        if now < self._next:
            return self.threads
        self._next = now + self.interval
        others = self._sampler.others()
        self._apply(self.choose(others), others)
        return self.threads

    def _apply(self, n: int, others: float | None) -> None:
        import torch

        if n != self.threads:
            torch.set_num_threads(n)
            self.threads = n
        self.history.append((round(time.monotonic(), 3), n, None if others is None else round(others, 2)))
        del self.history[:-256]  # bounded

    def summary(self) -> dict[str, object]:
        """What the governor did, for build logs: the setting, the cap and the thread counts used."""
        used = sorted({n for _, n, _ in self.history})
        return {"setting": f"pinned {self.pinned}" if self.pinned else "auto", "allowed_cpus": self.cpus,
                "size_cap": size_cap(self.n_params), "threads_used": used, "decisions": len(self.history)}


_GOVERNOR: ThreadGovernor | None = None


def governor(n_params: int | None = None) -> ThreadGovernor:
    """The process's governor (created on first use; a later call with a model size re-caps it)."""
    global _GOVERNOR
    if _GOVERNOR is None or (n_params and _GOVERNOR.n_params != n_params):
        _GOVERNOR = ThreadGovernor(n_params=n_params)
    return _GOVERNOR


def tick() -> int:
    """Re-decide the process's thread count if it is time (a no-op until `governor` was created)."""
    return _GOVERNOR.tick() if _GOVERNOR is not None else 0


def model_parameters(model: object) -> int | None:
    """Parameter count of a torch module (None if it is not one)."""
    params = getattr(model, "parameters", None)
    if not callable(params):
        return None
    try:
        return sum(p.numel() for p in params())
    except Exception:
        return None
