"""OpenRLHF backend without OpenRLHF's GPU stack: every generated flag parses under the real wheel's own
argparse definitions, the data files go through its real dataset readers, the reward file runs for real,
and a launched run's output becomes the neutral log.

CI needs ``pip install --no-deps openrlhf pylatexenc`` (and ``tensorboardx`` for the SFT-log test)."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from importlib.util import find_spec
from pathlib import Path
from types import SimpleNamespace

import pytest
import trainers_support as ts
from typer.testing import CliRunner

from trainers.cli import trainers_app
from trainers.openrlhf_args import FlagError, check_command
from trainers.openrlhf_backend import Launch, OpenRLHFTrainer, _sft_conversation, sft_roundtrip_ok
from trainers.openrlhf_logs import parse_step_line, zero_advantage_fraction
from trainers.openrlhf_runner import convert_sft_tensorboard, run_and_convert
from trainers.presets import get_config
from trainers.trainlog import TrainLogWriter, read_train_log

needs_wheel = pytest.mark.skipif(find_spec("openrlhf") is None, reason="pip install --no-deps openrlhf")


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def _args(cmd: list[str], script: str) -> SimpleNamespace:
    """The command's flags parsed by OpenRLHF's parser, then nested the way OpenRLHF does (hierarchize)."""
    from openrlhf.utils.config import hierarchize

    return hierarchize(check_command(script, cmd[cmd.index(f"openrlhf.cli.{script}") + 1:]))


def _dry(launch: Launch | None = None) -> OpenRLHFTrainer:
    return OpenRLHFTrainer(dry_run=True, launch=launch or Launch(python="python3"))


@needs_wheel
def test_rl_commands_pass_the_flag_check(tiny_model_dir: Path, tmp_path: Path) -> None:
    problems = ts.write_rl(tmp_path / "rl.jsonl")
    paper = get_config("paper", "rl", prompts_per_step=4, mini_batch_prompts=2)
    res = _dry().rl(str(tiny_model_dir), problems, paper, tmp_path / "one-gpu")
    assert res.extra["flag_check"].startswith("ok against openrlhf")
    a = _args(res.extra["command"].split(), "train_ppo_ray")  # paths here contain no spaces
    assert a.algo.advantage.estimator == "dr_grpo" and a.algo.kl.init_coef == 0.0 and not a.algo.kl.use_loss
    assert (a.rollout.n_samples_per_prompt, a.rollout.batch_size, a.train.batch_size) == (8, 4, 16)
    assert (a.rollout.temperature, a.rollout.top_p, a.actor.adam.lr, a.actor.entropy_coef) == (1.0, 1.0, 1e-6, 0.0)
    assert a.train.colocate_all and a.vllm.num_engines == 1 and a.actor.num_gpus_per_node == 1
    assert a.reward.remote_url.endswith("reward_func.py") and a.data.label_key == "answer"
    assert a.train.num_episodes * (4 // 4) >= paper.max_steps  # 4 problems, one step per episode

    variant = get_config("paper", "rl", prompts_per_step=4, mini_batch_prompts=4, advantage="group_norm", kl_coef=0.01)
    multi = OpenRLHFTrainer(dry_run=True, launch=Launch(python="python3", num_nodes=2, gpus_per_node=8,
                                                        ray_address="http://head:8265"))
    res = multi.rl(str(tiny_model_dir), problems, variant, tmp_path / "two-nodes")
    cmd = json.loads((tmp_path / "two-nodes/openrlhf/rl_launch.json").read_text())["command"]
    assert cmd[:4] == ["ray", "job", "submit", "--address=http://head:8265"] and cmd[4] == "--"
    a = _args(cmd, "train_ppo_ray")
    assert a.algo.advantage.estimator == "group_norm" and a.algo.kl.use_loss and a.algo.kl.estimator == "k3"
    assert (a.actor.num_nodes, a.actor.num_gpus_per_node, a.vllm.num_engines) == (2, 8, 16)


@needs_wheel
def test_sft_command_passes_the_flag_check(tiny_model_dir: Path, tokenizer, tmp_path: Path) -> None:
    data = ts.write_sft(tokenizer, tmp_path / "sft.jsonl")
    res = _dry().sft(str(tiny_model_dir), data, get_config("paper", "sft"), tmp_path / "out")
    cmd = json.loads((tmp_path / "out/openrlhf/sft_launch.json").read_text())["command"]
    a = _args(cmd, "train_sft")
    assert (a.adam.lr, a.train.batch_size, a.train.max_epochs, a.lr_scheduler) == (1e-6, 64, 4, "cosine_with_min_lr")
    assert (a.lr_warmup_ratio, a.min_lr_ratio, a.data.max_len) == (0.1, 0.1, 16384)
    assert a.data.multiturn and a.data.apply_chat_template and not a.model.pretrain_mode_enable
    assert res.extra["roundtrip_mismatches"] == 0 and res.extra["rows"] == 8


@needs_wheel
def test_old_and_invalid_flags_are_rejected() -> None:
    with pytest.raises(FlagError, match="unknown flag"):
        check_command("train_ppo_ray", ["--advantage_estimator", "group_norm"])  # <= 0.10.1 spelling
    with pytest.raises(FlagError, match="invalid choice"):
        check_command("train_ppo_ray", ["--algo.advantage.estimator", "grpo"])


@needs_wheel
def test_openrlhf_sft_reader_trains_exactly_the_target(tiny_model_dir: Path, tokenizer, tmp_path: Path) -> None:
    """Our rows through OpenRLHF's own SFTDataset (with our flags): loss on prefix + intervention, no EOS."""
    sft_dataset = pytest.importorskip("openrlhf.datasets.sft_dataset", reason="needs the openrlhf wheel and pylatexenc: pip install --no-deps openrlhf && pip install pylatexenc")
    from openrlhf.datasets.utils import blending_datasets

    rows = ts.sft_rows(tokenizer, n=4)
    data = ts.write_sft(tokenizer, tmp_path / "sft.jsonl", n=4)
    _dry().sft(str(tiny_model_dir), data, get_config("embedded", "sft"), tmp_path / "out")
    args = _args(json.loads((tmp_path / "out/openrlhf/sft_launch.json").read_text())["command"], "train_sft")
    strategy = SimpleNamespace(args=args, print=lambda *a: None, is_rank_0=lambda: True)
    raw = blending_datasets(args.data.dataset, None, strategy, args.train.seed, max_count=args.data.max_samples)
    ds = sft_dataset.SFTDataset(raw, tokenizer, args.data.max_len, strategy, input_template=args.data.input_template,
                                multiturn=args.data.multiturn, num_processors=1)
    assert len(ds) == 4
    for i, row in enumerate(rows):
        input_ids, _, loss_mask = ds[i]
        ids, mask = input_ids[0].tolist(), loss_mask[0].tolist()
        trained = [ids[p + 1] for p, m in enumerate(mask) if m]  # mask[p] marks the prediction of token p+1
        assert trained == tokenizer(row["target_text"], add_special_tokens=False)["input_ids"]
        assert ids[: len(row["input_ids"])] == row["input_ids"]
        assert tokenizer.eos_token_id not in trained


@needs_wheel
def test_openrlhf_prompt_reader_gets_rendered_prompts_and_labels(tiny_model_dir: Path, tokenizer, tmp_path: Path) -> None:
    prompts_dataset = pytest.importorskip("openrlhf.datasets.prompts_dataset", reason="needs the openrlhf wheel and pylatexenc: pip install --no-deps openrlhf && pip install pylatexenc")
    from openrlhf.datasets.utils import blending_datasets

    problems = ts.write_rl(tmp_path / "rl.jsonl")
    _dry().rl(str(tiny_model_dir), problems, get_config("embedded", "rl", prompts_per_step=4, mini_batch_prompts=4),
              tmp_path / "out")
    args = _args(json.loads((tmp_path / "out/openrlhf/rl_launch.json").read_text())["command"], "train_ppo_ray")
    strategy = SimpleNamespace(args=args, print=lambda *a: None, is_rank_0=lambda: True)
    raw = blending_datasets(args.data.prompt_dataset, None, strategy, args.train.seed, max_count=args.data.max_samples)
    ds = prompts_dataset.PromptDataset(raw, tokenizer, strategy, input_template=args.data.input_template)
    for i, row in enumerate(ts.rl_rows()):
        _, prompt, label, _ = ds[i]
        assert prompt == tokenizer.apply_chat_template(row["messages"], tokenize=False, add_generation_prompt=True)
        assert label == row["answer"]


def _load_reward_file(path: Path):
    """Exactly how OpenRLHF loads it (openrlhf/utils/agent.py)."""
    spec = importlib.util.spec_from_file_location("reward_func", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reward_func


def test_reward_file_grades_sample_outputs(tokenizer, tmp_path: Path) -> None:
    reward_path = _dry().write_reward_file(tmp_path / "run", tokenizer)
    reward_func = _load_reward_file(reward_path)
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "2+3?"}], tokenize=False, add_generation_prompt=True)
    responses = ["So the answer is \\boxed{5}<|im_end|>", "It is \\boxed{6}<|im_end|>", "five<|im_end|>",
                 "\\boxed{\\frac{10}{2}}<|endoftext|><|endoftext|>"]
    out = reward_func([prompt + r for r in responses], [prompt] * 4, ["5"] * 4)
    assert out["rewards"].tolist() == [1.0, 0.0, 0.0, 1.0] and out["scores"].tolist() == out["rewards"].tolist()
    assert abs(float(out["extra_logs"]["no_answer_rate"]) - 0.25) < 1e-6
    logged = [json.loads(line) for line in (tmp_path / "run/reward_samples.jsonl").read_text().splitlines()]
    assert [s["reward"] for s in logged] == [1.0, 0.0, 0.0, 1.0] and len({s["prompt"] for s in logged}) == 1


def test_step_lines_and_zero_advantage_groups() -> None:
    line = "INFO 05-01 ppo_trainer.py:551] ✨ Global step 3: {'policy_loss': 0.5, 'rollout/reward_mean': nan, 'x': 'y'}"
    assert parse_step_line(line) == (3, {"policy_loss": 0.5, "rollout/reward_mean": None})
    assert parse_step_line("Episode [1/1]: 10%") is None
    samples = [{"prompt": p, "label": "1", "reward": r} for p, r in [("a", 1), ("a", 1), ("b", 0), ("b", 1)]]
    assert zero_advantage_fraction(samples, group_size=2) == 0.5


FAKE_OPENRLHF = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("reward_func", sys.argv[1])
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
answers = {{"p0": ["\\\\boxed{{5}}"] * 2, "p1": ["\\\\boxed{{3}}", "no"]}}
for step in (1, 2):
    for prompt, gold in (("p0", "5"), ("p1", "3")):
        for resp in answers[prompt]:
            mod.reward_func([prompt + resp], [prompt], [gold])
    print("Episode progress ...", flush=True)
    print("✨ Global step %d: {{'policy_loss': 0.1, 'actor_lr': 1e-06, 'rollout/reward_mean': 0.75, "
          "'rollout/response_length_mean': 10.0, 'rollout/num_samples': 4.0, 'total_length': 30.0, "
          "'rollout/truncated_rate': 0.0, 'entropy_loss': 1.5, 'kl': nan}}" % step, flush=True)
"""


def test_launched_run_is_streamed_into_the_neutral_log(tokenizer, tmp_path: Path) -> None:
    """A stand-in for train_ppo_ray (same reward-file loading, same step lines) run as a real subprocess."""
    run_dir = tmp_path / "openrlhf"
    reward_path = _dry().write_reward_file(run_dir, tokenizer)
    fake = tmp_path / "fake_openrlhf.py"
    fake.write_text(textwrap.dedent(FAKE_OPENRLHF.format()))
    writer = TrainLogWriter(tmp_path, "rl")
    steps, totals = run_and_convert("rl", [sys.executable, str(fake), str(reward_path)], tmp_path, writer,
                                    {"reward_samples": run_dir / "reward_samples.jsonl"}, group=(2, 4))
    log = read_train_log(tmp_path)
    assert steps == 2 and [r.step for r in log] == [1, 2]
    assert all(r.frac_zero_advantage == 0.5 and r.reward_mean == 0.75 and r.entropy == 1.5 for r in log)
    assert log[-1].tokens_generated == totals["tokens_generated"] == 80 and log[-1].tokens_trained == 240
    assert log[0].extra == {"kl": None} and (run_dir / "rl.log").read_text().count("Global step") == 2


def test_sft_tensorboard_log_is_converted(tmp_path: Path) -> None:
    tbx = pytest.importorskip("tensorboardX", reason="pip install tensorboardx")
    with tbx.SummaryWriter(str(tmp_path / "tb" / "sft_run")) as w:  # what OpenRLHF's train_sft writes
        for step, loss in ((1, 2.5), (2, 2.0), (3, 1.5)):
            for key, value in (("gpt_loss", loss + 0.1), ("lr", 1e-6 * step), ("grad_norm", 1.0), ("loss_mean", loss)):
                w.add_scalar(f"train/{key}", value, step)
    assert convert_sft_tensorboard(tmp_path / "tb", TrainLogWriter(tmp_path, "sft")) == 3
    log = read_train_log(tmp_path)
    assert [(r.step, r.loss) for r in log] == [(1, 2.5), (2, 2.0), (3, 1.5)]
    assert abs(log[2].learning_rate - 3e-6) < 1e-12 and log[0].extra["grad_norm"] == 1.0


@needs_wheel
def test_cli_dry_run_prints_command_and_paths(tiny_model_dir: Path, tmp_path: Path) -> None:
    problems = ts.write_rl(tmp_path / "rl.jsonl")
    res = CliRunner().invoke(trainers_app, ["rl", "--trainer", "openrlhf", "--dry-run", "--model", str(tiny_model_dir),
                                            "--problems", str(problems), "--out", str(tmp_path / "out"),
                                            "--set", "prompts_per_step=4", "--set", "mini_batch_prompts=2"])
    assert res.exit_code == 0, res.output
    assert "openrlhf.cli.train_ppo_ray" in res.output and "--algo.advantage.estimator dr_grpo" in res.output
    for name in ("prompts.jsonl", "reward_func.py", "reward_func.json", "rl_command.sh"):
        assert (tmp_path / "out/openrlhf" / name).exists()
    assert json.loads((tmp_path / "out/train_result.json").read_text())["dry_run"] is True


def test_roundtrip_check_flags_targets_openrlhf_would_alter(tokenizer) -> None:
    """OpenRLHF strips trailing newlines before tokenizing; such a row would train other tokens."""

    good = ts.sft_rows(tokenizer, n=1)[0]
    assert sft_roundtrip_ok(good, _sft_conversation(good, tokenizer), tokenizer)
    prompt = good["prompt_text"]
    target = good["target_text"] + "\n\n"
    p_ids, t_ids = (tokenizer(t, add_special_tokens=False)["input_ids"] for t in (prompt, target))
    bad = {**good, "target_text": target, "input_ids": p_ids + t_ids, "loss_mask": [0] * len(p_ids) + [1] * len(t_ids)}
    assert not sft_roundtrip_ok(bad, _sft_conversation(bad, tokenizer), tokenizer)


def test_neutral_fields_openrlhf_cannot_honour_fail_before_launch(tmp_path):
    from trainers.base import RLConfig, SFTConfig
    from trainers.openrlhf_backend import OpenRLHFTrainer

    with pytest.raises(ValueError, match="report_to='wandb'"):
        OpenRLHFTrainer.check_neutral(SFTConfig(report_to="wandb"))
    with pytest.raises(ValueError, match="compute matching"):
        OpenRLHFTrainer.check_neutral(RLConfig(max_generated_tokens=1000))
    OpenRLHFTrainer.check_neutral(RLConfig(report_to="tensorboard"))  # always written: fine
