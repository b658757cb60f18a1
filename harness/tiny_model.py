"""A tiny random chat model, built offline in seconds, that loads exactly like a Hub checkpoint.

Why: tests and CPU smoke runs need a *real* transformers model directory (config, safetensors weights,
byte-level BPE tokenizer, ChatML chat template, generation config) without any Hub access. The weights
are random, so the text is gibberish -- but every code path (chat templating, continuation prompts,
batching, stop strings, token accounting, serving) runs as it would with Qwen or Llama.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from pathlib import Path

# Special tokens follow Qwen2's ChatML conventions: <|im_end|> ends a turn (EOS), <|endoftext|> pads.
PAD_TOKEN = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = [PAD_TOKEN, IM_START, IM_END]

# ChatML. No default system prompt and no content trimming, so `continue_final_message=True` cuts the
# prompt exactly after the partial assistant text (transformers truncates at the end of the final message).
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

_SENTENCES = [
    "Let x be a real number such that x^2 - 5x + 6 = 0. Find all possible values of x.",
    "We factor the quadratic: (x - 2)(x - 3) = 0, so x = 2 or x = 3.",
    "The sum of the first n positive integers is n(n + 1)/2.",
    "Compute the remainder when 2^{100} is divided by 7.",
    "Since 2^3 = 8 \\equiv 1 \\pmod{7}, we have 2^{99} \\equiv 1, hence 2^{100} \\equiv 2.",
    "Therefore the answer is \\boxed{2}.",
    "Let ABC be a triangle with AB = 3, BC = 4 and CA = 5. Find its area.",
    "By the Pythagorean theorem the triangle is right-angled, so the area is \\frac{1}{2} \\cdot 3 \\cdot 4 = 6.",
    "Wait, let me double-check the computation step by step.",
    "**Substep 1:** Simplify the expression \\sqrt{18} + \\sqrt{8} = 3\\sqrt{2} + 2\\sqrt{2} = 5\\sqrt{2}.",
    "How many primes are less than 30? They are 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, so there are 10.",
    "Solve the system x + y = 10 and x - y = 4. Adding gives 2x = 14, so x = 7 and y = 3.",
    "The probability of rolling a sum of 7 with two dice is 6/36 = 1/6.",
    "Let f(x) = 3x + 1. Then f(f(2)) = f(7) = 22.",
    "The derivative of x^3 is 3x^2, and \\int_0^1 x^2 \\, dx = 1/3.",
    '<intervention>{"content": "Consider the parity of n first.", "location": 3}</intervention>',
    "I think the key insight is to use the AM-GM inequality: a + b \\ge 2\\sqrt{ab}.",
    "Final answer: 42. Hence \\boxed{42} is correct.",
]
_WORDS = (
    "Let Then so the answer is we get Step Hence number sum prime integer equation solve value "
    "= + - \\cdot \\frac \\boxed ^ { }"
).split()


def _corpus(seed: int, n_lines: int = 400) -> Iterator[str]:
    """Deterministic math-ish training text: fixed sentences plus seeded word/number salad."""
    rng = random.Random(seed)
    yield from _SENTENCES
    for _ in range(n_lines):
        words = [rng.choice(_WORDS) if rng.random() < 0.7 else str(rng.randint(0, 999)) for _ in range(12)]
        yield " ".join(words) + rng.choice([".", "\n", "\n\n", "?"])
    yield "user\nassistant\nsystem\nYou are a helpful assistant."


def build_tokenizer(*, vocab_size: int = 768, seed: int = 0):
    """Train a byte-level BPE tokenizer (any UTF-8 text round-trips) and wrap it for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(_corpus(seed)), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=IM_END,
        pad_token=PAD_TOKEN,
        extra_special_tokens=[IM_START],
        chat_template=CHAT_TEMPLATE,
        model_max_length=2048,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )


def build_tiny_model(
    out_dir: str | Path,
    *,
    arch: str = "qwen2",
    seed: int = 0,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int | None = None,
    vocab_size: int = 768,
    max_position_embeddings: int = 2048,
) -> Path:
    """Build and save a tiny random causal LM + tokenizer to ``out_dir``; returns the directory.

    Deterministic for a given ``seed`` and arguments (same tokenizer merges, same weights).
    ``arch`` is ``"qwen2"`` or ``"llama"``. Load it back with the Auto classes like any Hub model.
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    archs = {"qwen2": (Qwen2Config, Qwen2ForCausalLM), "llama": (LlamaConfig, LlamaForCausalLM)}
    if arch not in archs:
        raise ValueError(f"unknown arch {arch!r}; choose one of {sorted(archs)}")
    if hidden_size % num_heads or num_heads % num_kv_heads:
        raise ValueError("hidden_size must divide by num_heads, and num_heads by num_kv_heads")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = build_tokenizer(vocab_size=vocab_size, seed=seed)
    eos_id = tokenizer.convert_tokens_to_ids(IM_END)
    pad_id = tokenizer.convert_tokens_to_ids(PAD_TOKEN)
    config_cls, model_cls = archs[arch]
    config = config_cls(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or 2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    torch.manual_seed(seed)
    model = model_cls(config).eval()
    model.generation_config = GenerationConfig(bos_token_id=None, eos_token_id=eos_id, pad_token_id=pad_id)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> None:
    """``python -m harness.tiny_model OUT_DIR`` -- a thin CLI the lead can wire into ``harness``."""
    p = argparse.ArgumentParser(description=build_tiny_model.__doc__)
    p.add_argument("out_dir")
    p.add_argument("--arch", default="qwen2", choices=["qwen2", "llama"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hidden-size", type=int, default=64)
    p.add_argument("--num-layers", type=int, default=2)
    a = p.parse_args(argv)
    path = build_tiny_model(
        a.out_dir, arch=a.arch, seed=a.seed, hidden_size=a.hidden_size, num_layers=a.num_layers
    )
    print(path)


if __name__ == "__main__":
    main()
