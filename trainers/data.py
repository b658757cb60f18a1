"""Reading and checking the trainer-neutral data files (SFT rows, RL problems) before any stack sees them.

Why here and not in each backend: a malformed row should fail with the file, row id and reason, the same
way on every stack, and the length filter must drop the same rows everywhere (TRL would silently
truncate, OpenRLHF silently skips) so that "dataset size" in a report means one thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.rundir import read_jsonl
from trainers.base import RL_FIELDS, SFT_FIELDS


def _require(row: dict[str, Any], fields: tuple[str, ...], where: str) -> None:
    missing = [f for f in fields if f not in row]
    if missing:
        raise ValueError(f"{where}: missing field(s) {', '.join(missing)} (expected {', '.join(fields)})")


def _rows(path: str | Path, fields: tuple[str, ...], what: str, id_field: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) for every row of a non-empty jsonl file whose rows have ``fields``; ``where`` names the
    file, row and id for error messages."""
    rows = read_jsonl(path)
    if not rows:
        raise ValueError(f"{path}: no {what}")
    for i, row in enumerate(rows):
        where = f"{path} row {i} ({id_field}={row.get(id_field)!r})"
        _require(row, fields, where)
        yield where, row


def load_sft_rows(path: str | Path) -> list[dict[str, Any]]:
    """SFT rows with `SFT_FIELDS`; ids and mask must line up and at least one token must be trained."""
    rows = []
    for where, row in _rows(path, SFT_FIELDS, "SFT rows", "id"):
        rows.append(row)
        ids, mask = row["input_ids"], row["loss_mask"]
        if len(ids) != len(mask):
            raise ValueError(f"{where}: input_ids ({len(ids)}) and loss_mask ({len(mask)}) differ in length")
        if not any(mask):
            raise ValueError(f"{where}: loss_mask trains no token")
        if any(m not in (0, 1) for m in mask):
            raise ValueError(f"{where}: loss_mask must hold only 0 and 1")
    return rows


def drop_long(rows: list[dict[str, Any]], max_length: int) -> tuple[list[dict[str, Any]], int]:
    """Rows longer than ``max_length`` are dropped whole (never truncated: a cut target trains a wrong stop)."""
    kept = [r for r in rows if len(r["input_ids"]) <= max_length]
    return kept, len(rows) - len(kept)


def load_rl_rows(path: str | Path) -> list[dict[str, Any]]:
    """RL problems with `RL_FIELDS`: chat ``messages`` (ending in a user turn, or an assistant hint to
    continue) and a gold ``answer``."""
    rows = []
    for where, row in _rows(path, RL_FIELDS, "RL problems", "problem_id"):
        rows.append(row)
        msgs = row["messages"]
        if not isinstance(msgs, list) or not msgs or msgs[-1].get("role") not in ("user", "assistant"):
            raise ValueError(f"{where}: messages must be a non-empty chat list ending with a user (or hint) turn")
        if msgs[-1].get("role") == "assistant" and (len(msgs) < 2 or msgs[-2].get("role") != "user"):
            raise ValueError(f"{where}: a final assistant turn (a hint) must follow the user turn")
        if not str(row["answer"]).strip():
            raise ValueError(f"{where}: empty gold answer")
    return rows


def rl_rows_from_task(problems: Any) -> list[dict[str, Any]]:
    """RL problems from a `tasks.ProblemSet`, rendered with the task's own prompt template (as in evaluation)."""
    from tasks import render_prompt

    task, selected = problems.load()
    return [{"problem_id": p.id, "messages": render_prompt(task, p), "answer": p.answer} for p in selected]
