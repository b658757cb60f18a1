"""Train/eval decontamination: no comparison evaluates on problems it trained on unless told to.

Two checks between every training problem and every evaluation problem, on *normalised* statements
(Unicode NFKC; LaTeX macro spellings unified -- ``\\dfrac``/``\\tfrac`` -> ``\\frac``, ``\\leq``/``\\leqslant``/``≤``
-> ``\\le``, ``\\geq`` -> ``\\ge``, ``\\neq`` -> ``\\ne``, ``\\cdot``/``\\times`` -> ``*``, ``\\dots`` family ->
``...``, sizing and style macros such as ``\\left``/``\\right``/``\\displaystyle``/``\\mathrm`` dropped; lower case,
then tokens = runs of letters/digits and single operator symbols ``+ - * / = < > ^ ! % |``; LaTeX
delimiters, braces, backslashes and punctuation are dropped, so markup and spacing do not hide a copy
while ``+1`` and ``-1`` stay different):

* **exact**: equal normalised text (sha256);
* **near**: containment of *informative* token 8-grams, in both directions: at least 70% of the
  evaluation problem's 8-grams occur in one training problem (an evaluation problem copied from training,
  perhaps edited), or at least 90% of a training problem's 8-grams occur in the evaluation problem (a
  training problem copied whole with text added around it). An 8-gram is boilerplate, not informative,
  when it occurs in at least max(5, 1%) of the training problems (a shared template such as "working
  modulo 11, apply these steps in order"); a problem with no informative 8-gram is checked for exact
  equality only, and a training problem with fewer than `MIN_GRAMS` only in the first direction.

  Why both directions: dividing only by the evaluation problem's own 8-grams let added text dilute the
  score -- a sentence added before and after a problem was caught 69% of the time, the ten shortest
  problems with one added sentence 0/10 -- although such a copy still holds all of the original's
  8-grams. Why the second bar is higher: a short problem sharing most of its 8-grams with a longer one is
  also what two distinct problems sharing a setup look like (world problems with the same first steps
  reach 0.75 on the full splits); a copy with text added reaches 1.0. The first direction keeps the
  earlier rule unchanged. Why 8-grams: olympiad statements are 17-150 words, so 8 consecutive tokens
  are rare by chance, while a re-typeset or lightly edited copy keeps most of them; 13-grams (GPT-3's
  rule) miss short statements. Measured (tests/test_decontam.py): every IMO-AnswerBench v1 problem,
  perturbed (``\\frac`` -> ``\\dfrac`` and ``\\le`` -> ``\\leq``, a sentence added before, after, or both), is
  found against the set; each problem against the other 399 flags none; IMO-AnswerBench v2 against v1
  (v2 edits some statements): 377 exact and 20 near pairs; the world's test split against ``world@hard``'s
  training problems -- distinct problems sharing the template -- flags none. Every flagged pair is listed
  with its score, so a person can look.

What happens on overlap is the comparison's choice (`CompareConfig.decontaminate`): ``refuse`` (default:
stop before anything runs, unless ``allow_overlap`` -- then every report says so first) or ``exclude``
(evaluate on the held-out problems only, as the paper did for IMO-AnswerBench). A set that cannot be
loaded here (hub-only data offline) is reported as unchecked, with the task's documented overlap if its
data card gives one; the real run checks it once the data loads.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

N = 8
NEAR_THRESHOLD = 0.7  # share of the evaluation problem's informative n-grams found in one training problem
CONTAINED_THRESHOLD = 0.9  # share of a training problem's informative n-grams found in the evaluation problem
MIN_GRAMS = 3  # a training problem with fewer informative n-grams is only checked in the first direction
BOILERPLATE_MIN, BOILERPLATE_SHARE = 5, 0.01
_TOKEN = re.compile(r"[0-9a-z]+|[+\-*/=<>^!%|]")
# LaTeX spellings of one thing -> one spelling (applied before lower-casing; a macro ends at a non-letter).
_MACROS = [(re.compile(p + r"(?![A-Za-z])"), r) for p, r in (
    (r"\\[dt]frac", r"\\frac "), (r"\\(?:leqslant|leq|le)", r" \\le "), (r"\\(?:geqslant|geq|ge)", r" \\ge "),
    (r"\\(?:neq|ne)", r" \\ne "), (r"\\(?:cdot|times)", " * "), (r"\\(?:ldots|cdots|dots[bc]?|dots)", " ... "),
    (r"\\(?:left|right|big|Big|bigg|Bigg)[lr]?", " "), (r"\\(?:displaystyle|textstyle|mathrm|mathit|mathbf|text|textrm|operatorname)", " "),
)]
_UNICODE = {"\u2264": " \\le ", "\u2265": " \\ge ", "\u2260": " \\ne ", "\u00d7": " * ", "\u22c5": " * ", "\u2026": " ... "}


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    for k, v in _UNICODE.items():
        text = text.replace(k, v)
    if "\\" in text:
        for pattern, repl in _MACROS:
            text = pattern.sub(repl, text)
    return " ".join(_TOKEN.findall(text.lower()))


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def ngrams(words: list[str], n: int = N) -> set[int]:
    return {hash(" ".join(words[i : i + n])) for i in range(len(words) - n + 1)}


class OverlapError(ValueError):
    """Training and evaluation problems overlap and the comparison did not allow it."""


@dataclass
class OverlapReport:
    """Per evaluation task: counts, the overlapping ids (exact and near, with the training id and score)."""

    tasks: list[dict[str, Any]] = field(default_factory=list)
    exclude: dict[str, list[str]] = field(default_factory=dict)  # per eval task spec: ids held out
    lines: list[str] = field(default_factory=list)
    mode: str = "refuse"
    allowed: bool = False

    @property
    def has_overlap(self) -> bool:
        return any(t.get("overlapping") for t in self.tasks)

    def to_dict(self) -> dict[str, Any]:
        return {"tasks": self.tasks, "exclude": self.exclude, "lines": self.lines, "mode": self.mode,
                "allowed": self.allowed, "has_overlap": self.has_overlap,
                "method": f"exact normalised text, or >= {NEAR_THRESHOLD:.0%} of the eval problem's informative word {N}-grams "
                          f"in one training problem, or >= {CONTAINED_THRESHOLD:.0%} of a training problem's in the eval problem"}


def find_overlap(train: list[Any], evals: list[Any]) -> tuple[list[tuple[str, str, str, float]], int]:
    """(eval id, train id, 'exact'|'near', score) for every flagged eval problem, and the count checked.

    ``score`` is the containment that flagged the pair: of the evaluation problem's informative n-grams in
    the training problem (>= `NEAR_THRESHOLD`), or of the training problem's in the evaluation problem
    (>= `CONTAINED_THRESHOLD`); see the module docstring."""
    exact: dict[str, str] = {}
    index: dict[int, set[int]] = defaultdict(set)
    grams_of: list[set[int]] = []
    for i, p in enumerate(train):
        norm = normalise(p.problem)
        exact.setdefault(_hash(norm), p.id)
        grams_of.append(ngrams(norm.split()))
        for g in grams_of[-1]:
            index[g].add(i)
    boilerplate = max(BOILERPLATE_MIN, int(BOILERPLATE_SHARE * len(train)))
    informative = [sum(1 for g in grams if len(index[g]) < boilerplate) for grams in grams_of]
    found = []
    for e in evals:
        norm = normalise(e.problem)
        if _hash(norm) in exact:
            found.append((e.id, exact[_hash(norm)], "exact", 1.0))
            continue
        grams = {g for g in ngrams(norm.split()) if len(index.get(g, ())) < boilerplate}
        if not grams:
            continue
        hits: dict[int, int] = defaultdict(int)
        for g in grams:
            for i in index.get(g, ()):
                hits[i] += 1
        flagged = []
        for i, count in hits.items():
            in_train = count / len(grams)  # how much of the evaluation problem is in this training problem
            in_eval = count / informative[i] if informative[i] >= MIN_GRAMS else 0.0  # and the reverse
            score = max(s for s, bar in ((in_train, NEAR_THRESHOLD), (in_eval, CONTAINED_THRESHOLD)) if s >= bar) \
                if in_train >= NEAR_THRESHOLD or in_eval >= CONTAINED_THRESHOLD else None
            if score is not None:
                flagged.append((score, count, -i))
        if flagged:
            score, _, neg_i = max(flagged)
            found.append((e.id, train[-neg_i].id, "near", round(score, 3)))
    return found, len(evals)


def check_overlap(train: Any, evals: list[Any], *, mode: str = "refuse", allow: bool = False) -> OverlapReport:
    """Check a training `ProblemSet` against evaluation `ProblemSet`s; raise `OverlapError` when they
    overlap, ``mode`` is ``refuse`` and ``allow`` is False. With ``exclude``, the report's ``exclude``
    lists the ids to hold out per evaluation task."""
    from tasks import DataNotFoundError

    report = OverlapReport(mode=mode, allowed=allow)
    try:
        _, train_problems = train.load()
    except DataNotFoundError:
        task = train.resolve_task()
        for ps in evals:
            documented = dict(getattr(task, "overlaps", {}) or {}).get(ps.resolve_task().name)
            note = ""
            if documented:
                try:
                    total = len(ps.model_copy(update={"per_category": None, "limit": None, "exclude_ids": ()}).load()[1])
                    note = (f"; its data card: {documented} of {ps.spec}'s {total} problems are in it, so "
                            f"{total - documented} held out (expected)")
                except DataNotFoundError:
                    note = f"; its data card: {documented} of {ps.spec}'s problems are in it"
            report.tasks.append({"task": ps.spec, "checked": False, "documented_overlap": documented})
            report.lines.append(f"{ps.spec}: not checked here -- training set {train.spec} is not available locally{note}; "
                                f"the run checks it when the data loads ({mode})")
        return report
    for ps in evals:
        try:  # the whole split: exclusion happens before per-category/limit selection
            _, eval_problems = ps.model_copy(update={"per_category": None, "limit": None, "exclude_ids": ()}).load()
        except DataNotFoundError:
            report.tasks.append({"task": ps.spec, "checked": False})
            report.lines.append(f"{ps.spec}: not checked here -- not available locally; the run checks it when the data loads")
            continue
        found, n = find_overlap(train_problems, eval_problems)
        ids = sorted({f[0] for f in found})
        report.tasks.append({
            "task": ps.spec, "checked": True, "eval_problems": n, "train_problems": len(train_problems),
            "exact": sum(f[2] == "exact" for f in found), "near": sum(f[2] == "near" for f in found),
            "overlapping": ids, "pairs": [{"eval": a, "train": b, "how": c, "score": d} for a, b, c, d in found[:200]],
            "held_out": n - len(ids),
        })
        report.lines.append(f"{ps.spec} vs {train.spec}: {len(ids)} of {n} evaluation problems overlap "
                            f"({sum(f[2] == 'exact' for f in found)} exact, {sum(f[2] == 'near' for f in found)} near); "
                            f"{n - len(ids)} held out")
        if ids and mode == "exclude":
            report.exclude[ps.task] = ids
    if report.has_overlap and mode == "refuse" and not allow:
        raise OverlapError("training and evaluation problems overlap: " + "; ".join(report.lines)
                           + ". Set decontaminate: exclude (evaluate on held-out problems) or allow_overlap: true.")
    return report
