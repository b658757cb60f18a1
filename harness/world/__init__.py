"""The embedded world (see README.md here). Light to import: the builder loads torch only when called.

The rest of the harness reaches the world only through interfaces any package could implement: the
``world`` model-source scheme (``world:<preset>``, entry point ``harness.model_sources``), the task
versions and capabilities registered by ``tasks/world.py``, the ``world`` CLI sub-app (entry point
``harness.commands``) and, as data (`harness.world.plugin`), the comparison defaults, the ``embedded``
trainer preset, the ``world`` InT preset and the ``compact`` proposal prompts (entry points
``harness.compare_defaults``, ``harness.trainer_presets``, ``harness.int_presets``,
``harness.proposal_templates``).
"""


def model_source(preset: str, build: bool = True) -> str | None:
    """``world:<preset>`` -> the cached embedded-world model directory (built on first use); with
    ``build=False``, the folder only if it is already built, else None."""
    from harness.world.build import build_world, cached_world

    if not build:
        found = cached_world(preset or "default")
        return str(found) if found else None
    return str(build_world(preset=preset or "default", quiet_if_cached=True))
