"""Provenance for every result: stable hashes of settings and the versions of what produced them."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from importlib import metadata
from typing import Any

# Packages whose versions can change a number; recorded in every manifest and results file.
TRACKED_PACKAGES = (
    "int-harness",
    "torch",
    "transformers",
    "tokenizers",
    "datasets",
    "math-verify",
    "latex2sympy2_extended",
    "trl",
    "peft",
    "accelerate",
    "vllm",
    "openai",
    "numpy",
)


def stable_hash(obj: Any, length: int = 16) -> str:
    """A short sha256 of a JSON-able object with sorted keys: equal settings give equal hashes."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


def package_versions() -> dict[str, str]:
    """Python, platform and installed versions of the tracked packages (absent ones are omitted)."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
