"""Train/eval decontamination: no comparison evaluates on problems it trained on unless told to.

Two checks between every training problem and every evaluation problem, on *normalised* statements
(Unicode NFKC, lower case, then tokens = runs of letters/digits and single operator symbols ``+ - * / =
< > ^ ! % |``; LaTeX delimiters, braces, backslashes and punctuation are dropped, so markup and spacing do
not hide a copy while ``+1`` and ``-1`` stay different):

* **exact**: equal normalised text (sha256);
* **near**: at least 70% of the evaluation problem's *informative* token 8-grams occur in one training
  problem. An 8-gram is boilerplate, not informative, when it occurs in at least max(5, 1%) of the
  training problems (a shared template such as "working modulo 11, apply these steps in order"); a
  problem with no informative 8-gram is checked for exact equality only. Why 8-grams: olympiad
  statements are 30-150 words, so 8 consecutive tokens are rare by chance, while a re-typeset or lightly
  edited copy keeps most of them; 13-grams (GPT-3's rule) miss short statements. Why 0.7, measured:
  IMO-AnswerBench v2 against v1 (v2 edits some statements) gives 377 exact and 22 near pairs scoring
  0.41-1.0, 20 of them >= 0.7; the world's test split against ``world@hard``'s training problems --
  distinct problems that share the template and at most two operations -- scores at most 0.6. Every
  flagged pair is listed with its score, so a person can look; ``near_threshold`` changes the rule.

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
NEAR_THRESHOLD = 0.7
BOILERPLATE_MIN, BOILERPLATE_SHARE = 5, 0.01
_TOKEN = re.compile(r"[0-9a-z]+|[+\-*/=<>^!%|]")


def normalise(text: str) -> str:
    return " ".join(_TOKEN.findall(unicodedata.normalize("NFKC", text).lower()))


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
                "method": f"exact normalised text, or >= {NEAR_THRESHOLD:.0%} of the eval problem's word {N}-grams in one training problem"}


def find_overlap(train: list[Any], evals: list[Any]) -> tuple[list[tuple[str, str, str, float]], int]:
    """(eval id, train id, 'exact'|'near', score) for every flagged eval problem, and the count checked."""
    exact: dict[str, str] = {}
    index: dict[int, set[int]] = defaultdict(set)
    for i, p in enumerate(train):
        norm = normalise(p.problem)
        exact.setdefault(_hash(norm), p.id)
        for g in ngrams(norm.split()):
            index[g].add(i)
    boilerplate = max(BOILERPLATE_MIN, int(BOILERPLATE_SHARE * len(train)))
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
        if hits:
            best, count = max(hits.items(), key=lambda kv: (kv[1], -kv[0]))
            score = count / len(grams)
            if score >= NEAR_THRESHOLD:
                found.append((e.id, train[best].id, "near", round(score, 3)))
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
