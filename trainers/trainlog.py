"""The trainer-neutral training log: one writer, one reader, and the key maps from each stack's own logs.

Why: reports and plots read only ``train_log.jsonl``, so a run on TRL, OpenRLHF or a user's plugin is
plotted by the same code; the only place that knows a backend's metric names is its map below.

A training stage never resumes mid-run (both backends train from step 0 again after a crash), so a
`TrainLogWriter` starts a fresh log for its stage: rows a killed attempt left behind are moved aside to
``train_log.attempt-<N>.jsonl`` instead of being mixed with (and, keyed by step, silently preferred to)
the new run's rows. Readers see only the latest attempt; the old one stays on disk for post-mortems.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from harness.rundir import RecordLog, iter_jsonl, write_jsonl
from trainers.base import TrainLogRecord

LOG_NAME = "train_log.jsonl"

_NEUTRAL = {f.name for f in fields(TrainLogRecord)}

# TRL metric name -> neutral field (trl 1.16: SFTTrainer and GRPOTrainer `log` keys).
TRL_KEYS = {
    "loss": "loss",
    "learning_rate": "learning_rate",
    "reward": "reward_mean",
    "reward_std": "reward_std",
    "frac_reward_zero_std": "frac_zero_advantage",
    "completions/mean_length": "response_length_mean",
    "completions/clipped_ratio": "truncation_rate",
    "entropy": "entropy",
    "epoch": "epoch",
}
# Kept verbatim under `extra` (useful, but with no neutral meaning).
TRL_EXTRA = ("grad_norm", "kl", "mean_token_accuracy", "clip_ratio/region_mean", "rewards/correct/mean", "no_answer_rate")

# OpenRLHF 0.11 `✨ Global step N: {...}` status keys -> neutral field.
OPENRLHF_KEYS = {
    "policy_loss": "loss",
    "actor_lr": "learning_rate",
    "rollout/reward_mean": "reward_mean",
    "rollout/reward_std": "reward_std",
    "rollout/response_length_mean": "response_length_mean",
    "rollout/truncated_rate": "truncation_rate",
    "entropy_loss": "entropy",
}
OPENRLHF_EXTRA = ("actor_grad_norm", "kl", "group_reward_std", "timing/step_total", "timing/generation")
# OpenRLHF 0.11 train_sft TensorBoard scalars (``train/<key>``): loss_mean is the mean over one update.
OPENRLHF_SFT_KEYS = {"loss_mean": "loss", "lr": "learning_rate"}
OPENRLHF_SFT_EXTRA = ("grad_norm", "gpt_loss", "aux_loss")


def _clean(value: Any) -> Any:
    """JSON-safe scalars: NaN/inf become None (JSON has no NaN; pandas reads None as missing)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy / torch scalars
        return _clean(value.item())
    return value


def map_metrics(logs: Mapping[str, Any], keymap: Mapping[str, str], extra_keys: tuple[str, ...]) -> dict[str, Any]:
    """Rename a backend's metrics to neutral fields; listed extras go under ``extra``, the rest is dropped."""
    out: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in logs.items():
        if key in keymap and keymap[key] not in out:
            out[keymap[key]] = _clean(value)
        elif key in extra_keys:
            extra[key] = _clean(value)
    if extra:
        out["extra"] = extra
    return out


def _archive_name(path: Path) -> Path:
    n = 1
    while (archive := path.with_name(f"{path.stem}.attempt-{n}{path.suffix}")).exists():
        n += 1
    return archive


class TrainLogWriter:
    """Appends `TrainLogRecord` rows durably to ``<out>/train_log.jsonl`` (one row per step).

    Creating a writer starts a training attempt: rows of ``stage`` already in the log (from an attempt
    that was killed or is being redone) are moved to ``train_log.attempt-<N>.jsonl`` (``archived`` says
    where), rows of other stages stay. ``wall_time`` is measured from construction, so create the writer
    right before training starts.
    """

    def __init__(self, out_dir: str | Path, stage: str) -> None:
        self.path = Path(out_dir) / LOG_NAME
        self.stage = stage
        self.archived = self._set_aside_previous_attempt()
        self._log = RecordLog(self.path, key=lambda r: (r["stage"], r["step"]))
        self._t0 = time.perf_counter()

    def _set_aside_previous_attempt(self) -> Path | None:
        """Crash-safe order: the archive is complete before the log loses those rows; a crash in between
        leaves the old log intact (and, at worst, one extra archive)."""
        if not self.path.exists():
            return None
        rows = list(iter_jsonl(self.path, allow_torn_tail=True))
        mine = [r for r in rows if r.get("stage") == self.stage]
        if not mine:
            return None
        archive = write_jsonl(_archive_name(self.path), mine)
        write_jsonl(self.path, [r for r in rows if r.get("stage") != self.stage])
        return archive

    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    def write(self, step: int, **values: Any) -> TrainLogRecord:
        """Write one row; unknown keys go to ``extra`` so a backend can never break the schema."""
        known = {k: _clean(v) for k, v in values.items() if k in _NEUTRAL and k != "extra"}
        extra = dict(values.get("extra") or {})
        extra.update({k: _clean(v) for k, v in values.items() if k not in _NEUTRAL})
        known.setdefault("wall_time", round(self.elapsed(), 4))
        record = TrainLogRecord(step=step, stage=self.stage, extra=extra, **known)
        self._log.append_many([record.to_dict()])
        return record


def read_train_log(path: str | Path) -> list[TrainLogRecord]:
    """Rows of a neutral log (a run directory or the jsonl itself), in file order."""
    path = Path(path)
    if path.is_dir():
        path = path / LOG_NAME
    names = _NEUTRAL
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                data = json.loads(line)
                rows.append(TrainLogRecord(**{k: v for k, v in data.items() if k in names}))
    return rows


def throughput(records: list[TrainLogRecord]) -> dict[str, float | None]:
    """Steps/s and tokens/s over a log, measured between the first and last row.

    Why not from zero: the first row's wall time includes model loading and the first step's warm-up
    (and, for TRL, dataset preparation), which would understate steady-state speed on short runs.
    """
    if len(records) < 2:
        return {"steps_per_s": None, "trained_tokens_per_s": None, "generated_tokens_per_s": None}
    first, last = records[0], records[-1]
    dt = last.wall_time - first.wall_time
    if dt <= 0:
        return {"steps_per_s": None, "trained_tokens_per_s": None, "generated_tokens_per_s": None}

    def rate(a: int | None, b: int | None) -> float | None:
        return None if a is None or b is None else (b - a) / dt

    return {
        "steps_per_s": (last.step - first.step) / dt,
        "trained_tokens_per_s": rate(first.tokens_trained, last.tokens_trained),
        "generated_tokens_per_s": rate(first.tokens_generated, last.tokens_generated),
    }
