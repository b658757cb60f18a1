"""Where benchmark data comes from: a local data directory, then the download cache, then the network.

Benchmark files are never vendored into the project. Developers and CI point ``HARNESS_DATA_DIR`` (or
``--data-dir``) at a folder laid out like ``shared/data`` (``aime24/test.jsonl``,
``imo-answerbench/answerbench.csv``, ...); users with network access get the canonical file downloaded
once (pinned GitHub raw URL, or the Hugging Face Hub for hub-only sets) and cached. When everything
fails, the error lists every place tried and how to provide the file, because "file not found" alone
is useless on an offline cluster.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.safepath import check_relpath

ENV_DATA_DIR = "HARNESS_DATA_DIR"
ENV_CACHE_DIR = "HARNESS_CACHE_DIR"
ENV_OFFLINE = "HARNESS_OFFLINE"
DEFAULT_CACHE_DIR = Path("~/.cache/int-harness")
DEFAULT_TIMEOUT_S = 10.0
_SNAPSHOT_SUFFIXES = {".parquet", ".arrow"}

HubLoader = Callable[[str, str], Iterable[Mapping[str, Any]]]


class DataNotFoundError(FileNotFoundError):
    """No local copy, no cached copy, and the canonical source could not be reached."""


@dataclass
class HubRows:
    """Rows of a hub dataset plus where they were actually read (a path or ``hub:<id>@<split>``)."""

    rows: list[dict[str, Any]]
    origin: str


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def default_hub_loader(hub_id: str, split: str) -> list[dict[str, Any]]:
    """Load a split with ``datasets`` (imported here so ``import tasks`` stays cheap).

    A short TCP probe runs first: ``load_dataset`` retries for a long time when the Hub is unreachable,
    and an offline user should get the helpful error in seconds, not minutes.
    """
    proxied = any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"))
    if not _env_flag("HF_HUB_OFFLINE") and not proxied:  # behind a proxy a direct probe proves nothing
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
        parsed = urllib.parse.urlparse(endpoint)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        with socket.create_connection((parsed.hostname or "huggingface.co", port), timeout=5):
            pass
    import datasets

    return [dict(row) for row in datasets.load_dataset(hub_id, split=split)]


def _read_local_rows(path: Path, split: str) -> list[dict[str, Any]]:
    """Read a local copy of a hub split: a JSONL export, or a ``huggingface-cli download`` folder."""
    if path.is_file():
        with path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    import datasets

    return [dict(row) for row in datasets.load_dataset(str(path), split=split)]


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file and rename, so an interrupted download never leaves a truncated cache entry
    (created with the umask's mode, not mkstemp's 0600: a shared cache must be readable by the team)."""
    from harness.rundir import create_temp

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temp(path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class DataResolver:
    """Finds a task's data: data directory, then cache, then the canonical online source.

    Args:
        data_dir: folder laid out like ``shared/data``; defaults to ``$HARNESS_DATA_DIR``.
        cache_dir: download cache; defaults to ``$HARNESS_CACHE_DIR`` or ``~/.cache/int-harness``.
        offline: skip all network attempts; defaults to ``$HARNESS_OFFLINE``.
        hub_loader: ``(hub_id, split) -> rows``; injectable so tests can map in-memory datasets.
        timeout: seconds before a download attempt gives up.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        cache_dir: str | Path | None = None,
        offline: bool | None = None,
        hub_loader: HubLoader | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        env_dir = os.environ.get(ENV_DATA_DIR) or None
        chosen = data_dir if data_dir is not None else env_dir
        self.data_dir: Path | None = Path(chosen).expanduser() if chosen else None
        self.cache_dir = Path(cache_dir or os.environ.get(ENV_CACHE_DIR) or DEFAULT_CACHE_DIR).expanduser()
        self.offline = _env_flag(ENV_OFFLINE) if offline is None else offline
        self.hub_loader: HubLoader = hub_loader or default_hub_loader
        self.timeout = timeout

    def _retry_hint(self) -> str:
        if self.offline:
            return f"or unset {ENV_OFFLINE} and retry with network access"
        return "or retry where GitHub / the Hugging Face Hub is reachable"

    def _data_dir_attempt(self, relpath: str) -> tuple[Path | None, str]:
        if self.data_dir is None:
            return None, f"data directory: not set (no --data-dir, ${ENV_DATA_DIR} unset)"
        path = self.data_dir / relpath
        return (path if path.exists() else None), f"data directory: {path}: not found"

    def local_file(self, task: str, relpath: str, url: str | None) -> Path:
        """Return a readable path for ``relpath`` (e.g. ``aime24/test.jsonl``), downloading if needed.
        ``relpath`` may carry names from data (a problem id): it must stay inside the data directory."""
        check_relpath(relpath, what=f"task '{task}'")
        tried: list[str] = []
        found, note = self._data_dir_attempt(relpath)
        if found is not None and found.is_file():
            return found
        tried.append(note)
        cached = self.cache_dir / relpath
        if cached.is_file():
            return cached
        tried.append(f"cache: {cached}: not found")
        if url is None:
            tried.append("download: no canonical URL for this file")
        elif self.offline:
            tried.append(f"download: {url}: skipped (${ENV_OFFLINE}=1)")
        else:
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as resp:  # noqa: S310 (pinned https URL)
                    payload = resp.read()
                _atomic_write(cached, payload)
                return cached
            except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError) as exc:
                tried.append(f"download: {url}: {type(exc).__name__}: {exc}")
        fix = [
            f"put the file at DATA_DIR/{relpath} and pass --data-dir DATA_DIR (or set {ENV_DATA_DIR}=DATA_DIR)",
        ]
        if url:
            fix.append(f"the canonical copy is {url} (e.g. `curl -L -o DATA_DIR/{relpath} {url}`)")
            fix.append(self._retry_hint())
        raise DataNotFoundError(_message(task, relpath, tried, fix))

    def hub_rows(self, task: str, hub_id: str, split: str, *, relpath: str) -> HubRows:
        """Rows of a hub split; ``relpath`` (``brumo25/train.jsonl``) names the local/cached JSONL copy.

        A folder at ``DATA_DIR/<relpath without the file name>`` made by ``huggingface-cli download``
        also works. A successful hub load is snapshotted to the cache so later runs work offline.
        """
        check_relpath(relpath, what=f"task '{task}'")
        tried: list[str] = []
        found, note = self._data_dir_attempt(relpath)
        if found is not None and found.is_file():
            return HubRows(_read_local_rows(found, split), str(found))
        if self.data_dir is not None:
            snapshot = self.data_dir / Path(relpath).parent
            if snapshot.is_dir() and any(p.suffix in _SNAPSHOT_SUFFIXES for p in snapshot.rglob("*")):
                return HubRows(_read_local_rows(snapshot, split), str(snapshot))
            note += f" (nor a hub snapshot folder {snapshot})"
        tried.append(note)
        cached = self.cache_dir / relpath
        if cached.is_file():
            return HubRows(_read_local_rows(cached, split), str(cached))
        tried.append(f"cache: {cached}: not found")
        if self.offline:
            tried.append(f"Hugging Face Hub: {hub_id} (split {split}): skipped (${ENV_OFFLINE}=1)")
        else:
            try:
                rows = [dict(r) for r in self.hub_loader(hub_id, split)]
                text = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows)
                _atomic_write(cached, text.encode("utf-8"))
                return HubRows(rows, f"hub:{hub_id}@{split}")
            except Exception as exc:  # any hub/network/parse failure becomes part of the message
                tried.append(f"Hugging Face Hub: {hub_id} (split {split}): {type(exc).__name__}: {exc}")
        folder = Path(relpath).parent
        fix = [
            f"on a machine with network access: `huggingface-cli download --repo-type dataset {hub_id} "
            f"--local-dir DATA_DIR/{folder}`, then pass --data-dir DATA_DIR (or set {ENV_DATA_DIR}=DATA_DIR)",
            f"or export hub split '{split}' as JSONL (one row per line, hub columns) to DATA_DIR/{relpath}",
            self._retry_hint() + " (the rows are then cached)",
        ]
        raise DataNotFoundError(_message(task, relpath, tried, fix))


def _message(task: str, relpath: str, tried: list[str], fix: list[str]) -> str:
    lines = [f"Could not find data for task '{task}' (expected relative path: {relpath}).", "Tried:"]
    lines += [f"  {i}. {t}" for i, t in enumerate(tried, 1)]
    lines.append("To fix:")
    lines += [f"  - {f}" for f in fix]
    return "\n".join(lines)
