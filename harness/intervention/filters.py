"""From proposals to interventions: the filter cascade shared by the continue and build-sft stages.

Why one function: the continue stage spends most of the compute (32 continuations per intervention),
so it must run on exactly the interventions build-sft will consider, and both must report the same
counts. Order follows the paper's notebooks: parse -> (empty = "no critical error") -> location range
-> answer leakage -> one intervention per (problem, attempt), the first usable proposal winning.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from harness.intervention.steps import valid_location

FILTER_ORDER = (
    "proposals",
    "parse_failed",
    "no_critical_error",
    "location_out_of_range",
    "leaked",
    "duplicate",
    "selected",
)


def leaks(content: str, answer: str, how: str = "substring") -> bool:
    """Does the intervention give the gold answer away? ``substring`` is the paper's check (the gold
    string anywhere in the content); ``boxed`` only counts a ``\\boxed{gold}`` (for worlds whose answers
    are tiny integers that every step line contains)."""
    gold = str(answer).strip()
    if not gold:
        return False
    if how == "substring":
        return gold in content
    if how == "boxed":
        return any(m.strip() == gold for m in re.findall(r"\\boxed\{([^{}]*)\}", content))
    raise ValueError(f"unknown leak check {how!r}")


def select_interventions(
    proposals: Iterable[Mapping[str, Any]],
    attempts: Mapping[str, Mapping[str, Any]],
    *,
    leak_filter: bool = True,
    leak_match: str = "substring",
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Apply the cascade; return the kept interventions (one per attempt, in attempt order) and counts.

    Counts: each stage of `FILTER_ORDER`, plus ``parse_failed_by_reason``. Every proposal lands in
    exactly one bucket, so the buckets sum to ``proposals``.
    """
    counts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    chosen: dict[str, dict[str, Any]] = {}
    ordered = sorted(proposals, key=lambda p: (attempts[p["attempt_id"]]["order"], p["proposal_index"]))
    for prop in ordered:
        counts["proposals"] += 1
        parse = prop["parse"]
        attempt = attempts[prop["attempt_id"]]
        if not parse["ok"]:
            counts["parse_failed"] += 1
            reasons[parse["reason"]] += 1
        elif not parse["content"]:
            counts["no_critical_error"] += 1
        elif not valid_location(attempt["attempt"], parse["location"]) or _past_shown(prop, parse["location"]):
            counts["location_out_of_range"] += 1
        elif leak_filter and leaks(parse["content"], attempt["answer"], leak_match):
            counts["leaked"] += 1
        elif prop["attempt_id"] in chosen:
            counts["duplicate"] += 1
        else:
            counts["selected"] += 1
            chosen[prop["attempt_id"]] = {
                "attempt_id": prop["attempt_id"],
                "problem_id": attempt["problem_id"],
                "proposal_index": prop["proposal_index"],
                "content": parse["content"],
                "location": parse["location"],
            }
    out = {k: counts.get(k, 0) for k in FILTER_ORDER}
    out["parse_failed_by_reason"] = dict(sorted(reasons.items()))
    return list(chosen.values()), out


def _past_shown(prop: Mapping[str, Any], location: int) -> bool:
    """A location beyond what the proposer was shown of a cut attempt (it cannot know that step)."""
    shown = prop.get("shown_substeps")
    return shown is not None and shown < prop.get("n_substeps", shown) and location > shown
