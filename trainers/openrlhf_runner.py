"""Launch an OpenRLHF command, stream its output, and write the neutral log while it runs.

Why streaming: an RL run lasts hours; the neutral log (and so `harness` reports) must grow with it, and
the user must see OpenRLHF's own progress. Output is also kept in ``openrlhf/<stage>.log`` for debugging.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

from trainers.openrlhf_logs import (
    SampleLogReader,
    parse_step_line,
    read_tensorboard_scalars,
    zero_advantage_fraction,
)
from trainers.trainlog import (
    OPENRLHF_EXTRA,
    OPENRLHF_KEYS,
    OPENRLHF_SFT_EXTRA,
    OPENRLHF_SFT_KEYS,
    TrainLogWriter,
    map_metrics,
)


class RLLogConverter:
    """Feeds `Global step` lines (and the reward sample log) into the neutral writer."""

    def __init__(self, writer: TrainLogWriter, samples: SampleLogReader | None, group_size: int | None) -> None:
        self.writer = writer
        self.samples = samples
        self.group_size = group_size
        self.steps = 0
        self.tokens_generated = 0
        self.tokens_trained = 0

    def feed(self, line: str) -> bool:
        """Consume one output line; True when it was a step line (and a row was written)."""
        parsed = parse_step_line(line)
        if parsed is None:
            return False
        step, status = parsed
        row = map_metrics(status, OPENRLHF_KEYS, OPENRLHF_EXTRA)
        n = status.get("rollout/num_samples") or 0
        self.tokens_generated += round((status.get("rollout/response_length_mean") or 0) * n)
        self.tokens_trained += round((status.get("total_length") or 0) * n)
        if self.samples is not None and self.group_size:
            row["frac_zero_advantage"] = zero_advantage_fraction(self.samples.next_step(), self.group_size)
        self.writer.write(step, tokens_generated=self.tokens_generated, tokens_trained=self.tokens_trained, **row)
        self.steps = step
        return True


def convert_sft_tensorboard(tb_dir: Path, writer: TrainLogWriter) -> int:
    """Write one neutral row per logged SFT step from OpenRLHF's TensorBoard scalars; returns the last step."""
    last = 0
    for step, tags in sorted(read_tensorboard_scalars(tb_dir).items()):
        metrics = {k.removeprefix("train/"): v for k, v in tags.items() if k.startswith("train/")}
        if not metrics:
            continue
        row = map_metrics(metrics, OPENRLHF_SFT_KEYS, OPENRLHF_SFT_EXTRA)
        writer.write(step, **row)
        last = step
    return last


def run_and_convert(stage: str, cmd: list[str], out_dir: Path, writer: TrainLogWriter, paths: dict[str, Path],
                    group: tuple[int, int] | None) -> tuple[int, dict[str, Any]]:
    """Run ``cmd`` to completion; raise with the output tail if it fails. Returns (steps, token totals)."""
    log_path = out_dir / "openrlhf" / f"{stage}.log"
    samples = None
    if group is not None and "reward_samples" in paths:
        Path(paths["reward_samples"]).unlink(missing_ok=True)  # a fresh run counts its own samples only
        samples = SampleLogReader(Path(paths["reward_samples"]), group[1])
    converter = RLLogConverter(writer, samples, group[0] if group else None)
    tail: deque[str] = deque(maxlen=40)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "w", encoding="utf-8") as log, subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=env
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            tail.append(line)
            sys.stderr.write(line)
            if stage == "rl":
                converter.feed(line)
        rc = proc.wait()
    if rc != 0:
        raise RuntimeError(f"OpenRLHF {stage} exited with {rc} (full output: {log_path}):\n{''.join(tail)}")
    if stage == "sft":
        return convert_sft_tensorboard(out_dir / "openrlhf" / "tensorboard", writer), {}
    return converter.steps, {"tokens_generated": converter.tokens_generated, "tokens_trained": converter.tokens_trained}
