"""Stage yield: what every InT stage took in and let through, from the stage manifests, per arm.

Why a table of its own: InT's SFT data is what survives a long cascade -- rollouts, failed attempts,
proposer requests (cut to the prompt budget, shortened to the context window, or skipped), proposals
(truncated, unparsable, leaking the answer), continuations (the correctness filter), SFT rows (too long for
the trainer). On a model that cannot verify, the cascade ends early -- no proposal parses, nothing to train
on -- and that is a measurement (the paper's "verification ceiling"), not a failure to hide. Every number
comes from the manifests the stages wrote (`harness.intervention`), so the table cannot disagree with them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from reports.load import CompareRun, MissingData, read_json_if

# (stage, yield, where in the gathered dict) in cascade order
ROWS: tuple[tuple[str, str, str], ...] = (
    ("rollout", "problems", "rollout.problems"),
    ("rollout", "rollouts", "rollout.samples"),
    ("rollout", "correct", "rollout.correct"),
    ("rollout", "failed (attempts)", "rollout.failed_attempts"),
    ("rollout", "truncated (hit max_tokens)", "rollout.truncated"),
    ("rollout", "skipped (context window)", "rollout.skipped"),
    ("propose", "attempts sent to the proposer", "propose.attempts"),
    ("propose", "turn 1 (solve) requests", "budget.solve_requests"),
    ("propose", "turn 1 shortened / skipped / truncated", "budget.solve"),
    ("propose", "turn 2 (verify) requests", "budget.verify_requests"),
    ("propose", "turn 2 cut to the prompt budget", "budget.verify_cut"),
    ("propose", "turn 2 shortened to the window", "budget.verify_shortened"),
    ("propose", "turn 2 skipped (no room)", "budget.verify_skipped"),
    ("propose", "proposals", "propose.proposals"),
    ("propose", "proposals truncated (hit max_tokens)", "budget.proposals_truncated"),
    ("propose", "parsed", "propose.parsed"),
    ("propose", "parse failures by reason", "filters.parse_failed_by_reason"),
    ("select", "no critical error (empty)", "filters.no_critical_error"),
    ("select", "location out of range", "filters.location_out_of_range"),
    ("select", "leak-filtered (gold answer in the step)", "filters.leaked"),
    ("select", "selected interventions", "filters.selected"),
    ("continue", "continuations (after the intervention)", "continue.samples"),
    ("continue", "correct continuations", "continue.correct"),
    ("continue", "continuations shortened / skipped / truncated", "continue.budget"),
    ("continue", "control samples (diagnostic)", "continue.controls"),
    ("build-sft", "failed the correctness filter", "sft_filters.failed_correctness"),
    ("build-sft", "special token in target", "sft_filters.special_token_in_target"),
    ("build-sft", "kept (SFT rows)", "sft_filters.kept"),
    ("sft", "rows trained", "sft.rows"),
    ("sft", "dropped for length (over max_length)", "sft.dropped_long"),
)


def _get(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "0"
    return str(value)


def int_run_yields(run_dir: str | Path, label: str = "self") -> dict[str, Any]:
    """The yields of one InT run directory (``harness int run`` or a comparison's ``int`` step) for one
    proposer label: ``{"rollout": ..., "propose": ..., "budget": ..., "filters": ..., "continue": ...,
    "sft_filters": ...}`` from the stage manifests (a stage not yet run is absent)."""
    root = Path(run_dir)
    out: dict[str, Any] = {}
    rollout = read_json_if(root / "rollout" / "manifest.json") or {}
    if rollout.get("counts"):
        out["rollout"] = rollout["counts"]
    propose = read_json_if(root / f"propose-{label}" / "manifest.json") or {}
    if propose.get("counts"):
        counts = propose["counts"]
        out["propose"] = counts
        budget = dict(counts.get("budget") or {})
        if budget:
            budget["solve"] = " / ".join(str(budget.get(f"solve_{k}", 0)) for k in ("shortened", "skipped", "truncated"))
        out["budget"] = budget
    cont = read_json_if(root / f"continue-{label}" / "manifest.json") or {}
    table = cont.get("table1") or {}
    if table:
        out["filters"] = table.get("filters") or {}
        inter = (table.get("conditions") or {}).get("intervention") or {}
        budget = cont.get("budget") or {}
        ib = budget.get("intervention") or {}
        out["continue"] = {
            "samples": inter.get("samples", 0), "correct": inter.get("correct", 0),
            "budget": " / ".join(str(ib.get(k, 0)) for k in ("shortened", "skipped", "truncated")),
            "controls": sum(v.get("samples", 0) for k, v in budget.items() if k != "intervention"),
        }
    for sft_dir in sorted(root.glob(f"build-sft-{label}*")):
        counts = (read_json_if(sft_dir / "manifest.json") or {}).get("counts") or {}
        if counts:
            out["sft_filters"] = counts.get("filters") or {}
            out.setdefault("filters", counts.get("filters") or {})
            break
    return out


def yields_frame(run: CompareRun) -> pd.DataFrame:
    """The stage-yield table of a comparison: one row per (stage, yield), one column per InT arm, seed and
    proposer (an InT folder shared by a compute-matched arm is shown once), with the SFT step's rows and
    length drops from that arm's ``sft`` step. Raises `MissingData` when no arm ran InT."""
    columns: dict[str, dict[str, Any]] = {}
    for arm, propose_dir in run.int_stage_dirs("propose"):
        label = propose_dir.name[len("propose-"):] or "self"
        data = int_run_yields(propose_dir.parent, label)
        step = read_json_if(arm.dir / "sft" / "step.json") or {}
        summary = (step.get("output") or {}).get("summary") or {}
        if summary:
            data["sft"] = {"rows": summary.get("rows", 0 if summary.get("skipped") else None),
                           "dropped_long": summary.get("dropped_long", 0 if summary.get("skipped") else None)}
        columns[f"{arm.recipe} seed {arm.seed}" + ("" if label == "self" else f" ({label})")] = data
    if not columns:
        raise MissingData("no InT stage folders (int/propose-*) in any arm")
    return frame(columns)


def frame(columns: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """The table for gathered yields (`int_run_yields`, one dict per column): stage, yield, one column each."""
    rows = [{"stage": stage, "yield": name, **{col: _fmt(_get(d, path)) for col, d in columns.items()}}
            for stage, name, path in ROWS]
    return pd.DataFrame(rows)


def verification_notes(run: CompareRun) -> list[str]:
    """One line per InT arm whose proposer never produced a usable intervention (nothing parsed, or nothing
    selected): the verification ceiling of that model, measured."""
    notes = []
    for arm, propose_dir in run.int_stage_dirs("propose"):
        label = propose_dir.name[len("propose-"):] or "self"
        data = int_run_yields(propose_dir.parent, label)
        counts = data.get("propose") or {}
        if not counts.get("proposals"):
            continue
        selected = (data.get("filters") or {}).get("selected")
        if counts.get("parsed", 0) == 0:
            truncated = (counts.get("budget") or {}).get("proposals_truncated")
            cut = f" ({truncated} of them stopped at max_tokens)" if truncated else ""
            notes.append(f"{arm.recipe} seed {arm.seed}: no proposal parsed (0 of {counts['proposals']}{cut}) -- the "
                         "model did not verify its own attempts against the reference in the required format: the "
                         "paper's verification ceiling, measured. With no SFT rows the SFT step is skipped, so this arm "
                         "is RL from the base model.")
        elif selected == 0:
            notes.append(f"{arm.recipe} seed {arm.seed}: {counts['parsed']} of {counts['proposals']} proposals parsed but "
                         "none survived the filters: no intervention to train on.")
    return notes


def yields_view(run: CompareRun) -> tuple[pd.DataFrame, str] | None:
    """(the table, its caption with the verification notes) for the report, or None when no arm ran InT."""
    try:
        frame_ = yields_frame(run)
    except MissingData:
        return None
    caption = ("Stage yield of InT (counts from the stage manifests): what each stage took in and let through. "
               "Cut = the proposer prompt was cut to its token budget (fewer substeps shown); shortened = generated "
               "with the room the context window left; skipped = not sent (less room than min_new_tokens).")
    notes = verification_notes(run)
    return frame_, caption + (" " + " ".join(notes) if notes else "")
