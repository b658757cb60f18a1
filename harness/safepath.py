"""Names taken from data files that become parts of file paths: checked, never trusted.

Why: a problem id in a benchmark CSV picks the ``problems/<id>.tex`` file to read, and an imported lm-eval
or inspect log picks the ``<task>@<version>/`` folder to write. A value such as ``../../../../evil`` would
read or write outside the data or run directory. Each such name must be one plain path component; a bad
one is rejected with one line naming the file, the row and the field (sanitising silently could merge two
different names into one folder).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

__all__ = ["check_relpath", "safe_component"]

_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


def safe_component(value: object, *, where: str, field: str) -> str:
    """``value`` as a string if it is one harmless path component (letters, digits, ``._+-``, not starting
    with a dot, at most 128 characters), else ValueError naming ``where`` (file and row) and ``field``."""
    text = str(value)
    if not _COMPONENT.fullmatch(text):
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise ValueError(
            f"{where}: field '{field}' is {shown!r}, which cannot name a file or folder "
            "(allowed: letters, digits and . _ + -, not starting with a dot; no path separators)"
        )
    return text


def check_relpath(relpath: str, *, what: str) -> str:
    """A relative path built from data (``aime25/problems/<id>.tex``) with no absolute start and no ``..``."""
    parts = PurePosixPath(relpath.replace("\\", "/")).parts
    if not parts or relpath.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
        raise ValueError(f"{what}: {relpath!r} is not a relative path inside the data directory")
    return relpath

