"""Peak resident memory (RSS) of this process, per stage: what the preflight's CPU estimates are checked against.

Why not `resource.getrusage(...).ru_maxrss` alone: it is the peak over the whole life of the process, so in
one process running rollout, propose and continue it would give every stage the peak of the largest so far.
Linux lets a process reset its own high-water mark (``echo 5 > /proc/self/clear_refs``, since Linux 4.0) and
read it back (``VmHWM`` in ``/proc/self/status``); `PeakRSS` does that around a block. Elsewhere it falls back
to ``ru_maxrss`` (then the peak since the process started, which is still an upper bound) and says so.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

GiB = 1024**3
_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS; False where the OS does not allow it."""
    try:
        _CLEAR.write_text("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """This process's peak RSS in bytes: since the last `reset_peak` (Linux), else since it started."""
    try:
        m = re.search(r"^VmHWM:\s+(\d+)\s+kB", _STATUS.read_text(), re.M)
        if m:
            return int(m.group(1)) * 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on Linux


class PeakRSS:
    """``with PeakRSS() as m: ...`` then ``m.gib``: the peak RSS during the block (``m.scope`` says whether it
    is the block's own peak, ``"block"``, or the process's since it started, ``"process"``)."""

    def __enter__(self) -> PeakRSS:
        self.scope = "block" if reset_peak() else "process"
        self.bytes = 0
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bytes = peak_rss_bytes()

    @property
    def gib(self) -> float:
        return round(self.bytes / GiB, 3)

    def to_dict(self) -> dict[str, Any]:
        return {"peak_rss_gib": self.gib, "peak_rss_scope": self.scope}
