"""TRL backend, for real on CPU: the exact trained tokens, loss going down, GRPO with the harness grader,
and the neutral log both write."""

from __future__ import annotations

from pathlib import Path

import pytest
import trainers_support as ts

from trainers.presets import get_config
from trainers.trainlog import TRL_EXTRA, TRL_KEYS, map_metrics, read_train_log, throughput
from trainers.trl_backend import TRLTrainer

pytest.importorskip("trl", reason="needs the trl extra: pip install -e '.[trl]'")


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.mark.slow
def test_sft_trains_exactly_prefix_plus_intervention(tiny_model_dir: Path, tokenizer, tmp_path: Path) -> None:
    """The labels the model sees are the target's own tokens: no re-rendered template, no EOS/<|im_end|>."""
    rows = ts.sft_rows(tokenizer, n=4)
    data = ts.write_sft(tokenizer, tmp_path / "sft.jsonl", n=4)
    config = get_config("embedded", "sft", effective_batch_size=2, per_device_batch_size=2, max_steps=2)
    trainer, info = TRLTrainer().build_sft_trainer(str(tiny_model_dir), data, config, tmp_path / "out")
    seen: list = []

    def record(module, args, kwargs):  # noqa: ANN001 - torch hook signature
        seen.append((kwargs["input_ids"].clone(), kwargs["labels"].clone()))

    handle = trainer.model.register_forward_pre_hook(record, with_kwargs=True)
    trainer.train()
    handle.remove()
    assert len(seen) == 2 and info["dropped_long"] == 0
    by_ids = {tuple(r["input_ids"]): r for r in rows}
    checked = 0
    for input_ids, labels in seen:
        for ids, lab in zip(input_ids.tolist(), labels.tolist(), strict=True):
            row = next(r for key, r in by_ids.items() if tuple(ids[: len(key)]) == key)  # right padding
            trained = [t for t, lb in zip(ids, lab, strict=True) if lb != -100]
            target_ids = tokenizer(row["target_text"], add_special_tokens=False)["input_ids"]
            assert trained == target_ids
            assert tokenizer.decode(trained) == row["target_text"]
            assert tokenizer.eos_token_id not in trained
            checked += 1
    assert checked == 4


@pytest.mark.slow
def test_sft_loss_goes_down_and_neutral_log_is_written(tiny_model_dir: Path, tokenizer, tmp_path: Path) -> None:
    data = ts.write_sft(tokenizer, tmp_path / "sft.jsonl", n=8)
    config = get_config("embedded", "sft", num_epochs=6, effective_batch_size=4, per_device_batch_size=4,
                        learning_rate=3e-3)
    result = TRLTrainer().sft(str(tiny_model_dir), data, config, tmp_path / "out")
    log = read_train_log(result.log_path)
    assert [r.step for r in log] == list(range(1, 13)) and all(r.stage == "sft" for r in log)
    first, last = log[0].loss, log[-1].loss
    assert last < 0.75 * first, (first, last)
    assert log[-1].tokens_trained == result.tokens_trained > 0 and log[-1].entropy is not None
    assert (result.checkpoint / "config.json").exists() and (result.checkpoint / "tokenizer.json").exists()
    assert throughput(log)["steps_per_s"] > 0


def test_grpo_config_is_the_papers_algorithm(tmp_path: Path) -> None:
    config = get_config("paper", "rl")
    args = TRLTrainer().grpo_args(config, tmp_path)
    assert (args.scale_rewards, args.beta, args.entropy_coef, args.num_iterations) == ("none", 0.0, 0.0, 1)
    assert (args.num_generations, args.temperature, args.top_p, args.learning_rate) == (8, 1.0, 1.0, 1e-6)
    assert args.generation_batch_size == 32 * 8  # one rollout batch of 32 prompts
    assert args.per_device_train_batch_size * args.gradient_accumulation_steps == 16 * 8  # one update = 16 prompts
    assert args.max_steps == 400 * 2 and args.logging_steps == 2  # 2 updates per RL step, one log row per step
    assert args.lr_scheduler_type == "constant" and args.bf16 is False  # CPU here
    assert TRLTrainer().grpo_args(get_config("paper", "rl", advantage="group_norm"), tmp_path).scale_rewards == "group"


def test_trl_metric_names_map_to_the_neutral_schema() -> None:
    logs = {"loss": 0.5, "reward": 0.25, "frac_reward_zero_std": 0.75, "completions/mean_length": 30.0,
            "completions/clipped_ratio": 0.1, "entropy": 2.0, "kl": 0.0, "learning_rate": 1e-6, "step_time": 1.0,
            "reward_std": float("nan")}
    row = map_metrics(logs, TRL_KEYS, TRL_EXTRA)
    assert row["reward_mean"] == 0.25 and row["frac_zero_advantage"] == 0.75 and row["truncation_rate"] == 0.1
    assert row["response_length_mean"] == 30.0 and row["reward_std"] is None and row["extra"] == {"kl": 0.0}


@pytest.mark.slow
def test_grpo_runs_on_cpu_with_the_harness_grader(tiny_model_dir: Path, tmp_path: Path) -> None:
    problems = ts.write_rl(tmp_path / "rl.jsonl")  # 4 problems
    with pytest.raises(ValueError, match="4 problems cannot fill one step of 8 prompts"):
        TRLTrainer().rl(str(tiny_model_dir), problems, get_config("embedded", "rl"), tmp_path / "too-few")
    config = get_config("embedded", "rl", max_steps=2, max_new_tokens=16, group_size=4, prompts_per_step=4,
                        mini_batch_prompts=4, per_device_batch_size=16)
    result = TRLTrainer().rl(str(tiny_model_dir), problems, config, tmp_path / "out")
    log = read_train_log(result.log_path)
    assert [r.step for r in log] == [1, 2] and all(r.stage == "rl" for r in log)
    for r in log:
        assert r.reward_mean is not None and r.frac_zero_advantage is not None and r.loss is not None
        assert 0.0 <= r.truncation_rate <= 1.0 and 0 < r.response_length_mean <= 16
    assert result.extra["samples_graded"] == 2 * 4 * 4  # steps x prompts x group
    assert log[-1].tokens_generated == result.tokens_generated > 0
    assert log[-1].tokens_trained > log[-1].tokens_generated  # prompts are processed too
    assert (result.checkpoint / "model.safetensors").exists()


def test_report_to_is_a_config_field_that_reaches_trl(tmp_path):
    """Asking for a dashboard through the documented field works (no duplicate-keyword clash with backend_args)."""
    from trainers.presets import get_config
    from trainers.trl_backend import TRLTrainer

    args = TRLTrainer().grpo_args(get_config("embedded", "rl", report_to="tensorboard"), tmp_path)
    assert args.report_to == ["tensorboard"] or args.report_to == "tensorboard"
    over = TRLTrainer().grpo_args(get_config("embedded", "rl", backend_args={"report_to": "none"}), tmp_path)
    assert over.report_to in ([], "none", ["none"])  # backend_args win, without a TypeError


def test_run_name_reaches_trl(tmp_path):
    """Dashboards tell arms, seeds and steps apart: the config's run_name is TRL's run_name (default: the
    output folder's name), for RL and for SFT."""
    from trainers.base import SFTConfig
    from trainers.presets import get_config
    from trainers.trl_backend import TRLTrainer

    assert TRLTrainer().grpo_args(get_config("embedded", "rl", run_name="int/seed-1/3-rl"), tmp_path).run_name == "int/seed-1/3-rl"
    assert TRLTrainer().grpo_args(get_config("embedded", "rl"), tmp_path / "rl-abc").run_name == "rl-abc"
    assert SFTConfig(run_name="int/seed-0/2-sft").run_name == "int/seed-0/2-sft"
