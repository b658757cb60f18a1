"""One writer per run folder: an advisory lock that a second process meets with a one-line refusal.

Why: two processes appending to one run folder both "resume" it -- each reads the same done keys, each
generates the same missing samples, and the folder ends up with every record twice (96 records for 48
keys, a k=2 protocol reported as k=4) while both exit 0. Every writer of a run folder (`harness eval`, each
InT stage folder, each `harness compare` step and the comparison folder itself) therefore holds this lock
while it reads what is done and writes what is not.

How: ``fcntl.flock`` on ``<folder>/.lock``. The kernel drops a flock when its process dies -- however it
dies, ``kill -9`` included -- so a lock can never outlive its holder: a *stale* lock file (left by a killed
process) is simply acquired, and the holder it records is reported as taken over. The file records who
holds it (pid, host, command line with secrets masked, start time), which is what the refusal prints.
On release the file is removed while still locked, and an acquirer checks that the file it locked is
still the one at the path, so the remove cannot let two processes in. Within one process the lock is
re-entrant (counted), so nested code paths that lock the same folder do not refuse themselves.

Where no lock can be taken -- no ``fcntl`` (Windows), a filesystem that refuses ``flock``, a read-only folder
-- the folder is used unlocked, with a warning naming the reason.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "FolderBusy", "FolderLock", "acquire", "folder_lock", "holder_of"]

log = logging.getLogger(__name__)
LOCK_NAME = ".lock"


class FolderBusy(RuntimeError):
    """Another live process holds the folder's lock; the message names it (one line)."""


@dataclass
class _Held:
    fd: int
    count: int
    created: Path | None  # the topmost folder this process created for the lock (pruned on release if empty)
    locked: bool = True  # False: the platform or filesystem offers no lock here (see `_unlocked`)


_HELD: dict[str, _Held] = {}
_GUARD = threading.Lock()


def _command_line() -> str:
    """``sys.argv`` with secrets masked (``--api-key X``, ``user:pw@`` in URLs, ``key=...``)."""
    from harness.redact import MASK, redact_text

    args, hide_next = [], False
    for arg in sys.argv:
        if hide_next:
            args.append(MASK)
            hide_next = False
            continue
        name = arg.split("=", 1)[0].lower()
        if name.startswith("--") and any(w in name for w in ("key", "token", "password", "secret")):
            if "=" in arg:
                args.append(f"{arg.split('=', 1)[0]}={MASK}")
            else:
                args.append(arg)
                hide_next = True
            continue
        args.append(redact_text(arg))
    args[:1] = [Path(args[0]).name] if args else []
    text = " ".join(args)
    return text if len(text) <= 300 else text[:297] + "..."


def _describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another process (it recorded no details)"
    return (f"pid {holder.get('pid')} on {holder.get('host')} ({holder.get('command') or '?'}), "
            f"started {holder.get('started_at')}")


def holder_of(folder: str | Path) -> dict[str, Any] | None:
    """What the folder's lock file says about its holder (None: no lock file, or unreadable)."""
    try:
        text = (Path(folder) / LOCK_NAME).read_text(encoding="utf-8")
        data = json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read_fd(fd: int) -> dict[str, Any] | None:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    try:
        data = json.loads(b"".join(chunks).decode("utf-8")) if chunks else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class FolderLock:
    """A held lock on one folder (see the module docstring); `release` once per `acquire`."""

    def __init__(self, folder: Path, key: str) -> None:
        self.folder, self._key, self._released = folder, key, False

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        with _GUARD:
            held = _HELD.get(self._key)
            if held is None:
                return
            held.count -= 1
            if held.count > 0:
                return
            del _HELD[self._key]
            try:
                if held.locked:
                    (self.folder / LOCK_NAME).unlink(missing_ok=True)  # removed while still locked: see module doc
            finally:
                os.close(held.fd)
            if held.created is not None:
                _prune_empty(self.folder.absolute(), held.created)

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _prune_empty(folder: Path, top: Path) -> None:
    """Remove ``folder``, its subfolders and its parents up to ``top`` (the folders the lock created), if
    they hold no file at all: a run that stopped before writing anything leaves nothing behind."""
    if not folder.is_dir():
        return
    for root, dirs, files in os.walk(folder, topdown=False):
        if files:
            return
        for d in dirs:
            try:
                os.rmdir(Path(root) / d)
            except OSError:
                return
    current = folder
    while True:
        try:
            os.rmdir(current)
        except OSError:
            return
        if current == top or current.parent == current:
            return
        current = current.parent


def acquire(folder: str | Path, *, what: str = "run folder") -> FolderLock:
    """Lock ``folder`` (created if missing) for this process, or raise `FolderBusy` naming the holder.

    A lock file left by a process that no longer holds it (killed) is taken over with a warning. Nothing
    else in the folder is touched; if this call created the folder and nothing was written into it by
    the time of the last `FolderLock.release`, the folder is removed again."""
    folder = Path(folder)
    created: Path | None = None
    probe = folder.absolute()
    while not probe.exists() and probe.parent != probe:
        created, probe = probe, probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    key = str(folder.resolve())
    with _GUARD:
        held = _HELD.get(key)
        if held is not None:
            held.count += 1
            return FolderLock(folder, key)
        if fcntl is None:  # pragma: no cover - Windows
            return _unlocked(folder, key, created, "this platform has no fcntl")
        path = folder / LOCK_NAME
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:  # a read-only folder (someone else's finished run): nothing to guard
                return _unlocked(folder, key, created, f"cannot create {path}: {exc.strerror or exc}")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_fd(fd)
                os.close(fd)
                raise FolderBusy(
                    f"{folder} is in use by {_describe(holder)}: one writer per {what}; wait for it to finish, "
                    "or use another folder"
                ) from None
            except OSError as exc:  # a filesystem without flock (some network or FUSE mounts)
                os.close(fd)
                return _unlocked(folder, key, created, f"the filesystem refuses flock ({exc.strerror or exc})")
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder released (and removed) it between our open and our lock: retry
        stale = _read_fd(fd)
        if stale and stale.get("pid") != os.getpid():
            log.warning("%s: taking over the lock of %s, which no longer holds it (killed?)", folder, _describe(stale))
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": _command_line(),
                  "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "what": what}
        data = (json.dumps(record) + "\n").encode("utf-8")
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        _HELD[key] = _Held(fd, 1, created)
        return FolderLock(folder, key)


def _unlocked(folder: Path, key: str, created: Path | None, why: str) -> FolderLock:
    """Go on without the guarantee where no lock can be taken (called under ``_GUARD``): saying so beats
    refusing to run at all, and is what the harness did before it had locks."""
    log.warning("%s is not locked against a second writer: %s", folder, why)
    _HELD[key] = _Held(os.open(os.devnull, os.O_RDONLY), 1, created, locked=False)
    return FolderLock(folder, key)


@contextmanager
def folder_lock(folder: str | Path, *, what: str = "run folder") -> Iterator[FolderLock]:
    """``with folder_lock(out): ...`` -- `acquire` and release on exit, however the block ends."""
    lock = acquire(folder, what=what)
    try:
        yield lock
    finally:
        lock.release()
