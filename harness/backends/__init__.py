"""Generation backends behind one interface, registered by name with lazy imports.

``get_backend("hf", model=path)`` imports transformers only when asked; ``vllm`` is imported only on a
GPU machine that selects it. Third-party backends register through the ``harness.backends`` entry-point
group (value: ``"package.module:ClassName"``).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from harness.backends.base import Backend, GenerationRequest, Message, Sample, SamplingParams

# name -> "module:Class"; strings so that optional stacks are imported only when selected.
_BUILTIN: dict[str, str] = {
    "hf": "harness.backends.hf:HFBackend",
    "vllm": "harness.backends.vllm:VLLMBackend",
    "openai": "harness.backends.openai:OpenAIBackend",
}


def available_backends() -> dict[str, str]:
    """All backend names with their import targets (built-ins plus entry points)."""
    found = dict(_BUILTIN)
    for ep in entry_points(group="harness.backends"):
        found.setdefault(ep.name, ep.value)
    return found


def get_backend(name: str, model: str, **options: Any) -> Backend:
    """Instantiate a backend by name. Raises a clear error for unknown names or missing stacks."""
    targets = available_backends()
    if name not in targets:
        raise ValueError(f"unknown backend {name!r}; choose one of {sorted(targets)}")
    module_name, _, cls_name = targets[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(
            f"backend {name!r} needs an optional dependency that is not installed ({exc}). "
            f"Install it, e.g. `pip install 'int-harness[{name}]'`."
        ) from exc
    return getattr(module, cls_name)(model, **options)


__all__ = ["Backend", "GenerationRequest", "Message", "Sample", "SamplingParams", "available_backends", "get_backend"]
