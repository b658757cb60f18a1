"""vLLM backend without vLLM: the parameter mapping, request grouping, output mapping and import guard."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from harness.backends import get_backend
from harness.backends.base import GenerationRequest, SamplingParams
from harness.backends.vllm import group_by_continuation, to_samples, vllm_sampling_kwargs

USER = {"role": "user", "content": "q"}


def test_paper_defaults_map_to_vllm_kwargs():
    assert vllm_sampling_kwargs(SamplingParams(n=4)) == {
        "n": 4,
        "temperature": 0.7,
        "top_p": 0.8,
        "top_k": 20,
        "max_tokens": 16384,
        "seed": 0,
        "stop": [],
    }


@pytest.mark.parametrize("top_k", [0, -1])
def test_disabled_top_k_is_minus_one(top_k):
    kw = vllm_sampling_kwargs(SamplingParams(top_k=top_k, seed=None, stop=("\n\n",), temperature=0.0))
    assert kw["top_k"] == -1 and kw["seed"] is None and kw["stop"] == ["\n\n"] and kw["temperature"] == 0.0


def test_grouping_by_continue_flag_keeps_order():
    plain = GenerationRequest((USER,))
    cont = GenerationRequest((USER, {"role": "assistant", "content": "a"}), continue_final_message=True)
    assert group_by_continuation([plain, cont, plain, cont]) == {False: [0, 2], True: [1, 3]}


def test_request_output_mapping():
    out = SimpleNamespace(
        prompt_token_ids=[1, 2, 3],
        outputs=[
            SimpleNamespace(index=1, text="b", token_ids=[5] * 4, finish_reason="length"),
            SimpleNamespace(index=0, text="a", token_ids=[5, 6], finish_reason="stop"),
            SimpleNamespace(index=2, text="", token_ids=[], finish_reason="abort"),
        ],
    )
    samples = to_samples(out)
    assert [(s.text, s.prompt_tokens, s.completion_tokens, s.finish_reason) for s in samples] == [
        ("a", 3, 2, "stop"),
        ("b", 3, 4, "length"),
        ("", 3, 0, "error"),
    ]
    assert samples[2].extra == {"finish_reason": "abort"}


def test_import_guard_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(ImportError, match=r"int-harness\[vllm\]"):
        get_backend("vllm", model="Qwen/Qwen3-4B-Instruct-2507")
