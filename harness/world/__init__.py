"""The embedded world (see README.md here). Light to import: the builder loads torch only when called."""


def resolve_model(model: str) -> str:
    """``world:<preset>`` -> the cached embedded-world model directory (built on first use); else ``model``.

    Every place that takes a model name accepts ``world:<preset>`` through this one function."""
    if model.startswith("world:"):
        from harness.world.build import build_world

        return str(build_world(preset=model.split(":", 1)[1] or "default"))
    return model
