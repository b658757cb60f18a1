"""Parse a proposer's ``<intervention>{"content": ..., "location": N}</intervention>`` block.

Real models write this block badly in many small ways: LaTeX backslashes that are invalid (``\\sqrt``) or,
worse, *valid* JSON escapes that silently corrupt the text (``\\frac`` = form feed + "rac"), locations
written as ``"Substep 5"``, Python dicts, code fences, prose around the JSON, unescaped quotes, or a
block cut off by the token budget. The paper's notebook repairs some of these and drops the rest
silently; here every output gets a `ParseResult`, failures keep their reason, and the repair that
succeeded is recorded so parse quality can be tracked per proposer.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from dataclasses import asdict, dataclass
from typing import Any

_BLOCK = re.compile(r"<intervention>(.*?)</intervention>", re.DOTALL | re.IGNORECASE)
_OPEN = re.compile(r"<intervention>", re.IGNORECASE)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_INT = re.compile(r"-?\d+")

# LaTeX commands that begin with a letter JSON treats as an escape (\b \f \n \r \t, and \u without hex).
# "\frac" must stay "\frac", not become form feed + "rac"; "\n" followed by prose stays a newline.
_LATEX_ESCAPE_COLLISIONS = frozenset(
    """
    b bar beta bf big Big bigg Bigg bigl bigr bigcup bigcap binom bmod boldsymbol bot bowtie boxed bullet bmatrix
    f frac forall flat frown footnotesize
    n nabla natural ne neg neq nexists ni nmid not notin nu nearrow newline ngeq nleq noindent nolimits
    r rangle rbrace rbrack rceil rfloor rho right rightarrow Rightarrow rightleftharpoons rm
    t tan tanh tau text textbf textit textrm textsf texttt tfrac theta therefore tilde times to top triangle
    triangleq tt
    u underbrace underline uparrow Uparrow upsilon uplus
    """.split()
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_LETTERS = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class ParseResult:
    """Outcome of parsing one proposer output.

    ``ok`` means content and a positive integer location were recovered. ``content == ""`` with ``ok``
    is the proposer saying "no critical error" (the paper leaves the intervention empty then).
    ``reason`` names the failure (``no_block``, ``truncated``, ``not_json``, ``missing_content``,
    ``missing_location``, ``bad_location``); ``method`` names what worked (``json``, ``json_repaired``,
    ``literal_eval``, ``regex``); ``truncated`` marks a block without its closing tag.
    """

    ok: bool
    content: str | None = None
    location: int | None = None
    reason: str = ""
    method: str = ""
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_intervention(text: str) -> ParseResult:
    """Parse the *last* intervention block in ``text`` (earlier ones are drafts or echoed instructions)."""
    closed = list(_BLOCK.finditer(text))
    opens = list(_OPEN.finditer(text))
    last_closed_end = closed[-1].end() if closed else -1
    if opens and opens[-1].start() >= last_closed_end:
        # An opening tag after the last complete block: the output was cut off inside the final block.
        body, truncated = text[opens[-1].end() :], True
    elif closed:
        # A stray opening tag earlier (e.g. inside a think block) makes the lazy match start too early.
        body, truncated = _OPEN.split(closed[-1].group(1))[-1], False
    else:
        return ParseResult(False, reason="no_block")
    result = _parse_body(body)
    if truncated:
        if not result.ok:
            return ParseResult(False, reason="truncated", truncated=True)
        return ParseResult(True, result.content, result.location, method=result.method, truncated=True)
    return result


def _parse_body(body: str) -> ParseResult:
    body = _FENCE.sub("", body.strip()).strip()
    start = body.find("{")
    if start < 0:
        return ParseResult(False, reason="not_json")
    candidate = body[start:]
    repaired = _repair_backslashes(candidate)
    obj = _load_json(repaired)
    method = "json" if repaired == candidate else "json_repaired"
    if not isinstance(obj, dict):
        obj, method = _load_json(re.sub(r",\s*}", "}", repaired)), "json_repaired"  # trailing comma
    if not isinstance(obj, dict):
        obj, method = _load_python(repaired), "literal_eval"
    if isinstance(obj, dict):
        return _from_mapping(obj, method)
    return _from_regex(candidate)


def _load_json(text: str) -> Any:
    try:
        obj, _ = json.JSONDecoder(strict=False).raw_decode(text)  # raw_decode ignores trailing prose
        return obj
    except json.JSONDecodeError:
        return None


def _load_python(text: str) -> Any:
    """The paper's parser: a Python dict literal (single quotes, triple quotes)."""
    end = _matching_brace(text)
    if end is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes in LaTeX warn
            return ast.literal_eval(text[: end + 1])
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None


def _matching_brace(text: str) -> int | None:
    depth = 0
    for i, ch in enumerate(text):
        depth += (ch == "{") - (ch == "}")
        if depth == 0:
            return i
    return None


def _repair_backslashes(text: str) -> str:
    """Double every backslash that JSON would reject or that begins a LaTeX command colliding with a
    JSON escape; keep ``\\\\``, ``\\"``, ``\\/``, ``\\uXXXX`` and newline/tab escapes before prose."""

    def fix(m: re.Match[str]) -> str:
        ch = m.group(1)
        if ch in "\\\"/'":
            return m.group(0)
        if ch == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[m.end() : m.end() + 4]):
            return m.group(0)
        if ch in "bfnrtu":
            word = _LETTERS.match(text, m.start(1))
            if word is None or word.group(0) not in _LATEX_ESCAPE_COLLISIONS:
                return m.group(0)
        return "\\\\" + ch

    return _ESCAPE.sub(fix, text)


def _from_mapping(obj: dict[Any, Any], method: str) -> ParseResult:
    fields = {str(k).strip().lower(): v for k, v in obj.items()}
    content, location = fields.get("content"), _to_location(fields.get("location"))
    if content is None:
        return ParseResult(False, reason="missing_content", method=method)
    if isinstance(content, (list, tuple)):
        content = "\n".join(str(c) for c in content)
    if not str(content).strip():
        return ParseResult(True, "", None, method=method)  # "no critical error": empty content, any location
    if "location" not in fields or fields.get("location") in (None, ""):
        return ParseResult(False, reason="missing_location", method=method)
    if location is None or location < 1:
        return ParseResult(False, str(content), location, reason="bad_location", method=method)
    return ParseResult(True, str(content).strip(), location, method=method)


def _to_location(value: Any) -> int | None:
    """``5``, ``5.0``, ``"5"``, ``"Substep 5"``, ``"**Substep 5:**"``, ``[5, 6]`` -> 5."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, (list, tuple)):
        return _to_location(value[0]) if value else None
    m = _INT.search(str(value))
    return int(m.group(0)) if m else None


_REGEX_CONTENT = re.compile(
    r"""["']?content["']?\s*:\s*(?P<q>\"\"\"|'''|"|')(?P<body>.*)(?P=q)\s*(?:,\s*["']?location|}|$)""",
    re.DOTALL | re.IGNORECASE,
)
_REGEX_LOCATION = re.compile(
    r"""["']?location["']?\s*:\s*["']?\s*(?:\**\s*(?:sub)?step\s*)?(-?\d+)""", re.IGNORECASE
)


def _from_regex(candidate: str) -> ParseResult:
    """Last resort for almost-JSON (unescaped quotes, bare keys, a location like ``Substep 5`` unquoted)."""
    loc = _REGEX_LOCATION.search(candidate)
    content_m = _REGEX_CONTENT.search(candidate)
    if content_m is None:
        return ParseResult(False, reason="not_json" if loc is None else "missing_content", method="regex")
    content = content_m.group("body")
    # When "location" comes after the content, the greedy body may have swallowed it.
    cut = re.search(r"""(?P<q>["'])\s*,\s*["']?location["']?\s*:.*$""", content, re.DOTALL | re.IGNORECASE)
    if cut:
        content = content[: cut.start()]
    content = _unescape(content)
    if loc is None:
        return ParseResult(False, content, reason="missing_location", method="regex")
    location = int(loc.group(1))
    if location < 1:
        return ParseResult(False, content, location, reason="bad_location", method="regex")
    return ParseResult(True, content.strip(), location, method="regex")


def _unescape(s: str) -> str:
    """Undo the JSON escapes a model meant (quotes, newlines, doubled backslashes), keep LaTeX intact,
    and accept bare quotes (the reason JSON failed in the first place)."""
    tokens = re.findall(r'\\.|\\$|"|[^\\"]+', _repair_backslashes(s), re.DOTALL)
    fixed = "".join('\\"' if t == '"' else "'" if t == "\\'" else "\\\\" if t == "\\" else t for t in tokens)
    try:
        return json.loads('"' + fixed + '"', strict=True)
    except json.JSONDecodeError:
        return s
