"""Small InT-shaped data for the trainer tests: SFT rows as the build-sft stage writes them, RL problems.

The SFT rows follow the contract in `trainers.base`: ``input_ids`` = chat-templated prompt + target
(prefix + intervention), tokenized as two pieces and concatenated, no EOS; ``loss_mask`` = 1 on the target.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.rundir import write_jsonl

PROBLEMS = [
    ("p0", "What is 2 + 3?", "5"),
    ("p1", "Compute 7 - 4.", "3"),
    ("p2", "What is 3 * 3?", "9"),
    ("p3", "Find 10 / 5.", "2"),
]


def sft_rows(tokenizer: Any, n: int = 8) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        pid, question, answer = PROBLEMS[i % len(PROBLEMS)]
        prompt_text = tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
        )
        prefix = f"Step 1: we compute the value {i}.\n\n"
        intervention = f"Wait, check it again: the answer is \\boxed{{{answer}}}"
        target = prefix + intervention
        p_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
        t_ids = tokenizer(target, add_special_tokens=False)["input_ids"]
        rows.append(
            {
                "id": f"{pid}-{i}",
                "problem_id": pid,
                "prompt_text": prompt_text,
                "target_text": target,
                "input_ids": p_ids + t_ids,
                "loss_mask": [0] * len(p_ids) + [1] * len(t_ids),
            }
        )
    return rows


def rl_rows() -> list[dict[str, Any]]:
    return [
        {"problem_id": pid, "messages": [{"role": "user", "content": q + " Put the answer in \\boxed{}."}], "answer": a}
        for pid, q, a in PROBLEMS
    ]


def write_sft(tokenizer: Any, path: Path, n: int = 8) -> Path:
    return write_jsonl(path, sft_rows(tokenizer, n))


def write_rl(path: Path) -> Path:
    return write_jsonl(path, rl_rows())
