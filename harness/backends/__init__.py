"""Generation backends behind one interface, registered by name with lazy imports.

``get_backend("hf", model=path)`` imports transformers only when asked; ``vllm`` is imported only on a
GPU machine that selects it. Third-party backends register through the ``harness.backends`` entry-point
group (value: ``"package.module:ClassName"``).
"""

from __future__ import annotations

import re
from typing import Any

from harness.backends.base import (
    Backend,
    GenerationRequest,
    Message,
    Sample,
    SamplingParams,
    generate_within_window,
)
from harness.registry import Registry

# name -> "module:Class"; strings so that optional stacks are imported only when selected.
_BUILTIN: dict[str, str] = {
    "hf": "harness.backends.hf:HFBackend",
    "vllm": "harness.backends.vllm:VLLMBackend",
    "openai": "harness.backends.openai:OpenAIBackend",
}


BACKENDS: Registry[type[Backend]] = Registry("backend", "harness.backends", builtins=_BUILTIN)


def register_backend(name: str, cls: type[Backend]) -> type[Backend]:
    """Add a backend in-process (tests, notebooks); packages use the ``harness.backends`` entry-point group."""
    return BACKENDS.register(name, cls)


def available_backends() -> dict[str, str]:
    """All backend names with their import targets (built-ins plus entry points)."""
    return BACKENDS.targets()


def _target(name: str) -> str:
    targets = available_backends()
    if name not in targets:
        raise BACKENDS.unknown(name)
    return targets[name]


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?")
LOCAL_BACKENDS = ("hf", "vllm")  # backends that load the named weights themselves


def check_model(name: str, model: str) -> None:
    """Fail early, in one line, on a backend that does not exist or a model it cannot possibly load: a
    local-looking path that does not exist, or (offline) a hub id that is not in the local hub cache."""
    import os

    from harness.models import model_scheme

    check_available(name)
    if name not in LOCAL_BACKENDS or model_scheme(model):
        return
    if os.path.isdir(os.path.expanduser(model)):
        return
    if model.startswith((".", "/", "~")) or not _HUB_ID.fullmatch(model):
        raise ValueError(f"model {model!r}: no such model folder (and not a hub id of the form org/name)")
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(model.split("@")[0], "config.json"), str):
            raise ValueError(f"model {model!r}: not in the local hub cache, and HF_HUB_OFFLINE is set")


def check_available(name: str) -> None:
    """Fail early, in one line, when the backend's stack is not installed. A backend class lists what it
    imports lazily as ``requires = ((module, install hint), ...)``; `importlib.util.find_spec` checks them
    without importing (vLLM's import alone takes seconds and may touch the GPU)."""
    from importlib.util import find_spec

    for module, hint in getattr(get_backend_class(name), "requires", ()):
        try:
            found = find_spec(module)
        except ValueError:  # in sys.modules without a spec (a test double): present
            continue
        if found is None:
            raise ImportError(f"the {name!r} backend needs {module}, which is not installed: {hint}")


def check_options(name: str, options: dict[str, Any]) -> None:
    """Fail early, in one line, on an option the backend's constructor does not take: a typo in
    ``backend_options`` would otherwise surface as a TypeError only when the model is loaded, after the
    run folder exists."""
    import inspect

    params = inspect.signature(get_backend_class(name).__init__).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    known = [p for p in params if p not in ("self", "model")]
    for key in options:
        if key not in known:
            raise ValueError(f"backend {name!r} has no option {key!r}; its options: {', '.join(known)}")


def get_backend_class(name: str) -> type[Backend]:
    """The backend class registered under ``name`` (imports its module, not its stack's heavy parts
    where the module defers them)."""
    _target(name)
    try:
        return BACKENDS.get(name)
    except ImportError as exc:
        raise ImportError(
            f"backend {name!r} needs an optional dependency that is not installed ({exc}). "
            f"Install it, e.g. `pip install 'int-harness[{name}]'`."
        ) from exc


def get_backend(name: str, model: str, **options: Any) -> Backend:
    """Instantiate a backend by name; ``model`` may name a model source (``world:default``, see
    `harness.models`). Raises a clear error for unknown names or missing stacks."""
    from harness.models import resolve_model

    cls = get_backend_class(name)
    if getattr(cls, "loads_weights", True):  # remote backends take the served name verbatim
        model = resolve_model(model)
    return cls(model, **options)


__all__ = [
    "BACKENDS", "Backend", "GenerationRequest", "Message", "Sample", "SamplingParams", "available_backends",
    "check_available", "check_model", "check_options", "generate_within_window", "get_backend", "get_backend_class",
    "register_backend",
]
