"""The world's problems: generator, reference solutions, step checker, `first_error`, verification prompts.

WHY this task family: InT needs problems whose reference solutions are exact step by step, and it
needs to know the TRUE first error of an attempt to score how well a proposer localises errors.
A running value modulo a small prime, updated by one operation per step, gives both: every step line
can be checked, and since every operation (+c, -c) is a bijection mod p, an error propagates to a
wrong final answer unless a second error happens to cancel it. (Multiplication would scramble error
offsets so that later errors cancel earlier ones about 1/p of the time: long problems would never get
much harder than chance.)

Regimes: a `WorldSpec` may add one *novel* operation (e.g. doubling, "*2") that appears exactly once in
every problem of its `novel_levels` and nowhere else. The pretraining teacher gets it systematically
wrong (see corpus.py), so hard problems need a fact the base model never produces and that only the
reference solution shows: the "blindspot" regime, where outcome-reward RL meets all-wrong groups and
InT's single-step intervention carries the missing fact. Multiplication by c is a bijection mod p too
(p prime, c != 0), so one wrong step still dooms the attempt.

Reference styles: in the "policy" style (default and blindspot regimes) a reference solution is written
exactly like the model's own traces, step for step, so the corrected step an intervention needs is a
reference line copied verbatim -- and SFT on references is SFT on on-policy text. Real references are
written by someone else: the "textbook" style (the offref regime) is a different author's prose with
other notation ("adding 9 to 4 gives 13, which reduces to 2"), two operations per paragraph, an
introduction and a concluding sentence -- still correct and complete (every intermediate value is there,
a reader can check each step against it), but far from the policy's distribution, so a proposer must
*translate* it into one step of its own format, and SFT on it is off-policy (see `reference_solution`).

Steps are separated by blank lines ("\\n\\n"), exactly like the InT step splitter expects.
"""

from __future__ import annotations

import ast
import hashlib
import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

WORLD_VERSION = "world-v2"
OPS = ("+", "-")  # the ordinary operations, at every level
NOVEL_OPS = ("*",)  # operations a regime may add at its hard levels only (WorldSpec.novel_op)
STEP_SEP = "\n\n"
VERIFY_INSTRUCTION = "Check each substep of the attempt against the reference. Find the first wrong substep and correct it."
# Self-reflection (the paper's "SFT on self-reflections" baseline): the same inputs, a different request --
# name the first wrong substep, then rewrite the whole solution in the model's own format.
REFLECT_INSTRUCTION = "Check the attempt against the reference. Then rewrite the whole solution correctly."
REFERENCE_STYLES = ("policy", "textbook")

# "Step 3: +5 on 4 = 9 ≡ 2": step number, operation, operand, the value it acts on, the integer result,
# its residue (the new running value).
_STEP_RE = re.compile(
    r"^\s*Step\s+(\d+)\s*:\s*([-+*])\s*(\d+)\s+on\s+(-?\d+)\s*=\s*(-?\d+)\s*≡\s*(-?\d+)\s*$"
)
_BOXED_RE = re.compile(r"\\boxed\{([^{}]*)\}")
_PROBLEM_RE = re.compile(r"Start with v = (\d+)\. Working modulo (\d+),")
_PROBLEM_OP_RE = re.compile(r"^Step \d+: ([-+*])(\d+)$", re.M)
_INTERVENTION_RE = re.compile(r"<intervention>(.*?)</intervention>", re.S)


@dataclass(frozen=True)
class WorldSpec:
    """The family of problems: modulus, difficulty levels (number of operations) and the regime's novel op."""

    modulus: int = 11
    levels: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    test_fraction: float = 0.2  # share of the problem space reserved for the test split (by content hash)
    novel_op: str = ""  # e.g. "*2": one step of every problem at `novel_levels` is this operation ("": none)
    novel_levels: tuple[int, ...] = ()  # levels whose problems carry the novel op exactly once
    reference_style: str = "policy"  # how reference solutions are written: REFERENCE_STYLES

    @property
    def novel(self) -> tuple[str, int] | None:
        """The novel operation as (op, operand), or None for a regime without one."""
        if not self.novel_op:
            return None
        op, c = self.novel_op[0], int(self.novel_op[1:])
        if op not in NOVEL_OPS or not 0 < c % self.modulus:
            raise ValueError(f"novel_op must be one of {NOVEL_OPS} with an operand invertible mod p, not {self.novel_op!r}")
        return op, c

    @property
    def hard_levels(self) -> tuple[int, ...]:
        """The regime's hard set (RL's training levels): the novel op's levels, else the upper half."""
        return tuple(self.novel_levels) if self.novel_op else tuple(self.levels[len(self.levels) // 2 :])

    def novel_at(self, level: int) -> tuple[str, int] | None:
        return self.novel if level in self.novel_levels else None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WorldSpec:
        """From a recipe's `world` section (tuples come back from JSON as lists)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


REGIMES: dict[str, WorldSpec] = {
    # +c / -c mod 11 at every level: the facts are shared, RL on easy problems transfers to hard ones.
    "default": WorldSpec(),
    # Levels 5-8 each need one doubling, which the base model's teacher always gets wrong (2v+1): the
    # missing fact is in the reference solution only (see README "Regimes").
    "blindspot": WorldSpec(novel_op="*2", novel_levels=(5, 6, 7, 8)),
    # The blindspot regime with off-policy references, as real ones are: another author's prose
    # ("textbook" style). Copying a reference is no longer the same as receiving one on-policy step.
    "offref": WorldSpec(novel_op="*2", novel_levels=(5, 6, 7, 8), reference_style="textbook"),
}


@dataclass(frozen=True)
class WorldProblem:
    """One problem: start value and a list of (op, operand) applied in order mod `modulus`."""

    start: int
    ops: tuple[tuple[str, int], ...]
    modulus: int

    @property
    def level(self) -> int:
        return len(self.ops)

    @property
    def values(self) -> list[int]:
        """Running values v_0 (start), v_1, ..., v_n."""
        vals = [self.start]
        for op, c in self.ops:
            vals.append(apply_op(vals[-1], op, c, self.modulus))
        return vals

    @property
    def answer(self) -> int:
        return self.values[-1]

    @property
    def key(self) -> str:
        return f"{self.modulus}|{self.start}|" + ",".join(f"{op}{c}" for op, c in self.ops)

    @property
    def id(self) -> str:
        return f"world-s{self.level}-{hashlib.sha256(self.key.encode()).hexdigest()[:10]}"

    @property
    def text(self) -> str:
        # "Step i: +5" exactly as the solution line starts: the solver finds operation i by the classic
        # induction pattern (same label token, copy the token after it).
        lines = [f"Start with v = {self.start}. Working modulo {self.modulus}, apply these steps in order:"]
        lines += [f"Step {i}: {op}{c}" for i, (op, c) in enumerate(self.ops, 1)]
        lines.append("What is the final value of v?")
        return "\n".join(lines)

    @property
    def steps(self) -> list[str]:
        """Reference step lines (without the final boxed line)."""
        vals = self.values
        return [step_line(i, vals[i - 1], op, c, vals[i]) for i, (op, c) in enumerate(self.ops, 1)]

    @property
    def solution(self) -> str:
        """The policy-style solution: exactly the model's own format (also what a correct rewrite is)."""
        return STEP_SEP.join([*self.steps, boxed_line(self.answer)])


def textbook_solution(wp: WorldProblem) -> str:
    """The same solution as another author writes it: prose, operand before value, the reduction spelled
    out only when it changes the number, two steps per paragraph, an introduction and a conclusion.

    Every intermediate value appears (labelled by its step), so the text is as checkable as the
    policy-style one; only its form differs."""
    vals, p = wp.values, wp.modulus
    sentences = []
    for i, (op, c) in enumerate(wp.ops, 1):
        v, whole, r = vals[i - 1], integer_result(vals[i - 1], op, c), vals[i]
        if op == "+":
            clause = f"adding {c} to {v} gives {whole}"
        elif op == "-":
            clause = f"subtracting {c} from {v} gives {whole}"
        else:
            clause = f"doubling {v} gives {whole}" if c == 2 else f"multiplying {v} by {c} gives {whole}"
        if whole != r:
            clause += f", which reduces to {r}"
        sentences.append(f"Step {i}: {clause}.")
    paragraphs = [f"We work modulo {p}, starting from v = {wp.start}."]
    paragraphs += [" ".join(sentences[k : k + 2]) for k in range(0, len(sentences), 2)]
    paragraphs.append(f"So the final value is {wp.answer}: {boxed_line(wp.answer)}")
    return STEP_SEP.join(paragraphs)


def reference_solution(problem: Any, style: str = "policy") -> str:
    """A problem's reference solution in a regime's style (`REFERENCE_STYLES`)."""
    wp = as_world_problem(problem)
    if style == "policy":
        return wp.solution
    if style == "textbook":
        return textbook_solution(wp)
    raise ValueError(f"unknown reference style {style!r}; choose one of {REFERENCE_STYLES}")


def integer_result(v: int, op: str, c: int) -> int:
    """The operation before reduction (4 + 9 = 13)."""
    if op == "+":
        return v + c
    if op == "-":
        return v - c
    if op == "*":
        return v * c
    raise ValueError(f"unknown op {op!r}")


def apply_op(v: int, op: str, c: int, p: int) -> int:
    return integer_result(v, op, c) % p


def step_line(i: int, v: int, op: str, c: int, result: int, integer: int | None = None) -> str:
    """One solution step, "Step 3: +5 on 4 = 9 ≡ 2" (`result` is the residue the solver claims).

    The operation comes right after the label, as in the problem (finding it is a one-token match).
    The integer result comes before its residue: WHY: a residue alone is independent of the value and
    of the operation taken one at a time (like parity), which gradient descent learns only after a long
    plateau; the integer result depends on each of them, and its residue on it alone. `integer` overrides
    the integer result (a teacher whose multiplication fact is wrong writes its own product)."""
    whole = integer_result(v, op, c) if integer is None else integer
    return f"Step {i}: {op}{c} on {v} = {whole} ≡ {result}"


def boxed_line(value: int) -> str:
    return f"\\boxed{{{value}}}"


def operand_choices(op: str, p: int) -> list[int]:
    """Operands of `op` (no +0 / -0: every step changes the value)."""
    if op not in OPS:
        raise ValueError(f"unknown op {op!r}")
    return list(range(1, p))


def split_of(problem: WorldProblem, spec: WorldSpec) -> str:
    """Train/test by content hash, independent of the seed: no seed can put a test problem in train."""
    h = int(hashlib.sha256(f"{WORLD_VERSION}|{problem.key}".encode()).hexdigest()[:8], 16)
    return "test" if (h % 10_000) < spec.test_fraction * 10_000 else "train"


def random_problem(level: int, rng: random.Random, p: int, novel: tuple[str, int] | None = None) -> WorldProblem:
    """`level` random ordinary operations; with `novel`, one of them (at a uniform position) replaced by it.

    Without `novel` the random draws are exactly those of world-v2 (the default regime's data)."""
    ops = []
    for _ in range(level):
        op = rng.choice(OPS)
        ops.append((op, rng.choice(operand_choices(op, p))))
    start = rng.randrange(p)
    if novel is not None:
        ops[rng.randrange(level)] = novel
    return WorldProblem(start=start, ops=tuple(ops), modulus=p)


def generate_problems(
    level: int, n: int, split: str = "train", seed: int = 0, spec: WorldSpec = WorldSpec(), unique: bool = True
) -> list[WorldProblem]:
    """`n` problems of `level` steps from `split`, deterministic in (seed, level, split).

    Small spaces (level 1 has ~320 problems) may return fewer than `n` unique problems."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    rng = random.Random(f"{WORLD_VERSION}|{seed}|{level}|{split}")
    out: list[WorldProblem] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < n and tries < 60 * n + 5000:
        tries += 1
        prob = random_problem(level, rng, spec.modulus, spec.novel_at(level))
        if split_of(prob, spec) != split or (unique and prob.key in seen):
            continue
        seen.add(prob.key)
        out.append(prob)
    return out


# ----------------------------------------------------------------------------------- conversions
def to_task_problem(wp: WorldProblem, reference_style: str = "policy") -> Any:
    """The registry's `tasks.base.Problem` for a world problem (category = difficulty level); its
    reference solution is written in the regime's style."""
    from tasks.base import Problem

    return Problem(
        id=wp.id,
        problem=wp.text,
        answer=str(wp.answer),
        solution=reference_solution(wp, reference_style),
        category=f"steps-{wp.level}",
        metadata={
            "difficulty": wp.level,
            "start": wp.start,
            "ops": [[op, c] for op, c in wp.ops],
            "modulus": wp.modulus,
            "values": wp.values,
            "world_version": WORLD_VERSION,
        },
    )


def as_world_problem(problem: Any) -> WorldProblem:
    """Accept a WorldProblem, a tasks.base.Problem / dict with world metadata, or the problem text."""
    if isinstance(problem, WorldProblem):
        return problem
    meta: Mapping[str, Any] | None = None
    if isinstance(problem, Mapping):
        meta = problem.get("metadata") or problem
        text = problem.get("problem", "")
    else:
        meta = getattr(problem, "metadata", None)
        text = getattr(problem, "problem", problem)
    if meta and "ops" in meta and "start" in meta and "modulus" in meta:
        return WorldProblem(int(meta["start"]), tuple((str(o), int(c)) for o, c in meta["ops"]), int(meta["modulus"]))
    if isinstance(text, str):
        return parse_problem_text(text)
    raise TypeError(f"cannot read a world problem from {type(problem).__name__}")


def parse_problem_text(text: str) -> WorldProblem:
    m = _PROBLEM_RE.search(text)
    if not m:
        raise ValueError("not a world problem text")
    ops = tuple((op, int(c)) for op, c in _PROBLEM_OP_RE.findall(text))
    return WorldProblem(int(m.group(1)), ops, int(m.group(2)))


# ---------------------------------------------------------------------------------- the checker
def split_steps(text: str) -> list[str]:
    """The InT splitter: substeps are the chunks between blank lines ("\\n\\n"), 1-indexed by callers."""
    return text.split(STEP_SEP)


def boxed_answer(text: str) -> str | None:
    found = _BOXED_RE.findall(text)
    return found[-1].strip() if found else None


def is_correct(problem: Any, attempt_text: str) -> bool:
    """Local integer check of the last \\boxed{} (the harness grader agrees on this world)."""
    got = boxed_answer(attempt_text)
    try:
        return got is not None and int(got) == as_world_problem(problem).answer
    except ValueError:
        return False


def step_is_right(chunk: str, i: int, wp: WorldProblem) -> bool:
    """Does substep `chunk` equal reference step i (whitespace-tolerant, values compared as ints)?"""
    m = _STEP_RE.match(chunk)
    if not m:
        return False
    vals = wp.values
    op, c = wp.ops[i - 1]
    got = (int(m[1]), m[2], int(m[3]), int(m[4]), int(m[5]), int(m[6]))
    return got == (i, op, c, vals[i - 1], integer_result(vals[i - 1], op, c), vals[i])


def first_error(problem: Any, attempt_text: str) -> int | None:
    """The TRUE first error of an attempt: 1-indexed substep (split on blank lines), or None if correct.

    None iff the final boxed answer is right (a failed attempt always has a first error). Otherwise the
    first substep that differs from the reference step at the same index -- a wrong value, a misread
    operand, a malformed line, or a premature final answer. If every substep so far is right and the
    attempt just stops, the error is the missing next substep (len(substeps) + 1); if all n steps are
    right but the final answer is wrong or missing, it is substep n + 1 (the answer line)."""
    wp = as_world_problem(problem)
    if is_correct(wp, attempt_text):
        return None
    chunks = split_steps(attempt_text)
    for i, chunk in enumerate(chunks, 1):
        if i > wp.level or not step_is_right(chunk, i, wp):
            return i
    return len(chunks) + 1


def corrected_step(problem: Any, location: int) -> str:
    """The replacement for substep `location`: the reference step there (the answer line past the end)."""
    wp = as_world_problem(problem)
    if location < 1:
        raise ValueError("location is 1-indexed")
    return wp.steps[location - 1] if location <= wp.level else boxed_line(wp.answer)


# ------------------------------------------------------------------------------ verification I/O
def number_substeps(attempt_text: str) -> str:
    """The paper's numbering: `**Substep i:** <chunk>` for each blank-line chunk."""
    return STEP_SEP.join(f"**Substep {i}:** {c}" for i, c in enumerate(split_steps(attempt_text), 1))


def render_verification_prompt(problem: Any, attempt_text: str, reference: str | None = None) -> str:
    """The compact verification prompt (user message) the world model was trained on."""
    wp = as_world_problem(problem)
    ref = reference if reference is not None else wp.solution
    return (
        f"Problem:\n{wp.text}\n\nReference solution:\n{ref}\n\n"
        f"Attempt:\n{number_substeps(attempt_text)}\n\n{VERIFY_INSTRUCTION}"
    )


def render_reflection_prompt(problem: Any, attempt_text: str, reference: str | None = None) -> str:
    """The compact self-reflection prompt: the verification inputs with `REFLECT_INSTRUCTION`."""
    wp = as_world_problem(problem)
    ref = reference if reference is not None else wp.solution
    return (
        f"Problem:\n{wp.text}\n\nReference solution:\n{ref}\n\n"
        f"Attempt:\n{number_substeps(attempt_text)}\n\n{REFLECT_INSTRUCTION}"
    )


def render_reflection_target(problem: Any, attempt_text: str) -> str:
    """Teacher output for a reflection: which substep was wrong, then the whole solution rewritten in the
    model's own format between ``<rewrite>`` tags (the part the reflection baseline trains on)."""
    wp = as_world_problem(problem)
    loc = first_error(wp, attempt_text)
    head = "The attempt is correct." if loc is None else f"Substep {loc} is wrong."
    return f"{head}{STEP_SEP}<rewrite>\n{wp.solution}\n</rewrite>"


def stated_value(chunk: str) -> str:
    """The running value a substep claims: a step line's residue or a boxed answer; "?" otherwise."""
    m = _STEP_RE.match(chunk)
    if m:
        return m[6]
    boxed = boxed_answer(chunk)
    return boxed if boxed is not None else "?"


def render_verification_target(problem: Any, attempt_text: str) -> str:
    """Teacher output: a compact verification log up to the first error, then the intervention.

    Each log line subtracts the reference value at that step from the value the substep states, in the
    world's own step syntax ("Substep 3: -2 on 5 = 3, wrong"; "= 0, correct" when they agree; "?" for a
    substep without a value). WHY: "are these two tokens equal?" is, like a residue, independent of
    each token taken alone, and gradient descent learns it only after a long plateau; the difference
    reuses the subtraction the model already knows from solving, and the verdict then reads one token."""
    wp = as_world_problem(problem)
    loc = first_error(wp, attempt_text)
    if loc is None:
        return '<intervention>{"content": "", "location": 0}</intervention>'
    chunks = split_steps(attempt_text)
    vals = wp.values
    log = []
    for i in range(1, loc + 1):
        said = stated_value(chunks[i - 1]) if i <= len(chunks) else "?"
        ref = vals[i] if i <= wp.level else wp.answer
        diff = str(int(said) - ref) if said.lstrip("-").isdigit() else "?"
        log.append(f"Substep {i}: -{ref} on {said} = {diff}, {'wrong' if i == loc else 'correct'}")
    payload = json.dumps({"content": corrected_step(wp, loc), "location": loc}, ensure_ascii=False)
    return STEP_SEP.join([*log, f"<intervention>{payload}</intervention>"])


@dataclass(frozen=True)
class Intervention:
    content: str
    location: int
    raw: str = field(default="", compare=False)


def parse_intervention(text: str) -> Intervention | None:
    """The last `<intervention>{...}</intervention>` block (JSON, then Python-literal fallback)."""
    blocks = _INTERVENTION_RE.findall(text)
    if not blocks:
        return None
    raw = blocks[-1].strip()
    data: Any = None
    for loader in (json.loads, ast.literal_eval):
        try:
            data = loader(raw)
            break
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    if not isinstance(data, dict) or "location" not in data:
        return None
    loc = data["location"]
    if not isinstance(loc, int):
        m = re.search(r"\d+", str(loc))
        if not m:
            return None
        loc = int(m.group())
    return Intervention(content=str(data.get("content", "")), location=int(loc), raw=raw)


def guided_prefix(attempt_text: str, intervention: Intervention) -> str:
    """InT's construction: substeps before `location`, then the intervention replacing the rest."""
    content = intervention.content.replace("\n", STEP_SEP)
    if intervention.location <= 1:
        return content
    return STEP_SEP.join(split_steps(attempt_text)[: intervention.location - 1] + [content])


def level_space(levels: Sequence[int], p: int, novel_levels: Sequence[int] = ()) -> dict[int, int]:
    """Size of the problem space per level (for documentation and sanity checks)."""
    per_step = sum(len(operand_choices(op, p)) for op in OPS)
    return {k: p * k * per_step ** (k - 1) if k in novel_levels else p * per_step**k for k in levels}
