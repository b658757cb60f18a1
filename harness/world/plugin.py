"""What the embedded world contributes to the harness's generic registries, as plain data.

Each name below is an entry point of the package (pyproject.toml), in the same groups any other package
uses to bring its own defaults -- generic code never names the world:

* ``harness.compare_defaults``: `COMPARE_DEFAULTS` -- what `harness compare` runs when a config leaves a
  field unset (the base model, the training problems, the frozen evaluation protocol and its 192-token
  budget, the trainer and InT presets);
* ``harness.trainer_presets``: `TRAINER_PRESET` (``embedded``) -- the paper's SFT/RL algorithm at sizes a
  1M-parameter model trains with on 2 CPU cores in minutes;
* ``harness.int_presets``: `INT_PRESET` (``world``) -- the InT protocol at the world's sizes (a YAML file);
* ``harness.proposal_templates``: `COMPACT_TEMPLATES` (``compact``) -- the one-turn verification and
  reflection prompts the world model was trained on.

Importing this module imports nothing else: registries load one name at a time.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent

COMPARE_DEFAULTS = {
    "base_model": "world:default",
    # the world's hard levels, like the paper's hard set
    "train": {"task": "world@hard", "split": "train", "per_category": 16},
    # every level, 16 test problems each, avg@8; a level-8 world solution is ~80 tokens
    "eval": {"tasks": ["world"], "split": "test", "per_category": 16, "samples": 8, "sampling": {"max_tokens": 192}},
    "trainer_preset": "embedded",
    "steps": {"int": {"preset": "world"}},  # every int (and reflect) step starts from the world's InT preset
}

TRAINER_PRESET = {
    "sft": {
        "learning_rate": 1e-4,  # the RL learning rate, as in the paper (both 1e-6 there)
        "num_epochs": 2,
        "effective_batch_size": 8,
        "per_device_batch_size": 8,
        "max_length": 512,
    },
    "rl": {
        "learning_rate": 1e-4,
        "group_size": 8,
        "prompts_per_step": 8,
        "mini_batch_prompts": 8,
        "per_device_batch_size": 64,
        "max_steps": 12,  # equal for every arm; at 40 steps RL-only and InT+RL both saturate (~100%) on the world
        "max_new_tokens": 112,  # a level-8 world solution is ~80 tokens
    },
}

INT_PRESET = HERE / "int_preset.yaml"

# No guided-solve turn: the reference is exact step by step, so there is nothing to work out first.
COMPACT_TEMPLATES = {"folder": HERE / "prompts", "solve": None, "verify": "compact_verify.jinja",
                     "reflect": "compact_reflect.jinja"}
