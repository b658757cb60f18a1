"""The world model's tokenizer, chat template and transformer config.

WHY these choices: every later stage (HF/vLLM backends, TRL SFT/GRPO, evaluation) must treat the
world model exactly like a hub model, so it is a stock Llama causal LM with a byte-level BPE
tokenizer and a ChatML (Qwen-style) template, saved with `save_pretrained`. Llama, not Qwen2: for
`model_type="qwen2"` transformers 5 always rebuilds the tokenizer as `Qwen2Tokenizer` (its own
pre-tokenizer regex, digits split one by one), ignoring `tokenizer.json`; for Llama it loads the saved
`TokenizersBackend` exactly as built. The vocabulary is built by hand from
the world's words so that every number, operator and keyword is ONE token (short sequences, fast
CPU training), while unknown text still round-trips losslessly through 256 byte tokens (BPE with
`ignore_merges`: a whole pre-token in the vocabulary wins, anything else falls back to bytes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# Step labels ("Step 3:", "**Substep 3:**", "Substep 3:") are ONE token each, so finding operation i in
# the prompt (or substep i in an attempt) is a one-token match: the classic induction head, which a tiny
# transformer learns in a few hundred steps. An operation with its operand ("+5") and \boxed{ are one
# token each; then newline runs, words, numbers
# (with their leading space) and punctuation runs.
SPLIT_PATTERN = (
    r" ?(?:\*\*)?Substep \d+:(?:\*\*)?| ?Step \d+:| ?\\boxed\{| ?[-+]\d+|\n+| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+| +|\s+"
)
MAX_STEP_LABEL = 64  # step labels up to this number are single tokens (longer runaway attempts use bytes)
MAX_OPERAND = 31  # operations "+c" and "-c" are single tokens up to this operand
MAX_NUMBER = 255  # every integer 0..MAX_NUMBER is a single token, with and without a leading space

# ChatML, as in Qwen2 (no default system prompt). `continue_final_message` is handled by transformers,
# which cuts the rendered chat right after the final message's content.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


@dataclass(frozen=True)
class ModelSpec:
    """Transformer size. Defaults give ~1.2M parameters: fast on 2 CPU cores, big enough for the world."""

    hidden_size: int = 128
    intermediate_size: int = 512
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 4
    max_position_embeddings: int = 1024
    rope_theta: float = 10000.0

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def build_tokenizer(texts: Iterable[str]) -> Tokenizer:
    """A byte-level BPE whose vocabulary is every pre-token of `texts` plus all small numbers.

    Deterministic: ids are specials, then the 256 byte symbols, then words in sorted order."""
    pre = _pre_tokenizer()
    words: set[str] = set()
    for t in texts:
        words.update(w for w, _ in pre.pre_tokenize_str(t))
    for n in range(MAX_NUMBER + 1):
        words.update(w for w, _ in pre.pre_tokenize_str(f"{n} {n}"))
    for n in range(1, MAX_STEP_LABEL + 1):
        for label in (f"Step {n}:", f"**Substep {n}:**", f"Substep {n}:"):  # at a line start and after a space
            words.update(w for text in (label, f" {label}") for w, _ in pre.pre_tokenize_str(text))
    for n in range(MAX_OPERAND + 1):
        for op in "+-":
            words.update(w for w, _ in pre.pre_tokenize_str(f"{op}{n} {op}{n}"))
    for extra in ("system", "user", "assistant", "tool"):  # ChatML role names
        words.update(w for w, _ in pre.pre_tokenize_str(f"{extra} {extra}"))
    vocab: dict[str, int] = {s: i for i, s in enumerate(SPECIAL_TOKENS)}
    for sym in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab.setdefault(sym, len(vocab))
    for w in sorted(words):
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], ignore_merges=True))
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    return tok


def wrap_tokenizer(tok: Tokenizer):  # -> PreTrainedTokenizerFast
    """The transformers tokenizer, configured like a Qwen2 instruct tokenizer."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=1024,
        clean_up_tokenization_spaces=False,
    )


def build_model(spec: ModelSpec, tokenizer, seed: int):  # -> LlamaForCausalLM
    """A freshly initialised Llama causal LM (tied embeddings), seeded."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.max_position_embeddings,
        rope_theta=spec.rope_theta,
        tie_word_embeddings=True,
        bos_token_id=eot,
        eos_token_id=im_end,
        pad_token_id=eot,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    model.generation_config = GenerationConfig(
        bos_token_id=eot, eos_token_id=[im_end, eot], pad_token_id=eot, do_sample=True
    )
    return model


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def save_dir_is_complete(path: Path) -> bool:
    return all((path / f).exists() for f in ("config.json", "tokenizer.json", "world_recipe.json"))
