"""The embedded world (see README.md here). Light to import: the builder loads torch only when called.

The rest of the harness reaches the world only through interfaces any package could implement: the
``world`` model-source scheme (``world:<preset>``, entry point ``harness.model_sources``), the task
versions and capabilities registered by ``tasks/world.py``, the ``world`` CLI sub-app (entry point
``harness.commands``) and the InT preset file ``harness/intervention/presets/world.yaml`` (data).
"""


def model_source(preset: str, build: bool = True) -> str | None:
    """``world:<preset>`` -> the cached embedded-world model directory (built on first use); with
    ``build=False``, the folder only if it is already built, else None."""
    from harness.world.build import build_world, cached_world

    if not build:
        found = cached_world(preset or "default")
        return str(found) if found else None
    return str(build_world(preset=preset or "default", quiet_if_cached=True))
