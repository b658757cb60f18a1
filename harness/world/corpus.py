"""The pretraining corpus: a noisy teacher's solution traces plus verification transcripts.

WHY a noisy teacher: InT needs a base model that solves imperfectly, with errors that (1) appear at a
controllable per-step rate, so a k-step problem succeeds with about q^k and levels 1..L span easy to
nearly hopeless, and (2) propagate consistently, so a single error really dooms the attempt and a
corrected step really rescues it. The teacher is sloppy in a *systematic* way (results that need
reducing mod p are "hard facts", with an off-by-one misconception more likely than the right answer),
so errors are not uniform noise: greedy decoding fails on hard facts too, and the first-error
location depends on the content.

In a regime with a novel operation (problems.WorldSpec.novel_op, only at hard levels) the teacher has a
blind spot: it gets that operation right with probability `q_novel` (0 in the blindspot regime) and
otherwise writes the wrong product c*v + 1 -- never congruent to the right one, so no sample of the base
model contains the fact. Only reference solutions do: in verification transcripts the model copies the
corrected step from the reference, which is how InT's self-proposed interventions can carry it.

The verification transcripts teach the second ability InT relies on: given the reference and a failed
attempt (drawn from the same teacher, i.e. the same error distribution as the model's own attempts),
write a compact log up to the first wrong substep and an intervention that replaces it. The reference is
written in the regime's style (`WorldSpec.reference_style`): with off-policy ("textbook") references the
model learns to translate the reference's prose into one step of its own format.

The reflection transcripts teach what the paper's self-reflection baseline asks of a model: the same
inputs, then "substep k is wrong" and the whole solution rewritten in the model's own format.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from harness.world.problems import (
    NOVEL_OPS,
    OPS,
    STEP_SEP,
    WorldProblem,
    WorldSpec,
    apply_op,
    boxed_line,
    first_error,
    generate_problems,
    integer_result,
    operand_choices,
    random_problem,
    reference_solution,
    render_reflection_prompt,
    render_reflection_target,
    render_verification_prompt,
    render_verification_target,
    split_of,
    step_line,
)


@dataclass(frozen=True)
class NoiseSpec:
    """How the teacher errs. Per-step accuracy is q_easy on easy facts and q_hard on hard ones."""

    q_easy: float = 0.95
    q_hard: float = 0.40  # below 1/2: on a hard fact the teacher's most likely answer is its misconception
    misconception: float = 1.0  # share of wrong results that are the misconception (the rest: uniform)
    operand_slip: float = 0.01  # misread the operand (the line uses another c, computed correctly)
    early_stop: float = 0.01  # box the current value instead of doing the step
    q_novel: float = 0.0  # accuracy on the regime's novel op (WorldSpec.novel_op); else the product c*v + 1

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def is_hard_fact(v: int, op: str, c: int, p: int) -> bool:
    """Facts whose integer result must be reduced (wrap-around additions, borrowing subtractions)."""
    return not 0 <= integer_result(v, op, c) < p


def misconception(v: int, op: str, c: int, p: int) -> int:
    """The teacher's wrong reduction: one more than the residue (13 ≡ 3 mod 11 instead of 2).

    Always +1: two misconceptions never cancel (it would take p of them), so a failed attempt really
    fails, and errors are content-dependent rather than uniform noise."""
    return (apply_op(v, op, c, p) + 1) % p


def teacher_step(v: int, op: str, c: int, p: int, noise: NoiseSpec, rng: random.Random) -> int:
    """The teacher's result for one fact: right with prob q, else (mostly) its misconception."""
    q = noise.q_hard if is_hard_fact(v, op, c, p) else noise.q_easy
    right = apply_op(v, op, c, p)
    if rng.random() < q:
        return right
    if rng.random() < noise.misconception:
        return misconception(v, op, c, p)
    return rng.choice([x for x in range(p) if x != right])


def novel_misconception(v: int, op: str, c: int) -> int:
    """The teacher's wrong product for the novel op: c*v + 1 (7 *2 = 15), never congruent to c*v."""
    return integer_result(v, op, c) + 1


def teacher_attempt(wp: WorldProblem, noise: NoiseSpec, rng: random.Random) -> str:
    """A solution trace by the noisy teacher. Errors propagate: later steps use the wrong value."""
    p, v, lines = wp.modulus, wp.start, []
    for i, (op, c) in enumerate(wp.ops, 1):
        if rng.random() < noise.early_stop:
            break
        slip = rng.random() < noise.operand_slip
        if op in NOVEL_OPS:  # the blind spot: a wrong fact, written with its own (wrong) product
            whole = integer_result(v, op, c) if rng.random() < noise.q_novel else novel_misconception(v, op, c)
            lines.append(step_line(i, v, op, c, whole % p, integer=whole))
            v = whole % p
            continue
        if slip:
            c = rng.choice([x for x in operand_choices(op, p) if x != c])
        r = teacher_step(v, op, c, p, noise, rng)
        lines.append(step_line(i, v, op, c, r))
        v = r
    return STEP_SEP.join([*lines, boxed_line(v)])


def expected_step_accuracy(p: int, noise: NoiseSpec) -> float:
    """Mean per-step teacher accuracy under uniform running values (a planning aid, not a promise)."""
    tot, n = 0.0, 0
    for op in OPS:
        for c in operand_choices(op, p):
            for v in range(p):
                q = noise.q_hard if is_hard_fact(v, op, c, p) else noise.q_easy
                tot += q / len(OPS) / len(operand_choices(op, p))
            n += 1
    return (1 - noise.early_stop) * (1 - noise.operand_slip) * tot / p


@dataclass(frozen=True)
class CorpusSpec:
    """How many training conversations of each kind, and which levels they cover."""

    solve_examples: int = 36000
    verify_examples: int = 18000
    reflect_examples: int = 3000  # self-reflection rewrites (the paper's reflection baseline needs the ability)
    solve_levels: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    verify_levels: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)


def train_problem(level: int, rng: random.Random, spec: WorldSpec) -> WorldProblem:
    """A fresh random problem from the train split (rejection on the content-hash split)."""
    while True:
        wp = random_problem(level, rng, spec.modulus, spec.novel_at(level))
        if split_of(wp, spec) == "train":
            return wp


def build_corpus(spec: WorldSpec, noise: NoiseSpec, cs: CorpusSpec, seed: int) -> list[tuple[str, str]]:
    """(user, assistant) pairs, shuffled deterministically. Train-split problems only."""
    rng = random.Random(f"corpus|{seed}")
    pairs: list[tuple[str, str]] = []
    for _ in range(cs.solve_examples):
        wp = train_problem(rng.choice(cs.solve_levels), rng, spec)
        pairs.append((wp.text, teacher_attempt(wp, noise, rng)))
    for kind, count in (("verify", cs.verify_examples), ("reflect", cs.reflect_examples)):
        made = 0
        while made < count:
            wp = train_problem(rng.choice(cs.verify_levels), rng, spec)
            attempt = teacher_attempt(wp, noise, rng)
            if first_error(wp, attempt) is None:
                continue  # the proposer only ever sees failed attempts
            ref = reference_solution(wp, spec.reference_style)
            if kind == "verify":
                pairs.append((render_verification_prompt(wp, attempt, ref), render_verification_target(wp, attempt)))
            else:
                pairs.append((render_reflection_prompt(wp, attempt, ref), render_reflection_target(wp, attempt)))
            made += 1
    rng.shuffle(pairs)
    return pairs


def vocabulary_samples(spec: WorldSpec) -> list[str]:
    """Texts whose words must be single tokens (all numbers, ops, both prompt kinds, every log word)."""
    rng = random.Random("vocab")
    out = []
    for k in spec.levels:
        wp = generate_problems(k, 1, "train", seed=0, spec=spec)[0]
        attempt = teacher_attempt(wp, NoiseSpec(q_easy=0.5, q_hard=0.5), rng)
        ref = reference_solution(wp, spec.reference_style)
        out += [wp.text, wp.solution, ref, render_verification_prompt(wp, attempt, ref), render_verification_target(wp, attempt),
                render_reflection_prompt(wp, attempt, ref), render_reflection_target(wp, attempt)]
    return out
