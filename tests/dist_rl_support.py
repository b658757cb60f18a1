"""Run by `tests/test_trainers_dist.py` under ``torch.distributed.run`` (1 or 2 CPU processes, gloo): one TRL
GRPO run on the tiny model with a token budget; every rank writes what it saw to ``<out>/rank-<r>.json``.

Every completion is exactly ``max_new_tokens`` long (``min_new_tokens`` suppresses the end-of-turn), so the
generated-token total of a run is fixed by its steps -- whatever each process happens to sample -- and a
1-process and a 2-process run can be compared token for token."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(model: str, problems: str, out: str, budget: int, max_steps: int) -> None:
    from trainers.presets import get_config
    from trainers.trl_backend import TRLTrainer, _finish

    config = get_config("embedded", "rl", max_steps=max_steps, group_size=4, prompts_per_step=4, mini_batch_prompts=4,
                        per_device_batch_size=8, max_new_tokens=8, max_generated_tokens=budget,
                        backend_args={"generation_kwargs": {"min_new_tokens": 8}})
    trainer, info = TRLTrainer().build_grpo_trainer(model, Path(problems), config, Path(out))
    trainer.train()
    counters = info["counters"]
    local = counters.tokens_generated
    result = _finish(trainer, info["tokenizer"], Path(out), info["writer"], trainer.state.global_step, 0.0,
                     counters=counters)
    rank = int(os.environ.get("RANK", "0"))
    Path(out, f"rank-{rank}.json").write_text(json.dumps({
        "rank": rank, "world": int(os.environ.get("WORLD_SIZE", "1")), "global_step": trainer.state.global_step,
        "local_tokens_generated": local, "tokens_generated": result.tokens_generated,
        "tokens_trained": result.tokens_trained, "samples_graded": result.extra["samples_graded"],
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
