"""Credentials never reach artifacts or logs: one redaction rule for URLs and option mappings.

A ``--base-url`` may carry ``user:password@`` and a query may carry ``api_key=...``; every place that
records a config (manifests, results) or logs a URL passes it through here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# a field *named* like a secret: api_key, hf_token, password, ... (not max_tokens, not api_key_env)
SECRET_KEY = re.compile(r"(^|[_-])(api_?key|key|token|secret|password|passwd|authorization|auth|credentials?)$", re.IGNORECASE)
REDACTED = "***"


def redact_url(url: str) -> str:
    """``http://user:pw@host/v1?api_key=x`` -> ``http://***@host/v1?api_key=***``; other text unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if SECRET_KEY.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with secret-named values dropped to ``***`` and every URL-looking string redacted."""
    out: dict[str, Any] = {}
    for k, v in options.items():
        if SECRET_KEY.search(str(k)):
            out[k] = REDACTED
        elif isinstance(v, Mapping):
            out[k] = redact_options(v)
        elif isinstance(v, str) and "://" in v:
            out[k] = redact_url(v)
        else:
            out[k] = v
    return out


def redact_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A config dump fit to be written to disk (nested mappings included)."""
    return redact_options(config)
