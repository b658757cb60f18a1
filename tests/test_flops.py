"""FLOPs from a model's shape (`harness.flops`) against a hand count and torch's own FLOP counter."""

from __future__ import annotations

import pytest
import torch

from harness.flops import ModelShape, generation_flops, rl_flops, shape_of, training_flops

CFG = {"num_hidden_layers": 2, "hidden_size": 8, "intermediate_size": 16, "num_attention_heads": 2,
       "num_key_value_heads": 1, "head_dim": 4, "vocab_size": 10}


def test_hand_count_for_a_tiny_model():
    s = shape_of(CFG)
    # per layer: q 8x8 + o 8x8 = 128, k 8x4 + v 8x4 = 64 (one kv head of 4), MLP 3 x 8x16 = 384 -> 576; x2 layers
    # + the LM head 8x10 = 80
    assert s.matmul_params == 2 * (128 + 64 + 384) + 80 == 1232
    assert s.attention_width == 8
    # a forward pass over 5 tokens: 2 N T + 4 L A sum(c for c in 0..4) = 2*1232*5 + 4*2*8*10
    assert s.forward(5) == 2 * 1232 * 5 + 4 * 2 * 8 * 10 == 12960
    # generation of 3 prompt + 2 completion tokens is the same five positions, each processed once
    assert s.generation(3, 2) == s.forward(5)
    assert s.training(5) == 3 * 12960
    assert generation_flops(s, [{"prompt_tokens": 3, "completion_tokens": 2}] * 4) == 4 * 12960
    assert generation_flops(None, [{"prompt_tokens": 3, "completion_tokens": 2}]) == 0.0
    assert training_flops(s, [5, 5], epochs=2) == 4 * 3 * 12960
    # RL from totals: 4 samples of 3 + 2 tokens, generated and trained on
    assert rl_flops(s, 4, 12, 8) == {"generation": 4 * 12960, "training": 3 * 4 * 12960}


def test_matmul_flops_match_torch_flop_counter():
    """torch counts every matmul of a real forward pass (eager attention computes the full T x T score
    matrix: 4 L A T^2); the parameter part must equal ours exactly."""
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(**CFG, tie_word_embeddings=True, attn_implementation="eager")
    model = LlamaForCausalLM(cfg).eval()
    s = shape_of(cfg.to_dict())
    linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    assert linear == s.matmul_params
    T = 7
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.arange(T)[None])
    assert counter.get_total_flops() == 2 * s.matmul_params * T + 4 * s.layers * s.attention_width * T * T
    # ours counts the causal half that an attention kernel needs: sum_c 4 L A c
    assert s.forward(T) == 2 * s.matmul_params * T + 4 * s.layers * s.attention_width * (T * (T - 1) // 2)


def test_shape_of_a_saved_model(tiny_model_dir):
    s = shape_of(tiny_model_dir)
    assert isinstance(s, ModelShape) and s.matmul_params > 0
    with pytest.raises(FileNotFoundError):
        shape_of(tiny_model_dir / "missing")
