"""`harness.cpu`: torch's CPU threads follow the free cores and the model's size, and (for the world's
shipped presets) the weights do not depend on the thread count, so a busy machine can use fewer threads
without changing what is built."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time

import pytest

import harness.cpu as cpu


@pytest.fixture
def fresh_governor(monkeypatch):
    monkeypatch.setattr(cpu, "_GOVERNOR", None)
    yield
    cpu._GOVERNOR = None


def test_choice_follows_free_cores_and_size_cap(monkeypatch, fresh_governor):
    monkeypatch.delenv(cpu.ENV, raising=False)
    monkeypatch.setattr(cpu, "allowed_cpus", lambda: 4)
    gov = cpu.ThreadGovernor(n_params=10_000_000)
    assert gov.limit == 4
    assert [gov.choose(x) for x in (0.0, 0.2, 0.9, 1.0, 2.6, 3.9, 7.0)] == [4, 4, 3, 3, 1, 1, 1]
    assert gov.choose(None) == gov.threads  # no measurement yet: keep what is in force
    small = cpu.ThreadGovernor(n_params=200_000)  # measured: tiny models run slower on two threads
    assert small.limit == 1 and small.choose(0.0) == 1
    assert cpu.ThreadGovernor(n_params=1_200_000).limit == 2


def test_user_pin_and_bad_values(monkeypatch, fresh_governor):
    monkeypatch.setenv(cpu.ENV, "3")
    gov = cpu.ThreadGovernor(n_params=200_000)
    assert gov.threads == 3 and gov.choose(5.0) == 3 and gov.tick() == 3  # pinned beats load and size
    import torch

    assert torch.get_num_threads() == 3
    for bad in ("0", "-1", "many"):
        monkeypatch.setenv(cpu.ENV, bad)
        with pytest.raises(ValueError, match="HARNESS_THREADS"):
            cpu.requested_threads()
    monkeypatch.setenv(cpu.ENV, "auto")
    assert cpu.requested_threads() is None


@pytest.mark.skipif(cpu.allowed_cpus() < 2, reason="needs at least 2 cores to give one up")
def test_busy_machine_gets_fewer_threads(monkeypatch, fresh_governor):
    """Real load: one busy process per allowed core beside us -> the governor drops to one thread."""
    monkeypatch.delenv(cpu.ENV, raising=False)
    gov = cpu.ThreadGovernor(n_params=50_000_000, interval=0.5)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cpu.allowed_cpus())]
    try:
        time.sleep(0.3)
        gov.tick()  # starts the measurement window
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and gov.threads != 1:
            time.sleep(0.6)
            gov.tick()
        assert gov.threads == 1, gov.history
        assert any(o is not None and o >= 1.0 for _, _, o in gov.history)  # it saw the load
    finally:
        for b in burners:
            b.kill()
            b.wait()


def _weights_after(preset: str, threads: int) -> str:
    import torch

    from harness.world.build import make_recipe
    from harness.world.corpus import build_corpus, vocabulary_samples
    from harness.world.model import build_model, build_tokenizer, wrap_tokenizer
    from harness.world.pretrain import train

    r = make_recipe(preset)
    corpus = r.corpus.__class__(solve_examples=400, verify_examples=200)  # ~30 steps, every length bucket
    pairs = build_corpus(r.world, r.noise, corpus, r.seed)
    tok = wrap_tokenizer(build_tokenizer(vocabulary_samples(r.world)))
    model = build_model(r.model, tok, r.seed)
    cpu._GOVERNOR = None  # train() creates it from $HARNESS_THREADS
    train(model, tok, pairs, r.train, r.seed)
    assert torch.get_num_threads() == threads == cpu.governor().threads
    h = hashlib.sha256()
    for _, v in sorted(model.state_dict().items()):
        h.update(v.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["default", "blindspot"])
def test_world_weights_do_not_depend_on_threads(preset, fresh_governor, monkeypatch):
    """What lets the world build change its thread count from step to step: one and two threads train
    the shipped presets to bit-identical weights (the test preset's o_proj gradient does differ in the
    last bit, but its size cap pins it to one thread)."""
    monkeypatch.setenv(cpu.ENV, "1")  # the pretraining loop's own governor() call must not override
    one = _weights_after(preset, 1)
    monkeypatch.setenv(cpu.ENV, "2")
    assert _weights_after(preset, 2) == one


def test_world_test_preset_is_capped_to_one_thread():
    from harness.world.build import make_recipe
    from harness.world.corpus import vocabulary_samples
    from harness.world.model import build_model, build_tokenizer, count_parameters, wrap_tokenizer

    r = make_recipe("test")
    n = count_parameters(build_model(r.model, wrap_tokenizer(build_tokenizer(vocabulary_samples(r.world))), 0))
    assert cpu.size_cap(n) == 1


def test_cli_threads_option_pins_every_step_and_refuses_a_bad_value():
    """`harness --threads N CMD` (README): the value reaches the environment the steps inherit, and a bad
    value is one line and exit 1 before any work."""
    code = ("import os, sys; from typer.main import get_command; from harness.cli import app\n"
            "cmd = get_command(app)\n"
            "try:\n    cmd.main(sys.argv[1:], standalone_mode=False)\n"
            "except SystemExit as e:\n    pass\n"
            "print('THREADS=' + os.environ.get('HARNESS_THREADS', ''))")
    ok = subprocess.run([sys.executable, "-c", code, "--threads", "1", "tasks", "list"], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0 and "THREADS=1" in ok.stdout, ok.stderr[-2000:]
    bad = subprocess.run([sys.executable, "-m", "harness.cli", "--threads", "lots", "tasks", "list"], capture_output=True, text=True,
                         timeout=300)
    lines = [line for line in (bad.stdout + bad.stderr).splitlines() if line.strip()]
    assert bad.returncode == 1 and len(lines) == 1 and "lots" in lines[0], lines
