"""Trainer discovery, presets/configs and the `harness trainers` CLI; plus the third (test) plugin run end
to end through the same entry-point mechanism as TRL and OpenRLHF."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest
from plugin_support import PLUGINS, install_dist
from typer.testing import CliRunner

from trainers.base import RLConfig, SFTConfig, field_help
from trainers.cli import trainers_app
from trainers.presets import get_config, parse_set_options
from trainers.registry import UnknownTrainerError, get_trainer, list_trainers
from trainers.trainlog import read_train_log


@pytest.fixture
def toy_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    install_dist(site, "harness_toy_trainer", {"harness.trainers": {"toy": "toy_trainer:ToyTrainer", "broken": "no_such_module:X"}})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(PLUGINS))


def test_builtin_plugins_are_listed_with_status() -> None:
    rows = {r.name: r for r in list_trainers()}
    assert {"trl", "openrlhf"} <= set(rows)
    assert rows["trl"].installed, rows["trl"].detail  # the test environment has TRL
    assert {"sft", "rl"} <= set(rows["trl"].supports)
    # OpenRLHF needs ray/deepspeed/vllm, which a CPU box lacks; it still offers a dry run.
    stack = all(find_spec(m) for m in ("openrlhf", "ray", "deepspeed", "vllm"))
    assert rows["openrlhf"].installed == stack and "dry-run" in rows["openrlhf"].supports
    if not stack:
        assert "dry-run works" in rows["openrlhf"].detail


def test_entry_point_plugin_is_discovered_and_a_broken_one_is_reported(toy_installed: None) -> None:
    rows = {r.name: r for r in list_trainers()}
    assert rows["toy"].installed and rows["toy"].target == "toy_trainer:ToyTrainer"
    assert rows["toy"].distribution == "harness_toy_trainer"
    assert not rows["broken"].installed and "failed to load" in rows["broken"].detail
    assert get_trainer("toy").name == "toy"


def test_unknown_trainer_names_the_registered_ones() -> None:
    with pytest.raises(UnknownTrainerError, match="known: .*trl"):
        get_trainer("nope")


def test_cli_list_and_show(toy_installed: None) -> None:
    runner = CliRunner()
    res = runner.invoke(trainers_app, ["list", "--json"])
    assert res.exit_code == 0, res.output
    listed = {r["name"]: r for r in json.loads(res.output)}
    assert listed["trl"]["installed"] and listed["toy"]["installed"] and "openrlhf" in listed
    res = runner.invoke(trainers_app, ["show", "trl", "--preset", "embedded", "--json"])
    assert res.exit_code == 0, res.output
    shown = json.loads(res.output)
    assert shown["configs"]["rl"]["group_size"] == 8 and shown["configs"]["sft"]["max_length"] == 512
    res = runner.invoke(trainers_app, ["sft", "--trainer", "trl", "--dry-run", "--model", "m",
                                       "--data", __file__, "--out", "x"])
    assert res.exit_code != 0 and "no dry run" in res.output


def test_cli_import_is_cheap() -> None:
    code = "import sys, trainers.cli; print(sorted(m for m in ('torch','trl','transformers','datasets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_paper_defaults_and_help_texts() -> None:
    sft, rl = SFTConfig(), RLConfig()
    assert (sft.learning_rate, sft.num_epochs, sft.effective_batch_size) == (1e-6, 4, 64)
    assert (sft.lr_scheduler, sft.min_lr_rate, sft.warmup_ratio) == ("cosine_with_min_lr", 0.1, 0.1)
    assert (rl.group_size, rl.advantage, rl.kl_coef, rl.entropy_coef) == (8, "mean", 0.0, 0.0)
    assert (rl.learning_rate, rl.temperature, rl.top_p, rl.updates_per_step) == (1e-6, 1.0, 1.0, 2)
    for cls in (SFTConfig, RLConfig):
        assert all(help_text for _, help_text in field_help(cls).values())


def test_presets_and_overrides() -> None:
    rl = get_config("embedded", "rl", **parse_set_options(["learning_rate=5e-5", "use_vllm=false",
                                                            'backend_args={"top_k": 0}']))
    assert rl.learning_rate == 5e-5 and rl.use_vllm is False and rl.backend_args == {"top_k": 0}
    assert (rl.advantage, rl.kl_coef, rl.temperature) == ("mean", 0.0, 1.0)  # algorithm unchanged by the preset
    with pytest.raises(ValueError, match="unknown RLConfig field"):
        get_config("paper", "rl", lr=1)
    with pytest.raises(ValueError, match="multiple of mini_batch_prompts"):
        RLConfig(prompts_per_step=10, mini_batch_prompts=4)
    with pytest.raises(ValueError, match="advantage"):
        RLConfig(advantage="std")


@pytest.mark.slow
def test_toy_plugin_runs_the_protocol_end_to_end(toy_installed: None, tiny_model_dir: Path, tmp_path: Path) -> None:
    """SFT on InT-shaped rows, then RL from the SFT checkpoint, on the plugin found by entry point."""
    import trainers_support as ts
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    sft_data = ts.write_sft(tok, tmp_path / "sft.jsonl", n=8)
    problems = ts.write_rl(tmp_path / "rl.jsonl")
    plugin = get_trainer("toy")
    sft = plugin.sft(str(tiny_model_dir), sft_data, get_config("embedded", "sft", max_steps=3), tmp_path / "sft")
    rl = plugin.rl(str(sft.checkpoint), problems,
                   get_config("embedded", "rl", max_steps=2, max_new_tokens=16), tmp_path / "rl")
    sft_log, rl_log = read_train_log(sft.log_path), read_train_log(rl.log_path)
    assert [r.step for r in sft_log] == [1, 2, 3] and all(r.loss is not None for r in sft_log)
    assert [r.step for r in rl_log] == [1, 2]
    assert all(r.frac_zero_advantage is not None and r.reward_mean is not None for r in rl_log)
    assert rl_log[-1].tokens_generated == rl.tokens_generated > 0
    assert (rl.checkpoint / "config.json").exists()
