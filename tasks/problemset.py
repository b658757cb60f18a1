"""`ProblemSet`: which problems a stage reads -- a task version, a split, a data directory and a subset rule.

WHY a type: evaluation, InT rollouts, RL training and `harness compare` each name "a set of problems", and
each used to repeat the chain ``get_task -> load_task -> subset`` with its own copy of the five fields. A
cache key built from those fields by hand missed some of them (two runs that differed only in the split
shared a cache entry). Here the chain exists once, and `ProblemSet.key` hashes what was actually *loaded*
(ids, statements, answers, reference solutions) together with the selection rule, so moving a data
directory keeps the key while different data can never share it.

    train = ProblemSet(task="world@hard", split="train", per_category=16)
    task, problems = train.load()
    train.key()          # stable hash of the selection and the loaded content
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from tasks.base import LoadedTask, Problem, Task, subset
from tasks.registry import default_split, get_task, load_task


class Selection(BaseModel):
    """What was loaded: the task, the selected problems, and what the selection rule dropped."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)
    task: Task
    problems: list[Problem]
    loaded: int = Field(description="Problems in the split before any rule was applied.")
    dropped_no_solution: list[str] = Field(default_factory=list, description="Ids dropped for lacking a reference.")
    excluded: list[str] = Field(default_factory=list, description="Ids removed by `exclude_ids`.")
    origin: str = ""


class ProblemSet(BaseModel):
    """A named set of problems. Every field is part of the identity; ``data_dir`` only says where to read.

    The rule is applied in this order: drop problems without a reference solution (when
    ``require_solution``), drop ``exclude_ids``, then the first ``per_category`` of each category, then
    the first ``limit``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    task: str = Field(..., description="Task name, optionally 'name@version' (see `harness tasks list`).")
    split: str | None = Field(None, description="Dataset split (default: test, or the task's only split).")
    per_category: int | None = Field(None, ge=1, description="Only the first N problems of each category.")
    limit: int | None = Field(None, ge=1, description="Then only the first N problems.")
    require_solution: bool = Field(False, description="Drop problems without a reference solution first (InT needs one).")
    exclude_ids: tuple[str, ...] = Field((), description="Problem ids removed before subsetting (e.g. held out by decontamination).")
    data_dir: str | None = Field(None, description="Local benchmark data directory (else $HARNESS_DATA_DIR, the cache, the source).")

    _loaded: Selection | None = PrivateAttr(default=None)

    def resolve_task(self) -> Task:
        """The registered task version (raises a one-line error naming the known tasks)."""
        return get_task(self.task)

    @property
    def spec(self) -> str:
        """``name@version`` of the resolved task."""
        t = self.resolve_task()
        return f"{t.name}@{t.version}"

    def resolved_split(self) -> str:
        return self.split or default_split(self.resolve_task())

    def select(self) -> Selection:
        """Load the data and apply the rule (memoised on this value: it is immutable)."""
        if self._loaded is None:
            task = self.resolve_task()
            raw: LoadedTask = load_task(task.name, task.version, data_dir=self.data_dir, split=self.split)
            problems = list(raw.problems)
            dropped: list[str] = []
            if self.require_solution:
                dropped = [p.id for p in problems if not (p.solution and str(p.solution).strip())]
                problems = [p for p in problems if p.solution and str(p.solution).strip()]
            excluded = [p.id for p in problems if p.id in set(self.exclude_ids)]
            if excluded:
                problems = [p for p in problems if p.id not in set(self.exclude_ids)]
            self._loaded = Selection(
                task=task,
                problems=subset(problems, self.per_category, self.limit),
                loaded=len(raw.problems),
                dropped_no_solution=dropped,
                excluded=excluded,
                origin=raw.origin,
            )
        return self._loaded

    def load(self) -> tuple[Task, list[Problem]]:
        """(task, selected problems)."""
        sel = self.select()
        return sel.task, sel.problems

    def identity(self) -> dict[str, Any]:
        """The selection rule without the data location (what a cache key or protocol records)."""
        return {
            "task": self.spec,
            "split": self.resolved_split(),
            "per_category": self.per_category,
            "limit": self.limit,
            "require_solution": self.require_solution,
            "exclude_ids": sorted(self.exclude_ids),
        }

    def key(self) -> str:
        """Hash of the rule and of the selected problems' content (ids, statements, answers, references)."""
        from harness.provenance import stable_hash

        _, problems = self.load()
        content = [(p.id, p.problem, p.answer, p.solution or "") for p in problems]
        return stable_hash({"rule": self.identity(), "content": stable_hash(content, length=32)})

    def with_data_dir(self, data_dir: str | None) -> ProblemSet:
        """This set reading from ``data_dir`` unless it names its own."""
        return self if self.data_dir or not data_dir else self.model_copy(update={"data_dir": data_dir})

    def describe(self) -> str:
        """One line for plans and logs."""
        parts = [self.spec, f"split {self.resolved_split()}"]
        parts += [f"{self.per_category}/category"] if self.per_category else []
        parts += [f"limit {self.limit}"] if self.limit else []
        parts += [f"{len(self.exclude_ids)} excluded"] if self.exclude_ids else []
        return ", ".join(parts)
