"""Reading user-written config files and reporting what is wrong with them in one line.

WHY here: `harness eval`, `harness compare` and `harness int` all read YAML written by people. A YAML
syntax error, a list where a mapping belongs or a field pydantic rejects must name the file and the
field, in one line, before any run folder exists -- not a 140-line traceback or a raw pydantic dump with
a link to its docs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError


class ConfigError(ValueError):
    """A config file or value is invalid; the message is one line naming where and what."""


def read_yaml_mapping(path: str | Path, *, what: str = "config") -> dict[str, Any]:
    """A YAML file whose top level is a mapping (``safe_load`` only)."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                          f"save the {what} file as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of {what} fields at top level, got {type(data).__name__}")
    for key in data:
        if not isinstance(key, str):
            raise ConfigError(f"{path}: field names must be text, got {key!r} ({type(key).__name__})")
    return data


def describe_validation_error(exc: ValidationError, *, source: str | None = None) -> str:
    """``<source>: field a.b: <message> (got <value>)`` for the first error, ``+N more`` for the rest."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = ".".join(str(x) for x in first.get("loc", ())) or "(top level)"
    msg = first.get("msg", "invalid value")
    got = first.get("input")
    shown = "" if first.get("type") == "missing" or isinstance(got, dict) else f" (got {got!r})"
    more = f"; and {len(errors) - 1} more" if len(errors) > 1 else ""
    prefix = f"{source}: " if source else ""
    return f"{prefix}{exc.title} field {loc}: {msg}{shown}{more}"


def build(model_cls: type, data: dict[str, Any], *, source: str | None = None) -> Any:
    """``model_cls(**data)`` with a one-line `ConfigError` instead of a pydantic dump."""
    try:
        return model_cls(**data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source=source)) from None
