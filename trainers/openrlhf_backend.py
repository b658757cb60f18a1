"""OpenRLHF backend: data files, a reward file and the exact ``train_sft`` / ``train_ppo_ray`` commands.

OpenRLHF (0.10.2+, dotted flags) runs out of process, in its own environment (flash-attn, deepspeed,
ray, pinned transformers): the harness never imports it. It writes inputs, builds commands, checks
every flag against OpenRLHF's own parser when the wheel is importable (`trainers.openrlhf_args`), then
prints them (dry run) or launches them, streams their output and converts it to the neutral log.

Choices (anchors.md B.2, int-paper.md 2.6-2.7):
* SFT rows are a two-message conversation [rendered prompt, trained target] rendered with an identity
  chat template in multiturn mode: no chat template is applied on top of our pre-rendered prompt, and
  the loss covers exactly the target. (Single-turn mode always trains an appended EOS: pitfall B.)
* RL advantage 'mean' -> estimator ``dr_grpo`` (reward - group mean, no std, no whitening);
  'group_norm' -> ``group_norm``. KL off unless kl_coef > 0 (then GRPO's k3 KL loss).
* Layout: every model colocated on each node's GPUs with vLLM and DeepSpeed sleep (one GPU works);
  several nodes go through ``ray job submit``.
"""

from __future__ import annotations

import logging
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.rundir import atomic_write_json, atomic_write_text, write_jsonl
from trainers.base import RLConfig, SFTConfig, TrainerPlugin, TrainResult
from trainers.data import drop_long, load_rl_rows, load_sft_rows
from trainers.trainlog import TrainLogWriter

log = logging.getLogger(__name__)

# Renders [prompt, target] as prompt + target, verbatim; with add_generation_prompt it adds nothing.
IDENTITY_TEMPLATE = "{% for message in messages %}{{ message['content'] }}{% endfor %}"


@dataclass
class Launch:
    """Where and how to run OpenRLHF; defaults come from HARNESS_OPENRLHF_* environment variables."""

    python: str = field(default_factory=lambda: os.environ.get("HARNESS_OPENRLHF_PYTHON", sys.executable))
    ray_address: str | None = field(default_factory=lambda: os.environ.get("HARNESS_OPENRLHF_RAY_ADDRESS"))
    num_nodes: int = field(default_factory=lambda: int(os.environ.get("HARNESS_OPENRLHF_NODES", "1")))
    gpus_per_node: int = field(default_factory=lambda: int(os.environ.get("HARNESS_OPENRLHF_GPUS", "1")))
    hostfile: str | None = field(default_factory=lambda: os.environ.get("HARNESS_OPENRLHF_HOSTFILE"))  # SFT, multi-node
    vllm_gpu_memory_utilization: float = 0.5


def _load_tokenizer(model: str) -> Any | None:
    """The model's tokenizer when it is available locally (for length limits and the SFT round-trip check)."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(model, local_files_only=True)
    except Exception:
        return None


def _flags(pairs: dict[str, Any]) -> list[str]:
    """``{"a.b": 1, "c": True, "d": False}`` -> ``["--a.b", "1", "--c"]`` (False/None flags are omitted)."""
    out: list[str] = []
    for key, value in pairs.items():
        if value is None or value is False:
            continue
        out.append(f"--{key}")
        if isinstance(value, (list, tuple)):
            out.extend(str(v) for v in value)
        elif value is not True:
            out.append(str(value))
    return out


def _sft_conversation(row: dict[str, Any], tokenizer: Any | None) -> list[dict[str, str]]:
    """[prompt, target] split where the loss mask starts; the mask must train one span to the end."""
    mask = row["loss_mask"]
    k = mask.index(1)
    if any(m != 1 for m in mask[k:]):
        raise ValueError(f"row {row['id']!r}: OpenRLHF trains one response span; the loss mask has gaps")
    if tokenizer is not None:
        prompt, target = tokenizer.decode(row["input_ids"][:k]), tokenizer.decode(row["input_ids"][k:])
    else:
        prompt, target = row["prompt_text"], row["target_text"]
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": target}]


def sft_roundtrip_ok(row: dict[str, Any], conv: list[dict[str, str]], tokenizer: Any) -> bool:
    """Would OpenRLHF's SFTDataset train exactly this row's target ids? It re-tokenizes prompt and target
    separately for the mask and ``(prompt + target).rstrip("\\n") + " " + eos`` for the ids."""
    prompt, target = conv[0]["content"], conv[1]["content"]
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    n_target = len(tokenizer(target, add_special_tokens=False)["input_ids"])
    text = (prompt + target).rstrip("\n") + " " + tokenizer.eos_token
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    k = row["loss_mask"].index(1)
    return n_prompt == k and ids[: n_prompt + n_target] == row["input_ids"]


class OpenRLHFTrainer(TrainerPlugin):
    """OpenRLHF on Ray/DeepSpeed, out of process. Set ``dry_run = True`` to only write files and commands."""

    name = "openrlhf"
    requires = ("openrlhf", "ray", "deepspeed", "vllm")
    supports = frozenset({"sft", "rl", "dry-run", "multi-node", "vllm"})
    description = "OpenRLHF (>=0.10.2 dotted flags) via subprocess / ray job submit; writes data + reward file"

    def __init__(self, dry_run: bool = False, launch: Launch | None = None) -> None:
        self.dry_run = dry_run
        self.launch = launch or Launch()

    def availability(self) -> tuple[bool, str]:
        """Checked in the OpenRLHF interpreter (HARNESS_OPENRLHF_PYTHON), which may be another venv."""
        probe = "import importlib.util as u,sys;print(','.join(m for m in sys.argv[1:] if u.find_spec(m) is None))"
        try:
            out = subprocess.run([self.launch.python, "-c", probe, *self.requires], capture_output=True,
                                 text=True, timeout=30, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError) as exc:
            return False, f"cannot run {self.launch.python}: {exc}; dry-run works"
        return (not out, "ok" if not out else f"missing in {self.launch.python}: {out.replace(',', ', ')}; dry-run works")

    # ---- command construction ----------------------------------------------------------------------
    @staticmethod
    def check_neutral(config: SFTConfig | RLConfig) -> None:
        """Neutral fields OpenRLHF cannot honour fail here, before a cluster is booked."""
        if config.report_to not in ("none", "tensorboard"):
            raise ValueError(f"report_to={config.report_to!r}: the openrlhf plugin writes TensorBoard logs (always, under "
                             "<out>/openrlhf/tensorboard; the neutral log is read from them); for W&B pass its own flags in "
                             "backend_args, e.g. {'logger.wandb.project': ...}")
        if isinstance(config, RLConfig) and config.max_generated_tokens is not None:
            raise ValueError("max_generated_tokens (compute matching) is not supported by the openrlhf plugin: "
                             "OpenRLHF counts episodes, not tokens; use trainer: trl, or set max_steps")
        if isinstance(config, RLConfig) and not config.shuffle:
            raise ValueError("shuffle=False (a per-step problem schedule, e.g. hint-RL's re-drawn hints) is not "
                             "supported by the openrlhf plugin, whose prompt loader always shuffles; use trainer: trl")

    def sft_command(self, model: str, data: Path, config: SFTConfig, out_dir: Path, n_rows: int) -> list[str]:
        self.check_neutral(config)
        if config.max_steps != -1:
            raise ValueError("OpenRLHF SFT runs whole epochs; set max_steps=-1 and use num_epochs")
        if config.num_epochs != int(config.num_epochs):
            raise ValueError(f"OpenRLHF SFT takes whole epochs, got num_epochs={config.num_epochs}")
        flags = {
            "model.model_name_or_path": model,
            "data.dataset": data,
            "data.input_key": "messages",
            "data.multiturn": True,
            "data.apply_chat_template": True,
            "data.tokenizer_chat_template": IDENTITY_TEMPLATE,
            "data.max_len": config.max_length,
            "data.max_samples": n_rows,
            "train.micro_batch_size": config.per_device_batch_size,
            "train.batch_size": config.effective_batch_size,
            "train.max_epochs": int(config.num_epochs),
            "train.seed": config.seed,
            "adam.lr": config.learning_rate,
            "adam.weight_decay": config.weight_decay,
            "lr_scheduler": config.lr_scheduler,
            "lr_warmup_ratio": config.warmup_ratio,
            "min_lr_ratio": config.min_lr_rate,
            "ds.param_dtype": "bf16",
            "model.gradient_checkpointing_enable": config.gradient_checkpointing is not False,
            "logger.logging_steps": config.logging_steps,
            "logger.tensorboard_dir": out_dir / "openrlhf" / "tensorboard",
            "ckpt.output_dir": out_dir / "checkpoint",
            "ckpt.path": out_dir / "openrlhf" / "ckpt",
            **config.backend_args,
        }
        # The `deepspeed` launcher, through the OpenRLHF interpreter (its console script may not be on PATH).
        launcher = [self.launch.python, "-m", "deepspeed.launcher.runner", "--num_gpus", str(self.launch.gpus_per_node)]
        if self.launch.num_nodes > 1:
            launcher += ["--num_nodes", str(self.launch.num_nodes)]
            launcher += ["--hostfile", self.launch.hostfile] if self.launch.hostfile else []
        return [*launcher, "--module", "openrlhf.cli.train_sft", *_flags(flags)]

    def rl_plan(self, n_rows: int, config: RLConfig) -> dict[str, int]:
        """Episodes/max_samples that give ``max_steps`` rollout batches (OpenRLHF counts in episodes)."""
        config.require_problems(n_rows)
        needed = config.max_steps * config.prompts_per_step
        if needed <= n_rows:
            return {"num_episodes": 1, "max_samples": needed, "steps": config.max_steps}
        per_episode = n_rows // config.prompts_per_step
        episodes = math.ceil(config.max_steps / per_episode)
        return {"num_episodes": episodes, "max_samples": n_rows, "steps": episodes * per_episode}

    def rl_command(self, model: str, data: Path, reward_file: Path, config: RLConfig, out_dir: Path,
                   plan: dict[str, int], max_prompt_len: int) -> list[str]:
        self.check_neutral(config)
        nodes, gpus = self.launch.num_nodes, self.launch.gpus_per_node
        flags: dict[str, Any] = {
            "actor.model_name_or_path": model,
            "actor.num_nodes": nodes,
            "actor.num_gpus_per_node": gpus,
            "ref.num_nodes": nodes,
            "ref.num_gpus_per_node": gpus,
            "train.colocate_all": True,
            "vllm.num_engines": nodes * gpus,
            "vllm.tensor_parallel_size": 1,
            "vllm.enable_sleep": True,
            "ds.enable_sleep": True,
            "vllm.gpu_memory_utilization": self.launch.vllm_gpu_memory_utilization,
            "data.prompt_dataset": data,
            "data.input_key": "messages",
            "data.label_key": "answer",
            "data.apply_chat_template": True,
            "data.max_samples": plan["max_samples"],
            "data.max_len": max_prompt_len + config.max_new_tokens,
            "reward.remote_url": reward_file,
            "algo.advantage.estimator": "dr_grpo" if config.advantage == "mean" else "group_norm",
            "algo.kl.init_coef": config.kl_coef,
            "algo.kl.use_loss": config.kl_coef > 0,
            "algo.kl.estimator": "k3" if config.kl_coef > 0 else "k1",
            "actor.entropy_coef": config.entropy_coef,  # 0 still logs entropy
            "rollout.n_samples_per_prompt": config.group_size,
            "rollout.batch_size": config.prompts_per_step,
            "rollout.micro_batch_size": config.per_device_batch_size,
            "rollout.max_new_tokens": config.max_new_tokens,
            "rollout.temperature": config.temperature,
            "rollout.top_p": config.top_p,
            "train.batch_size": config.mini_batch_prompts * config.group_size,
            "train.micro_batch_size": config.per_device_batch_size,
            "train.max_epochs": 1,
            "train.num_episodes": plan["num_episodes"],
            "train.seed": config.seed,
            "actor.adam.lr": config.learning_rate,
            "actor.lr_scheduler": "constant",
            "actor.gradient_checkpointing_enable": config.gradient_checkpointing is not False,
            "ds.param_dtype": "bf16",
            "logger.logging_steps": config.logging_steps,
            "logger.tensorboard_dir": out_dir / "openrlhf" / "tensorboard",
            "ckpt.output_dir": out_dir / "checkpoint",
            "ckpt.path": out_dir / "openrlhf" / "ckpt",
            **config.backend_args,
        }
        cmd = [self.launch.python, "-m", "openrlhf.cli.train_ppo_ray", *_flags(flags)]
        if nodes > 1 or self.launch.ray_address:
            # Multi-node: submit to the running Ray cluster; every path above must be on a shared filesystem.
            address = self.launch.ray_address or "http://127.0.0.1:8265"
            cmd = ["ray", "job", "submit", f"--address={address}", "--", *cmd]
        return cmd

    @staticmethod
    def flag_check(script: str, cmd: list[str]) -> str:
        """Check a command's flags against the installed OpenRLHF parser; 'skipped' when it is not importable."""
        from trainers.openrlhf_args import check_command, openrlhf_version

        if openrlhf_version() is None:
            return "skipped (openrlhf not installed here)"
        check_command(script, cmd[cmd.index(f"openrlhf.cli.{script}") + 1:])
        return f"ok against openrlhf {openrlhf_version()}"

    # ---- operations --------------------------------------------------------------------------------
    def sft(self, model: str, dataset: Path, config: SFTConfig, out_dir: Path) -> TrainResult:
        out_dir = Path(out_dir)
        rows, dropped = drop_long(load_sft_rows(dataset), config.max_length)
        tokenizer = _load_tokenizer(model)
        convs = [_sft_conversation(r, tokenizer) for r in rows]
        mismatched = (sum(not sft_roundtrip_ok(r, c, tokenizer) for r, c in zip(rows, convs, strict=True))
                      if tokenizer is not None else None)
        if mismatched:
            log.warning("%d of %d SFT rows would not train exactly their target ids under OpenRLHF's "
                        "re-tokenization (token merge at the prompt/target boundary, or a target ending in a "
                        "newline, which OpenRLHF strips)", mismatched, len(rows))
        data = write_jsonl(out_dir / "openrlhf" / "sft.jsonl",
                           ({"id": r["id"], "messages": c} for r, c in zip(rows, convs, strict=True)))
        cmd = self.sft_command(model, data, config, out_dir, len(rows))
        facts = {"rows": len(rows), "dropped_long": dropped, "roundtrip_mismatches": mismatched,
                 "flag_check": self.flag_check("train_sft", cmd)}
        return self._run("sft", cmd, out_dir, {"sft_data": data}, facts, expected_steps=None, group=None)

    def rl(self, model: str, problems: Path, config: RLConfig, out_dir: Path) -> TrainResult:
        out_dir = Path(out_dir)
        rows = load_rl_rows(problems)
        run_dir = out_dir / "openrlhf"
        data = write_jsonl(run_dir / "prompts.jsonl",
                           ({"messages": r["messages"], "answer": str(r["answer"]), "problem_id": r["problem_id"]}
                            for r in rows))
        tokenizer = _load_tokenizer(model)
        reward_file = self.write_reward_file(run_dir, tokenizer, config)
        max_prompt = 4096
        if tokenizer is not None:
            rendered = (tokenizer.apply_chat_template(r["messages"], tokenize=False, add_generation_prompt=True)
                        for r in rows)  # tokenized the way OpenRLHF's PromptDataset + vLLM engine do
            max_prompt = max(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in rendered)
        plan = self.rl_plan(len(rows), config)
        cmd = self.rl_command(model, data, reward_file, config, out_dir, plan, max_prompt)
        facts = {"rows": len(rows), "plan": plan, "max_prompt_tokens": max_prompt,
                 "flag_check": self.flag_check("train_ppo_ray", cmd)}
        paths = {"prompts": data, "reward_file": reward_file, "reward_samples": run_dir / "reward_samples.jsonl"}
        return self._run("rl", cmd, out_dir, paths, facts, expected_steps=plan["steps"],
                         group=(config.group_size, config.prompts_per_step * config.group_size))

    def write_reward_file(self, run_dir: Path, tokenizer: Any | None, config: RLConfig | None = None) -> Path:
        """Copy the reward-function file and its JSON config (harness location, sample log, end tokens, the
        grader: ``config.reward`` and ``reward_judge``)."""
        run_dir.mkdir(parents=True, exist_ok=True)
        target = run_dir / "reward_func.py"
        shutil.copyfile(Path(__file__).with_name("openrlhf_reward.py"), target)
        suffixes = [t for t in (getattr(tokenizer, "eos_token", None), getattr(tokenizer, "pad_token", None)) if t]
        atomic_write_json(target.with_suffix(".json"), {
            "harness_root": str(Path(__file__).resolve().parent.parent),
            "samples_log": str(run_dir / "reward_samples.jsonl"),
            "strip_suffixes": suffixes or ["<|im_end|>", "<|endoftext|>"],
            "grader": {"name": config.reward if config else "math-verify", "judge": config.reward_judge if config else None},
        })
        return target

    def _run(self, stage: str, cmd: list[str], out_dir: Path, paths: dict[str, Path], facts: dict[str, Any],
             expected_steps: int | None, group: tuple[int, int] | None) -> TrainResult:
        run_dir = out_dir / "openrlhf"
        atomic_write_text(run_dir / f"{stage}_command.sh", "#!/usr/bin/env bash\nset -euo pipefail\n" + shlex.join(cmd) + "\n")
        atomic_write_json(run_dir / f"{stage}_launch.json", {"command": cmd, "paths": paths, **facts})
        extra = {"command": shlex.join(cmd), "paths": {k: str(v) for k, v in paths.items()}, **facts}
        if self.dry_run:
            return TrainResult(checkpoint=out_dir / "checkpoint", log_path=out_dir / "train_log.jsonl", steps=0,
                               wall_time=0.0, extra={"dry_run": True, **extra})
        from trainers.openrlhf_runner import run_and_convert

        started = time.perf_counter()
        steps, totals = run_and_convert(stage, cmd, out_dir, TrainLogWriter(out_dir, stage), paths, group)
        return TrainResult(checkpoint=out_dir / "checkpoint", log_path=out_dir / "train_log.jsonl", steps=steps,
                           wall_time=time.perf_counter() - started, extra={**extra, "expected_steps": expected_steps},
                           **totals)
