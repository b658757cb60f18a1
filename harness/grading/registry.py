"""Graders by name, so configs say ``grader: math-verify`` and code never imports a class directly.

Every grader has ``.name``, ``.version`` (recorded in each Verdict and hashed into the eval protocol),
``.grade_many(items) -> list[Verdict]`` and ``.close()``. Creating one is cheap: the math-verify grader
starts its worker pool on first use, so ``get_grader(name).version`` costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from harness.grading import mv
from harness.grading.pool import GradingPool, shared_pool
from harness.grading.rules import GRADER_VERSION
from harness.grading.verdict import Verdict

__all__ = ["Grader", "MathVerifyGrader", "available_graders", "get_grader", "register_grader"]


@runtime_checkable
class Grader(Protocol):
    name: str
    version: str

    def grade_many(self, items: Sequence[tuple[str, ...]]) -> list[Verdict]: ...

    def close(self) -> None: ...


class MathVerifyGrader:
    """The default grader: last ``\\boxed{}`` + math-verify (see `harness.grading.rules`).

    ``workers=0`` uses the process's shared one-worker pool (the one `grade` uses: tests, tiny runs);
    otherwise a `GradingPool` with ``workers`` processes is started on the first `grade_many`. Either
    way math-verify runs in a worker that is killed at the hard deadline. Items may carry a third element
    (the problem text, for the judge); it is ignored here."""

    name = "math-verify"

    def __init__(self, workers: int = 2, timeout: float = 10.0, **pool_options: Any) -> None:
        self.version = f"{mv.version()}/{GRADER_VERSION}"
        self.workers = workers
        self.timeout = timeout
        self.pool_options = pool_options
        self._pool: GradingPool | None = None

    def grade_many(self, items: Sequence[tuple[str, ...]]) -> list[Verdict]:
        pairs = [(item[0], item[1]) for item in items]
        if self.workers <= 0:
            return shared_pool(self.timeout).grade_many(pairs)
        if self._pool is None:
            self._pool = GradingPool(workers=self.workers, timeout=self.timeout, **self.pool_options)
        return self._pool.grade_many(pairs)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> MathVerifyGrader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _llm_judge(**options: Any) -> Grader:
    from harness.grading.judge import LLMJudgeGrader

    if "backend" not in options:
        raise ValueError("get_grader('llm-judge') needs backend=<harness.backends.Backend>")
    return LLMJudgeGrader(**options)


_REGISTRY: dict[str, Callable[..., Grader]] = {"math-verify": MathVerifyGrader, "llm-judge": _llm_judge}


def register_grader(name: str, factory: Callable[..., Grader]) -> None:
    """Add a grader (e.g. a second rule-based grader for audits). Names are unique."""
    if name in _REGISTRY:
        raise ValueError(f"grader {name!r} is already registered")
    _REGISTRY[name] = factory


def available_graders() -> list[str]:
    return sorted(_REGISTRY)


def get_grader(name: str = "math-verify", **options: Any) -> Grader:
    """A grader by name; ``options`` go to its constructor (``workers``, ``timeout``; ``backend`` for
    ``llm-judge``)."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown grader {name!r}; choose one of {available_graders()}") from None
    return factory(**options)
