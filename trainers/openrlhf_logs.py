"""Turning OpenRLHF's own output into neutral log rows.

Sources (OpenRLHF 0.11):
* RL: ``train_ppo_ray`` prints ``✨ Global step N: {status dict}`` once per rollout batch (ppo_trainer.py).
* RL: our reward file logs one line per graded sample, from which the zero-advantage fraction is exact:
  in synchronous mode every step grades exactly prompts_per_step x group_size samples, in order.
* SFT: ``train_sft`` reports per-step scalars only to TensorBoard, so we read its event files. The
  reader below is a small TFRecord/protobuf decoder (the wire format is frozen), so converting a log
  needs neither tensorflow nor tensorboard installed.
"""

from __future__ import annotations

import ast
import json
import re
import struct
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

STEP_LINE = re.compile(r"Global step (\d+): (\{.*\})\s*$")
_NONFINITE = re.compile(r"(?<![\w'\"])(nan|inf|-inf)(?![\w'\"])")


def parse_step_line(line: str) -> tuple[int, dict[str, Any]] | None:
    """``(step, status)`` from a ``Global step N: {...}`` line, or None for any other line."""
    m = STEP_LINE.search(line)
    if not m:
        return None
    text = _NONFINITE.sub("None", m.group(2))  # repr(float('nan')) is not a Python literal
    try:
        status = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return int(m.group(1)), {k: v for k, v in status.items() if isinstance(v, (int, float)) or v is None}


def zero_advantage_fraction(samples: list[dict[str, Any]], group_size: int) -> float | None:
    """Fraction of groups whose rewards are all equal (their advantages are all zero)."""
    by_prompt: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in samples:
        by_prompt[(s["prompt"], s["label"])].append(float(s["reward"]))
    groups = [rs[i:i + group_size] for rs in by_prompt.values() for i in range(0, len(rs), group_size)]
    if not groups:
        return None
    return sum(len(set(g)) == 1 for g in groups) / len(groups)


class SampleLogReader:
    """Reads the reward file's sample log incrementally, one RL step's worth of samples at a time."""

    def __init__(self, path: Path, samples_per_step: int) -> None:
        self.path = path
        self.samples_per_step = samples_per_step
        self._offset = 0
        self._buffer: list[dict[str, Any]] = []

    def _read_new(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
        complete = chunk[: chunk.rfind("\n") + 1]
        self._offset += len(complete.encode("utf-8"))
        self._buffer.extend(json.loads(line) for line in complete.splitlines() if line.strip())

    def next_step(self) -> list[dict[str, Any]]:
        """The next step's samples; fewer if the log has fewer (an interrupted or async run)."""
        self._read_new()
        take, self._buffer = self._buffer[: self.samples_per_step], self._buffer[self.samples_per_step:]
        return take


# ---- TensorBoard event files ------------------------------------------------------------------------

def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value) of a protobuf message; length-delimited values stay bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield num, wire, value


def _summary_values(summary: bytes) -> Iterator[tuple[str, float]]:
    for num, _, value in _fields(summary):
        if num != 1:  # Summary.value
            continue
        tag, scalar = None, None
        for vnum, wire, v in _fields(value):
            if vnum == 1:  # Value.tag
                tag = v.decode("utf-8")
            elif vnum == 2 and wire == 5:  # Value.simple_value
                scalar = struct.unpack("<f", v)[0]
            elif vnum == 8:  # Value.tensor (new-style scalars): float_val (5) / double_val (6)
                for tnum, _, tv in _fields(v):
                    if tnum == 5:
                        scalar = struct.unpack("<f", tv[:4])[0]
                    elif tnum == 6:
                        scalar = struct.unpack("<d", tv[:8])[0]
        if tag is not None and scalar is not None:
            yield tag, scalar


def read_tensorboard_scalars(log_dir: Path) -> dict[int, dict[str, float]]:
    """``{step: {tag: value}}`` from every ``events.out.tfevents.*`` file under ``log_dir``."""
    out: dict[int, dict[str, float]] = defaultdict(dict)
    for path in sorted(Path(log_dir).rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        i = 0
        while i + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[i:i + 8])
            record = data[i + 12:i + 12 + length]  # skip the length's masked CRC
            i += 12 + length + 4  # and the record's
            if len(record) < length:
                break  # a torn tail from a live writer
            step, summary = 0, None
            for num, _, value in _fields(record):
                if num == 2:
                    step = value
                elif num == 5:
                    summary = value
            if summary is not None:
                out[step].update(_summary_values(summary))
    return dict(out)
