"""Model sources: how a model *name* becomes something a backend or trainer can load.

A model is named by a local path, a hub id, or ``<scheme>:<name>`` for models the harness (or a plugin)
can produce on demand -- ``world:default`` is the embedded world's model, built on first use and cached.
Schemes are registered through the ``harness.model_sources`` entry-point group (value: a function
``name -> local path``), so generic code resolves any scheme without knowing which package provides it,
and a plugin can add its own (``mylab:ckpt-7``).

WHY a registry and not a prefix test: evaluation, the InT stages, trainers and `compare` all accept model
names; one resolver keeps them agreeing, and none of them needs to import the package behind a scheme.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.registry import Registry

ENTRY_POINT_GROUP = "harness.model_sources"
_SCHEME = re.compile(r"^([a-z][a-z0-9_-]*):(?!//)(.*)$")  # "world:default", not "http://..." or "C:\\..."
MODEL_SOURCES: Registry[Callable[..., str | None]] = Registry("model source", ENTRY_POINT_GROUP)


def register_model_source(scheme: str, resolver: Callable[[str], str]) -> None:
    """Add a scheme in-process (tests, notebooks); packages use the entry-point group instead."""
    MODEL_SOURCES.register(scheme, resolver)


def model_scheme(model: str) -> str | None:
    """The registered scheme ``model`` names, or None for a path or hub id."""
    m = _SCHEME.match(model)
    if m and m.group(1) in MODEL_SOURCES.names():
        return m.group(1)
    return None


def resolve_model(model: str) -> str:
    """``<scheme>:<name>`` -> the local path its source produces (building it if needed); else ``model``."""
    scheme = model_scheme(model)
    if scheme is None:
        return model
    return str(MODEL_SOURCES.get(scheme)(model.split(":", 1)[1]))


def is_available(model: str) -> bool:
    """Can ``model`` be used without building or downloading anything? A scheme answers through its
    resolver's ``build=False`` (None: not built); a local folder must exist; a hub id must be in the local
    cache when ``HF_HUB_OFFLINE`` is set."""
    import inspect
    import os

    scheme = model_scheme(model)
    if scheme is not None:
        resolver = MODEL_SOURCES.get(scheme)
        if "build" in inspect.signature(resolver).parameters:
            return resolver(model.split(":", 1)[1], build=False) is not None
        return True
    if Path(model).expanduser().is_dir():
        return True
    if model.startswith((".", "/", "~")):
        return False
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model.split("@")[0], "config.json"), str)
    return True


def model_identity(model: str) -> dict[str, Any]:
    """What identifies a model's weights, for protocol hashes and cache keys: for a local folder (a scheme
    resolves to one) a hash of its weight, config and tokenizer files -- not where it lies, so a moved
    checkpoint or a rebuilt identical world model keeps its runs; for a hub id, the id and pinned revision.
    Where it was found is recorded by `model_location`, outside the hash.

    Resolving a scheme may build the model (the world's first use); call this only when the model is
    about to be used anyway."""
    path = resolve_model(model)
    local = Path(path)
    if local.is_dir():
        return {"weights_sha256": _folder_digest(str(local.resolve()))}
    return {"hub_id": path.split("@", 1)[0], "revision": path.split("@", 1)[1] if "@" in path else None}


def model_location(model: str) -> dict[str, Any]:
    """The name as given and where it resolved to (provenance, not identity)."""
    return {"name": model, "resolved": resolve_model(model)}


@lru_cache(maxsize=64)
def _folder_digest(folder: str) -> str:
    """sha256 over the files that define a checkpoint (weights, config, tokenizer), name and content.

    Cached per process: a multi-GB checkpoint is hashed once. Large files are read in 8 MB chunks."""
    h = hashlib.sha256()
    root = Path(folder)
    patterns = ("*.safetensors", "*.bin", "*.gguf", "config.json", "generation_config.json", "tokenizer*.json", "*.jinja")
    files = sorted({p for pat in patterns for p in root.glob(pat) if p.is_file()})
    for f in files:
        h.update(f.name.encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(8 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def safe_name(model: str) -> str:
    """A folder-name-safe rendering of a model name (no ':' or '/'), for default run-directory names."""
    base = model.rstrip("/")
    base = Path(base).name if "/" in base and Path(base).exists() else base.replace("/", "--")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-") or "model"
