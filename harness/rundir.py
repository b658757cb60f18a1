"""Run directories: atomic files, crash-tolerant append-only record logs, and manifests.

Every stage (eval, InT rollout/propose/continue/build-sft, training) writes here, so the rules live in one
place:

* whole files (manifest, results) are written to a temporary file and ``os.replace``-d into place, so a
  reader never sees half a file;
* records are appended to ``*.jsonl`` in batches, flushed and fsync-ed per batch, so a crash loses at most
  the batch in flight; a torn last line from a crash is detected and cut off on the next open;
* each record carries a key, and a resumed stage asks `RecordLog.done_keys()` what it can skip.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def create_temp(directory: str | Path, *, prefix: str, suffix: str = ".tmp") -> tuple[int, Path]:
    """A new, exclusively created file in ``directory`` for an atomic write: ``(fd, path)``.

    Why not ``tempfile.mkstemp``: it creates the file with mode 0600 whatever the umask, and the rename
    keeps that mode, so results, reports and checkpoints written through it were unreadable to teammates
    on a shared filesystem. Opening with ``O_CREAT | O_EXCL`` and mode 0666 lets the kernel apply the
    umask, as for any file the user creates (0644 under umask 022)."""
    directory = Path(directory)
    for _ in range(100):
        path = directory / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory}: could not create a temporary file {prefix}*{suffix}")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (same-directory temp file + fsync + rename); the file gets
    the mode the umask gives new files."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temp(path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8; see `atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def iter_jsonl(
    path: str | Path, *, keep: Callable[[str], bool] | None = None, allow_torn_tail: bool = False
) -> Iterator[dict[str, Any]]:
    """Stream one JSON object per non-empty line; a bad line raises an error naming the file and line.

    Args:
        keep: a cheap prefilter on the raw line, so readers that want few records skip most parsing.
        allow_torn_tail: skip (with a warning) a corrupt *last* line -- a crash mid-append -- instead of
            raising; damage anywhere else still raises.
    """
    for _, record in _numbered_jsonl(path, keep=keep, allow_torn_tail=allow_torn_tail):
        yield record


def _numbered_jsonl(
    path: str | Path, *, keep: Callable[[str], bool] | None = None, allow_torn_tail: bool = False
) -> Iterator[tuple[int, Any]]:
    """`iter_jsonl` with each record's line number (for errors that name the line)."""
    bad: tuple[int, Exception] | None = None
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            if bad is not None:
                break
            if keep is not None and not keep(line):
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                bad = (lineno, exc)
                if not allow_torn_tail:
                    break
        else:
            if bad is not None:
                log.warning("%s: skipping a torn last line", path)
                return
    if bad is not None:
        raise ValueError(f"{path}:{bad[0]}: corrupt record ({bad[1]})")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return list(iter_jsonl(path))


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write a whole derived jsonl file atomically (all rows or none)."""
    text = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
    atomic_write_text(path, text)
    return Path(path)


class RecordLog:
    """An append-only jsonl file of records identified by a key function.

    Args:
        path: the ``.jsonl`` file.
        key: maps a record to its identity (e.g. ``(problem_id, sample_index)``); duplicates are refused.
    """

    def __init__(self, path: str | Path, key: Callable[[Mapping[str, Any]], Any]) -> None:
        self.path = Path(path)
        self.key = key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_torn_tail()
        self._keys = self._read_keys()

    def _read_keys(self) -> set[Any]:
        """Every record's key; a line that is not a record of this log (valid JSON, wrong shape) or a
        second record with a key already seen (two writers, a pasted line) fails naming file and line:
        counting it would silently change results."""
        keys: set[Any] = set()
        if not self.path.exists():
            return keys
        for lineno, record in _numbered_jsonl(self.path):
            try:
                k = self.key(record)
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise ValueError(f"{self.path}:{lineno}: not a record of this file (no key: {type(exc).__name__} {exc})") from None
            if k in keys:
                raise ValueError(f"{self.path}:{lineno}: duplicate record {k!r} (each key may appear once)")
            keys.add(k)
        return keys

    def _repair_torn_tail(self) -> None:
        """Drop a partial last line left by a crash mid-write (everything before it is intact)."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        data = self.path.read_bytes()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        log.warning("%s: dropping a torn last record (%d bytes) left by an interrupted run", self.path, len(data) - cut)
        atomic_write_text(self.path, data[:cut].decode("utf-8"))

    def read(self) -> Iterator[dict[str, Any]]:
        """Yield every record; a corrupt line raises an error naming the file and line."""
        if self.path.exists():
            yield from iter_jsonl(self.path)

    def done_keys(self) -> set[Any]:
        return set(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def append_many(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Append a batch durably. Records whose key is already present are skipped (idempotent resume)."""
        lines = []
        for r in records:
            k = self.key(r)
            if k in self._keys:
                continue
            self._keys.add(k)
            lines.append(json.dumps(r, ensure_ascii=False, default=str))
        if lines:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        return len(lines)


class Manifest:
    """``manifest.json`` of a stage: config, protocol hash, versions, counts and status, rewritten atomically.

    Lifecycle: `check_protocol` (refuses a different protocol once records exist), `begin` (status
    ``running``, one entry per invocation), then `finish` (``complete``) or `fail` (``failed`` with the
    error in one line). Stats of every invocation are summed into ``run_stats_total``, so a resumed run
    reports what the whole run cost, not only its last piece. Nothing here ever downgrades a manifest
    before the caller has validated its inputs (a refused resume leaves the file as it was)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.data: dict[str, Any] = read_json(self.path) if self.path.exists() else {}
        self._lock: Any = None

    def hold(self, lock: Any) -> None:
        """Keep the folder's lock (`harness.dirlock.FolderLock`) until `finish` or `fail` (or until this
        object is collected, e.g. after an error between `begin` and either)."""
        self._lock = lock
        weakref.finalize(self, lock.release)

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def check_protocol(self, protocol_hash: str, *, what: str = "run", has_records: bool = True) -> None:
        """Refuse to resume a directory created under a different protocol (prompts, sampling, grader,
        model). A directory whose earlier start wrote no record at all (a failed start) is taken over."""
        old = self.data.get("protocol_hash")
        if old is None or old == protocol_hash:
            return
        if not has_records and self.data.get("status") != "complete":
            log.info("%s: replacing the manifest of a start that wrote no records (protocol %s)", self.path, old)
            self.data = {}
            return
        raise ValueError(
            f"{self.path}: this {what} directory was written with protocol {old}, but the current "
            f"settings hash to {protocol_hash}. Use a new --out directory, or restore the settings "
            f"(see 'protocol' in the manifest for what they were)."
        )

    def update(self, **fields: Any) -> None:
        self.data.update(fields)
        self.data["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.data.setdefault("created_at", self.data["updated_at"])
        atomic_write_json(self.path, self.data)

    def begin(self, progress: Mapping[str, int] | None = None, **fields: Any) -> None:
        """Mark the start of an invocation (status ``running``); ``fields`` are recorded (config, protocol...).

        ``progress``: counters the caller derives from what its records hold now (e.g. ``{"new_generations":
        samples generated so far}``). A manifest still saying ``running`` here belongs to an invocation that
        was killed (the caller holds the folder's lock, so it is not running): it is closed as ``killed``
        with the difference of those counters since its start, so its generations count in
        ``run_stats_total``; its seconds run from its start to the last write into the folder."""
        if self.data.get("status") == "running":
            self._close_killed(progress or {})
        self._t0 = time.perf_counter()
        self.data.pop("error", None)
        self.update(**fields, status="running", started_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    started_unix=round(time.time(), 3), progress_at_start=dict(progress or {}))

    def _close_killed(self, progress: Mapping[str, int]) -> None:
        before = self.data.get("progress_at_start") or {}
        stats: dict[str, Any] = {k: max(0, int(v) - int(before.get(k, 0))) for k, v in progress.items()}
        started = self.data.get("started_unix")
        if isinstance(started, (int, float)):
            last = max((p.stat().st_mtime for p in self.path.parent.rglob("*") if p.is_file()), default=started)
            stats["seconds"] = round(max(0.0, last - started), 3)
        entry = {"status": "killed", "ended_at": None, **stats}
        self._close_entry(entry)
        log.info("%s: the previous invocation did not finish (killed); counted %s", self.path, stats)

    def _close_invocation(self, status: str, stats: Mapping[str, Any] | None) -> None:
        seconds = round(time.perf_counter() - getattr(self, "_t0", time.perf_counter()), 3)
        self._close_entry({"status": status, "ended_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": seconds,
                           **(stats or {})})

    def _close_entry(self, entry: dict[str, Any]) -> None:
        invocations = [*self.data.get("invocations", []), entry]
        totals: dict[str, Any] = {}
        for inv in invocations:
            for k, v in inv.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    totals[k] = round(totals.get(k, 0) + v, 3)
        self.data.update(invocations=invocations, run_stats_total=totals)

    def finish(self, stats: Mapping[str, Any] | None = None, **fields: Any) -> None:
        """The stage is complete: status ``complete``, this invocation's stats summed into the totals."""
        if self.data.get("status") == "running":
            self._close_invocation("complete", stats)
        try:
            self.update(**fields, status="complete", run_stats=dict(stats or {}))
        finally:
            self._release()

    def fail(self, exc: BaseException, stats: Mapping[str, Any] | None = None) -> None:
        """An invocation stopped with an error: status ``failed`` and the error's first line."""
        try:
            if self.data.get("status") != "running":
                return
            self._close_invocation("failed", stats)
            from harness.redact import redact_text

            first = redact_text((str(exc).strip().splitlines() or [""])[0][:500])  # server text may echo a key
            self.update(status="failed", error=f"{type(exc).__name__}: {first}")
        finally:
            self._release()
