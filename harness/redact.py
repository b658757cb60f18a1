"""Credentials out of everything the harness records or logs: URLs, configs, log lines.

Why one module: a ``--base-url http://user:PW@host/v1`` travels through the CLI into a config that is
written to ``manifest.json`` and ``results.json``, into the backend's ``describe()``, and (with ``-v``)
into the HTTP client's log lines. Every place that records or logs calls one of these, so what counts as a
secret is decided here once:

* `redact_url`: a URL without its ``user:password@`` part and without its query string (which is where
  ``?api_key=``/``?sig=`` style tokens live); scheme, host, port and path stay, so the record still says
  which server was used. The userinfo is found by hand, not by ``urlsplit``: a password holding ``/``,
  ``?`` or ``#`` (unencoded, as people type them) ends the authority early for ``urlsplit`` and the rest
  of the password would pass as the path. Everything up to the *last* ``@`` after ``scheme://`` is
  therefore userinfo; an ``@`` in a path or query makes the redacted URL say less, never more;
* `redact_text`: the same for every URL inside a free-text string (log lines, error messages), plus
  secrets outside URLs that servers echo in error text: ``api_key=...``-style parameters (``token``,
  ``sig``, ``password``, ...) and ``Bearer <token>``;
* `redact_secrets`: a config tree (dicts, lists) with `redact_text` applied to every string and values
  under secret-named keys (``api_key``, ``*_token``, ``password`` ...) replaced by `MASK`;
* `install_log_redaction`: a `logging.Filter` on the HTTP client loggers (``httpx``/``httpx2``, ``openai``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["MASK", "install_log_redaction", "redact_secrets", "redact_text", "redact_url"]

MASK = "***"
# Keys whose values are secrets themselves. ``api_key_env`` (the *name* of a variable) and ``max_tokens``
# are not; the patterns are anchored so they stay out.
_SECRET_KEY = re.compile(
    r"^(?:.*_)?(?:api_?key|token|access_token|auth_token|password|passwd|secret|client_secret|authorization|credentials?)$",
    re.IGNORECASE,
)
# scheme://[userinfo@]host... up to whitespace or a quote/bracket that ends a URL in prose.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>()\[\]{}]+")
LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2", "openai", "openai._base_client")


# name=value pairs whose value is a credential, wherever they appear in text (a query string echoed
# without its URL, a form body in an error message). The value runs to '&', whitespace or a quote.
_SECRET_PARAM = re.compile(
    r"(?i)\b((?:[a-z0-9]+[_-])*(?:api[_-]?key|key|token|access[_-]?token|auth|sig|signature|password|passwd|pwd|secret)"
    r"\s*[=:]\s*)([^&\s'\"<>,;)\]}]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9._~+/=-]{4,})")


def redact_url(url: str | None) -> str | None:
    """``http://user:pw@host:8000/v1?token=t`` -> ``http://host:8000/v1`` (None and "" pass through);
    ``http://user:pa/ss@host/v1`` -> ``http://host/v1`` (see the module docstring)."""
    if not url:
        return url
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        rest = rest.rsplit("@", 1)[1]
        url = f"{scheme}://{rest}"
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 literal: say nothing rather than echo it
        return MASK
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))


def redact_text(text: str) -> str:
    """Every URL inside ``text`` redacted with `redact_url`, ``api_key=...``-style values and ``Bearer``
    tokens replaced by `MASK`; the rest of the text unchanged."""
    if "://" in text:
        text = _URL.sub(lambda m: redact_url(m.group()) or "", text)
    if "=" in text or ":" in text:
        text = _SECRET_PARAM.sub(lambda m: m.group(1) + MASK, text)
    if "earer" in text or "EARER" in text:
        text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact_secrets(obj: Any) -> Any:
    """A copy of a config tree safe to write down: strings through `redact_text`, values under
    secret-named keys replaced by `MASK`. Use it on anything recorded (``config.model_dump()``,
    ``backend_options``)."""
    if isinstance(obj, Mapping):
        return {
            k: (MASK if isinstance(k, str) and _SECRET_KEY.match(k) and v not in (None, "") else redact_secrets(v))
            for k, v in obj.items()
        }
    if isinstance(obj, (list, tuple)):
        return type(obj)(redact_secrets(v) for v in obj)
    if isinstance(obj, str):
        return redact_text(obj)
    return obj


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with `redact_text` (formatting it first, so arguments are covered)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the logging module's business
            return True
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


_FILTER = RedactingFilter()


def install_log_redaction(names: tuple[str, ...] = LOGGERS) -> None:
    """Attach the redacting filter to the named loggers (idempotent). Logger filters only see records
    logged by that exact logger, hence the explicit list of the HTTP clients' logger names."""
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
