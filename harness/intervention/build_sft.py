"""Stage 4, build-sft: the filter cascade with counts, then trainer-neutral SFT rows.

A row is the rollout prompt, chat-templated with a generation prompt, followed by the target: the
model's own prefix (substeps before the error) + the intervention -- *no* end-of-turn, *no* EOS, since
the target is a partial solution the model must keep going from (the paper's ``qwen3_nothink_noeos``).
Rows carry ``input_ids`` and a ``loss_mask`` (0 on the prompt, 1 on the target) so no trainer ever
re-renders a chat template (anchors.md B.0 pitfalls A and B: TRL and OpenRLHF would close the turn).

Ablations (int-paper.md §4.3): ``include_prefix=False`` moves the prefix into the masked context (the
"no prefix cloning" row), ``include_intervention=False`` trains on the prefix alone (the "prefix only"
row), ``include_suffix=True`` appends a correct continuation, the correctness filter can be turned off,
and the proposer is chosen by which propose stage is read.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.intervention.analytics import describe
from harness.intervention.config import IntConfig
from harness.intervention.continuation import selected_interventions
from harness.intervention.filters import FILTER_ORDER
from harness.intervention.stages import (
    StageNotReady,
    begin,
    iter_jsonl,
    stage_dir,
    write_jsonl,
)
from harness.intervention.steps import format_intervention, prefix_before
from harness.models import resolve_model
from harness.rundir import Manifest

# The filter buckets in order: selection (shared with the continue stage), then build-sft's own.
CASCADE = (*FILTER_ORDER, "failed_correctness", "no_correct_suffix", "empty_target", "special_token_in_target", "kept")


def tokenizer_identity(tok: Any) -> dict[str, Any]:
    """What the ids depend on: recorded in the manifest and hashed into the protocol."""
    vocab = (
        tok.backend_tokenizer.to_str()
        if hasattr(tok, "backend_tokenizer")
        else repr(sorted(tok.get_vocab().items()))
    )
    return {
        "name_or_path": tok.name_or_path,
        "class": type(tok).__name__,
        "vocab_size": len(tok),
        "eos_token": tok.eos_token,
        "eos_token_id": tok.eos_token_id,
        "chat_template_sha256": hashlib.sha256((tok.chat_template or "").encode()).hexdigest()[:16],
        "tokenizer_sha256": hashlib.sha256(vocab.encode()).hexdigest()[:16],
    }


def encode_example(
    tok: Any,
    messages: list[dict[str, str]],
    prefix: str,
    intervention: str,
    *,
    include_prefix: bool = True,
    suffix: str = "",
    include_intervention: bool = True,
) -> dict[str, Any]:
    """Prompt ids (chat template + generation prompt [+ prefix when not cloned]) then target ids, with
    the loss mask on the target only. ``include_intervention=False`` (Table 2's "prefix only") leaves the
    intervention out altogether: the target is the prefix (+ suffix). Target text is tokenized with special tokens split, so model text
    that happens to spell ``<|im_end|>`` can never become an end-of-turn id."""
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    context = prompt if include_prefix else prompt + prefix
    target = (prefix if include_prefix else "") + (intervention if include_intervention else "") + suffix
    p_ids = tok(context, add_special_tokens=False)["input_ids"]
    t_ids = tok(target, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    return {
        "prompt_text": context,
        "target_text": target,
        "input_ids": p_ids + t_ids,
        "loss_mask": [0] * len(p_ids) + [1] * len(t_ids),
        "_chat_prompt": prompt,
    }


def sft_path(cfg: IntConfig) -> Path:
    """``<run>/build-sft-<label>[-<variant>]/sft.jsonl``: where `run_build_sft` writes the rows of ``cfg``."""
    return stage_dir(cfg, "build-sft", "-".join(filter(None, (cfg.propose.stage_label(), cfg.build_sft.variant())))) / "sft.jsonl"


def run_build_sft(cfg: IntConfig, *, tokenizer: Any = None) -> dict[str, Any]:
    """Build (or confirm) ``build-sft-<label>/sft.jsonl``; returns the filter counts and length analytics."""
    bc = cfg.build_sft
    label = cfg.propose.stage_label()
    out = sft_path(cfg).parent
    selected, counts, attempts, propose = selected_interventions(cfg)
    needs_continue = bc.correctness_filter or bc.include_suffix
    cont_dir = stage_dir(cfg, "continue", label)
    cont = Manifest(cont_dir / "manifest.json")
    if needs_continue and cont.data.get("status") != "complete":
        raise StageNotReady(
            f"{cont_dir} is not complete; run `harness int continue` first (or turn the correctness filter off)"
        )
    if tokenizer is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(resolve_model(bc.tokenizer or cfg.policy.model))
    tok_id = tokenizer_identity(tokenizer)
    protocol = {
        "stage": "build-sft",
        "upstream": propose["protocol_hash"],
        "continue": cont.data.get("protocol_hash") if needs_continue else None,
        "select": cfg.select.model_dump(),
        "build_sft": bc.protocol(),
        "tokenizer": tok_id,
    }
    manifest, _, complete = begin(out, "int-build-sft", protocol, cfg.model_dump(by_alias=True))
    if complete:
        return manifest.data["counts"]

    continuations: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if needs_continue and (cont_dir / "samples.jsonl").exists():  # absent when nothing was selected
        for s in iter_jsonl(cont_dir / "samples.jsonl"):
            if s["problem_id"].startswith("intervention:"):
                continuations[s["problem_id"].split(":", 1)[1]].append(s)
    special = set(tokenizer.all_special_ids)
    rows, lengths, template_mismatch = [], defaultdict(list), 0
    cascade = {k: counts.get(k, 0) for k in CASCADE}
    cascade["parse_failed_by_reason"] = counts["parse_failed_by_reason"]
    for sel in selected:
        a = attempts[sel["attempt_id"]]
        samples = sorted(continuations.get(sel["attempt_id"], []), key=lambda s: s["sample_index"])
        n_correct = sum(bool(s["correct"]) for s in samples)
        prefix, intervention = (
            prefix_before(a["attempt"], sel["location"]),
            format_intervention(sel["content"]),
        )
        # lengths over every selected intervention (Fig. 10), before the correctness filter can bias them
        lengths["intervention_tokens"].append(
            len(tokenizer(intervention, add_special_tokens=False)["input_ids"])
        )
        lengths["prefix_tokens"].append(
            len(tokenizer(prefix, add_special_tokens=False)["input_ids"]) if prefix else 0
        )
        lengths["rollout_tokens"].append(int(a.get("completion_tokens") or 0))
        if bc.correctness_filter and n_correct < bc.min_correct:
            cascade["failed_correctness"] += 1
            continue
        suffix = ""
        if bc.include_suffix:
            good = [s["text"] for s in samples if s["correct"]]
            if not good:
                cascade["no_correct_suffix"] += 1
                continue
            suffix = good[0]
        ex = encode_example(
            tokenizer, a["messages"], prefix, intervention, include_prefix=bc.include_prefix, suffix=suffix,
            include_intervention=bc.include_intervention,
        )
        target_ids = [t for t, m in zip(ex["input_ids"], ex["loss_mask"], strict=True) if m]
        if not target_ids:  # prefix only, and the first error is the first substep: nothing to train on
            cascade["empty_target"] += 1
            continue
        if special.intersection(target_ids):
            cascade["special_token_in_target"] += 1
            continue
        given = prefix + (intervention if bc.include_intervention else "") + suffix
        continued = tokenizer.apply_chat_template(
            [*a["messages"], {"role": "assistant", "content": given}],
            tokenize=False,
            continue_final_message=True,
        )
        template_mismatch += continued != ex.pop("_chat_prompt") + given
        lengths["kept_target_tokens"].append(len(target_ids))
        rows.append(
            {
                "id": f"{label}:{sel['attempt_id']}",
                "problem_id": a["problem_id"],
                **ex,
                "meta": {
                    "attempt_id": sel["attempt_id"],
                    "proposer": label,
                    "proposal_index": sel["proposal_index"],
                    "location": sel["location"],
                    "n_substeps": a["n_substeps"],
                    "continuations_correct": n_correct,
                    "continuations": len(samples),
                    "include_prefix": bc.include_prefix,
                    "include_suffix": bc.include_suffix,
                    "include_intervention": bc.include_intervention,
                },
            }
        )
    cascade["kept"] = len(rows)
    write_jsonl(out / "sft.jsonl", rows)
    ratio = [
        i / r for i, r in zip(lengths["intervention_tokens"], lengths["rollout_tokens"], strict=True) if r
    ]
    result = {
        "filters": cascade,
        "rows": len(rows),
        "problems": len({r["problem_id"] for r in rows}),
        "chat_template_continue_mismatch": template_mismatch,
        "lengths": {k: describe(v) for k, v in lengths.items()}
        | {"intervention_over_rollout": describe(ratio)},
    }
    manifest.finish(counts=result, tokenizer=tok_id)
    return result
