"""Measure the two abilities InT relies on, on any checkpoint of the world model.

1. Solving, imperfectly: avg@k at temperature 1 by difficulty (plus pass@k and the share of all-wrong
   groups), on the TEST split; and the zero-advantage share where RL starts: all-wrong groups of 8 at
   T=1 on the regime's hard TRAIN problems (the ones `harness compare` trains on).
2. Verifying against a reference: on the model's OWN failed attempts, the compact verification prompt
   must yield a parseable `<intervention>` whose location is the true first error (`first_error`).
3. (mechanism check) Continuations from prefix + the model's own correct intervention vs from prefix +
   the original erroneous step: InT works only if the first succeed far more often.
4. Self-reflection (what the paper's reflection baseline asks): on the same failed attempts, rewrite the
   whole solution; the share whose rewrite parses and is right.
5. How off-policy the references are: mean per-token NLL, under the model, of the reference solutions
   (in the regime's style) vs the same solutions in the model's own format, as answers to the problem.

The verification and reflection prompts show the reference in the regime's style
(`WorldSpec.reference_style`), as InT's proposer sees it.

Generation goes through `harness.backends.get_backend("hf", ...)` (or a backend passed in) and
grading through `harness.grading.grade`, exactly as in evaluation.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.world.problems import (
    WorldProblem,
    WorldSpec,
    corrected_step,
    first_error,
    generate_problems,
    guided_prefix,
    parse_intervention,
    reference_solution,
    render_reflection_prompt,
    render_verification_prompt,
    split_steps,
)

Progress = Callable[[str, int, int], None]  # (phase, done, total)


def _grader() -> tuple[Callable[[str, str], bool], str]:
    from harness.grading import grade

    return (lambda text, gold: bool(grade(text, gold).correct)), "harness.grading.grade"


def open_backend(model_dir: str | Path, backend: Any = None, batch_size: int = 256) -> tuple[Any, str]:
    """The backend passed in, else the harness HF backend on ``model_dir``."""
    if backend is not None:
        return backend, getattr(backend, "name", type(backend).__name__)
    from harness.backends import get_backend

    return get_backend("hf", model=str(model_dir), batch_size=batch_size), "harness.backends:hf"


def _generate(backend: Any, messages: Sequence[tuple[dict[str, str], ...]], cont: bool, **sp: Any) -> list[list[str]]:
    from harness.backends.base import GenerationRequest, SamplingParams

    reqs = [GenerationRequest(messages=m, continue_final_message=cont) for m in messages]
    out = backend.generate(reqs, SamplingParams(**sp))
    return [[s.text for s in samples] for samples in out]


def _spec_of(model_dir: Path) -> WorldSpec:
    """The world the checkpoint was built for (an SFT/RL checkpoint without a recipe: the default world)."""
    recipe = model_dir / "world_recipe.json"
    return WorldSpec.from_dict(json.loads(recipe.read_text())["world"]) if recipe.exists() else WorldSpec()


def _solve(be: Any, probs: list[WorldProblem], level: int, samples: int, seed: int,
           grade: Callable[[str, str], bool]) -> list[list[tuple[str, bool]]]:
    """`samples` attempts per problem at T=1 (the RL temperature), each graded."""
    outs = _generate(
        be, [({"role": "user", "content": wp.text},) for wp in probs], False,
        n=samples, temperature=1.0, top_p=1.0, top_k=0, max_tokens=16 * level + 24, seed=seed,
    )
    return [[(t, bool(grade(t, str(wp.answer)))) for t in texts] for wp, texts in zip(probs, outs, strict=True)]


def _group_row(level: int, groups: list[list[bool]], samples: int) -> dict[str, Any]:
    flat = [s for row in groups for s in row]
    return {
        "level": level,
        "category": f"steps-{level}",
        "problems": len(groups),
        f"avg@{samples}": sum(flat) / max(1, len(flat)),
        f"pass@{samples}": sum(any(r) for r in groups) / max(1, len(groups)),
        "all_wrong_groups": sum(not any(r) for r in groups) / max(1, len(groups)),
    }


def measure_abilities(
    model_dir: str | Path,
    *,
    backend: Any = None,
    levels: Sequence[int] | None = None,
    n_per_level: int = 32,
    samples: int = 8,
    split: str = "test",
    verify_max: int = 256,
    verify_sampling: tuple[float, float, int] = (0.7, 0.8, 20),
    continuation_max: int = 48,
    continuation_k: int = 4,
    group_size: int = 8,
    spec: WorldSpec | None = None,
    seed: int = 0,
    batch_size: int = 256,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Solve table by difficulty, zero-advantage share on the hard train set, verifier accuracy on own
    failures (+ continuation check).

    `verify_sampling` is (temperature, top_p, top_k) -- the paper's proposer settings by default;
    `group_size` is the RL group size the zero-advantage share is measured at; `spec` the world (default:
    the one in the checkpoint's `world_recipe.json`; SFT/RL checkpoints have none: pass their regime's)."""
    model_dir = Path(model_dir)
    spec = spec or _spec_of(model_dir)
    levels = tuple(levels or spec.levels)
    be, be_name = open_backend(model_dir, backend, batch_size)
    grade, grader_name = _grader()
    tick = progress or (lambda *a: None)
    rng = random.Random(f"abilities|{seed}")

    # 1. solving --------------------------------------------------------------------------------
    solve_rows, failures = [], []
    for li, level in enumerate(levels):
        probs = generate_problems(level, n_per_level, split, seed=seed, spec=spec)
        graded = _solve(be, probs, level, samples, seed, grade)
        solve_rows.append(_group_row(level, [[ok for _, ok in row] for row in graded], samples))
        failures += [(wp, t) for wp, row in zip(probs, graded, strict=True) for t, ok in row if not ok]
        tick("solve", li + 1, len(levels))

    # 1b. the zero-advantage regime where RL starts: groups of 8 on the hard TRAIN problems ---------
    hard_rows = []
    for li, level in enumerate(spec.hard_levels):
        probs = generate_problems(level, n_per_level, "train", seed=seed, spec=spec)
        graded = _solve(be, probs, level, group_size, seed, grade)
        hard_rows.append(_group_row(level, [[ok for _, ok in row] for row in graded], group_size))
        tick("hard train groups", li + 1, len(spec.hard_levels))
    n_groups = sum(r["problems"] for r in hard_rows)
    zero_adv = {
        "split": "train",
        "levels": list(spec.hard_levels),
        "group_size": group_size,
        "temperature": 1.0,
        "groups": n_groups,
        "all_wrong_share": sum(r["all_wrong_groups"] * r["problems"] for r in hard_rows) / max(1, n_groups),
        "by_level": hard_rows,
    }

    # 2. verifying own failed attempts -----------------------------------------------------------
    pool = [(wp, t, first_error(wp, t)) for wp, t in failures]
    pool = [x for x in pool if x[2] is not None]  # grader and checker may disagree on odd outputs
    picked = sorted(rng.sample(range(len(pool)), min(verify_max, len(pool))))
    # A runaway attempt (dozens of blank-line chunks) makes a prompt past the trained length: counted
    # as a miss, not sent (the backend would reject prompt + max_tokens beyond the context window).
    chosen, too_long = [], 0
    for i in picked:
        wp, t, _ = pool[i]
        if len(split_steps(t)) > 2 * wp.level + 4:
            too_long += 1
        else:
            chosen.append(pool[i])
    temp, top_p, top_k = verify_sampling
    v_outs = _generate(
        be, [({"role": "user", "content": render_verification_prompt(wp, t, reference_solution(wp, spec.reference_style))},)
             for wp, t, _ in chosen], False,
        n=1, temperature=temp, top_p=top_p, top_k=top_k, max_tokens=8 * max(levels) + 80, seed=seed,
    ) if chosen else []
    tick("verify", 1, 1)
    parsed = exact = content_ok = 0
    off: Counter[str] = Counter()
    true_locs: Counter[int] = Counter()
    good_interventions = []
    for (wp, attempt, t_star), texts in zip(chosen, v_outs, strict=True):
        true_locs[t_star] += 1
        iv = parse_intervention(texts[0])
        if iv is None:
            off["unparsed"] += 1
            continue
        parsed += 1
        d = iv.location - t_star
        off[f"{d:+d}" if abs(d) <= 3 else ("<=-4" if d < 0 else ">=+4")] += 1
        if d == 0:
            exact += 1
            if iv.content.strip() == corrected_step(wp, t_star):
                content_ok += 1
                good_interventions.append((wp, attempt, iv))
    n_v = len(chosen) + too_long
    if too_long:
        off["too_long"] = too_long
    verify = {
        "failed_attempts": n_v,
        "parse_rate": parsed / max(1, n_v),
        "exact_location_rate": exact / max(1, n_v),
        "exact_location_and_content_rate": content_ok / max(1, n_v),
        "off_by_k": dict(sorted(off.items())),
        "true_first_error_hist": {str(k): v for k, v in sorted(true_locs.items())},
        "sampling": {"temperature": temp, "top_p": top_p, "top_k": top_k},
    }

    # 3. continuation check (InT's mechanism) --------------------------------------------------
    cont = _continuations(be, good_interventions[:continuation_max], continuation_k, seed, grade)
    tick("continue", 1, 1)

    # 4. self-reflection rewrites on the same failed attempts ------------------------------------
    reflect = _reflections(be, chosen[:continuation_max * 2], spec, (temp, top_p, top_k), max(levels), seed, grade)
    tick("reflect", 1, 1)

    # 5. how far the references are from the model's own format ----------------------------------
    nll = _reference_nll(be, generate_problems(max(spec.hard_levels), 32, split, seed=seed, spec=spec), spec)
    be_close = getattr(be, "close", None)
    if backend is None and callable(be_close):
        be_close()
    return {
        "model_dir": str(model_dir),
        "split": split,
        "samples": samples,
        "solve_temperature": 1.0,
        "backend": be_name,
        "grader": grader_name,
        "world": {"novel_op": spec.novel_op, "novel_levels": list(spec.novel_levels), "hard_levels": list(spec.hard_levels)},
        "solve": solve_rows,
        "zero_advantage": zero_adv,
        "verify": verify,
        "continuation": cont,
        "reflection": reflect,
        "reference_nll": nll,
    }


def _reflections(be: Any, items: list[tuple[WorldProblem, str, Any]], spec: WorldSpec, sampling: tuple[float, float, int],
                 max_level: int, seed: int, grade: Callable[[str, str], bool]) -> dict[str, Any]:
    """Share of failed attempts whose reflection rewrite parses (``<rewrite>...</rewrite>``) and is right."""
    from harness.intervention.reflect import parse_rewrite

    if not items:
        return {"attempts": 0}
    temp, top_p, top_k = sampling
    msgs = [({"role": "user", "content": render_reflection_prompt(wp, t, reference_solution(wp, spec.reference_style))},)
            for wp, t, _ in items]
    outs = _generate(be, msgs, False, n=1, temperature=temp, top_p=top_p, top_k=top_k,
                     max_tokens=20 * max_level + 60, seed=seed)
    rewrites = [parse_rewrite(texts[0]) for texts in outs]
    right = [r is not None and grade(r, str(wp.answer)) for (wp, _, _), r in zip(items, rewrites, strict=True)]
    return {"attempts": len(items), "parse_rate": sum(r is not None for r in rewrites) / len(items),
            "correct_rate": sum(right) / len(items)}


def _reference_nll(be: Any, probs: list[WorldProblem], spec: WorldSpec) -> dict[str, Any]:
    """Mean per-token NLL of the answer tokens (problem as the user turn, masked) for the regime's
    reference solutions and for the same solutions in the model's own step format."""
    import torch

    model, tok = getattr(be, "hf_model", None), getattr(be, "tokenizer", None)
    if model is None or tok is None:
        return {}
    out = {}
    for name, texts in (("reference", [reference_solution(wp, spec.reference_style) for wp in probs]),
                        ("own_format", [wp.solution for wp in probs])):
        total, count = 0.0, 0
        for wp, text in zip(probs, texts, strict=True):
            prompt = tok.apply_chat_template([{"role": "user", "content": wp.text}], tokenize=False, add_generation_prompt=True)
            p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
            a_ids = tok(text, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([p_ids + a_ids])
            with torch.inference_mode():
                logits = model(ids).logits[0, len(p_ids) - 1 : -1].float()
            total += float(torch.nn.functional.cross_entropy(logits, ids[0, len(p_ids):], reduction="sum"))
            count += len(a_ids)
        out[name] = round(total / max(1, count), 4)
    out["problems"] = len(probs)
    return out


def _continuations(
    be: Any, items: list[tuple[WorldProblem, str, Any]], k: int, seed: int, grade: Callable[[str, str], bool]
) -> dict[str, Any]:
    """Success of continuing after prefix+intervention vs after prefix+original erroneous step."""
    if not items or k <= 0:
        return {"attempts": 0}
    rows: dict[str, list[float]] = {"intervention": [], "original_step": []}
    for kind in rows:
        msgs, prefixes = [], []
        for wp, attempt, iv in items:
            if kind == "intervention":
                prefix = guided_prefix(attempt, iv)
            else:
                chunks = split_steps(attempt)
                prefix = "\n\n".join(chunks[: iv.location]) if iv.location <= len(chunks) else attempt
            prefixes.append(prefix)
            msgs.append(({"role": "user", "content": wp.text}, {"role": "assistant", "content": prefix}))
        outs = _generate(be, msgs, True, n=k, temperature=1.0, top_p=1.0, top_k=0,
                         max_tokens=16 * max(wp.level for wp, _, _ in items) + 24, seed=seed)
        for (wp, _, _), prefix, texts in zip(items, prefixes, outs, strict=True):
            rows[kind] += [float(grade(prefix + t, str(wp.answer))) for t in texts]
    a = sum(rows["intervention"]) / len(rows["intervention"])
    b = sum(rows["original_step"]) / len(rows["original_step"])
    return {
        "attempts": len(items),
        "k": k,
        "success_after_intervention": a,
        "success_after_original_step": b,
        "ratio": (a / b) if b > 0 else None,
    }
