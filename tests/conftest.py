"""Shared test setup: offline Hub, quiet tokenizers, and one tiny model per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Set before anything imports transformers/tokenizers: the suite never reaches a model/dataset hub (tests use
# local data and models only) and runs on 2 shared cores. Nothing here needs to be exported by the caller.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("HARNESS_OFFLINE", "1")  # the data resolver never tries a download during tests

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# The benchmark data beside the clone (../shared/data), found by the suite itself so that README's test
# command passes in a plain shell. $HARNESS_DATA_DIR, when a user sets it, wins. Tests that need the data
# and find none skip, naming both places (`shared_data_dir`).
if not os.environ.get("HARNESS_DATA_DIR") and SHARED_DATA.is_dir():
    os.environ["HARNESS_DATA_DIR"] = str(SHARED_DATA)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2 chat model + BPE tokenizer, built once (about a second after imports)."""
    from harness.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), seed=0)


@pytest.fixture(scope="session")
def twin_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two different tiny models (seeds 0 and 1), each in a folder named ``checkpoint``, as trainers
    write them: the case where a model's folder name says nothing about which weights it holds."""
    from harness.tiny_model import build_tiny_model

    root = tmp_path_factory.mktemp("twins")
    return build_tiny_model(root / "a" / "checkpoint", seed=0), build_tiny_model(root / "b" / "checkpoint", seed=1)


@pytest.fixture(scope="session")
def world_model() -> Path:
    """The embedded world's test-preset model (built once, ~30 s, then read from its recipe-hash cache)."""
    from harness.world.build import build_world

    return build_world("test")


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The local benchmark copies (../shared/data beside the clone, or $HARNESS_DATA_DIR)."""
    path = Path(os.environ.get("HARNESS_DATA_DIR") or SHARED_DATA)
    if not path.is_dir():
        pytest.skip(f"benchmark data not found at {path}: put the shared folder beside the clone "
                    f"({SHARED_DATA}) or set HARNESS_DATA_DIR")
    return path


@pytest.fixture
def data_dir(shared_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the harness at the local benchmark data for one test."""
    monkeypatch.setenv("HARNESS_DATA_DIR", str(shared_data_dir))
    monkeypatch.setenv("HARNESS_OFFLINE", "1")
    return shared_data_dir


@pytest.fixture
def local_data_only(data_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The shared data dir, never the network, and a download cache of the test's own (task-loading tests)."""
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    return data_dir
