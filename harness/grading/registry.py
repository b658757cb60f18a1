"""Graders by name, so configs say ``grader: math-verify`` and code never imports a class directly.

Every grader has ``.name``, ``.version`` (recorded in each Verdict and hashed into the eval protocol),
``.grade_many(items) -> list[Verdict]`` and ``.close()``. Creating one is cheap: the math-verify grader
starts its worker pool on first use, so ``get_grader(name).version`` costs nothing.

A grader is chosen once -- ``grader`` (and, for a model-based grader, ``judge``) of an evaluation or a
comparison -- and `open_grader` is the one way every consumer opens it: evaluation, the InT stages'
filters (rollout grading, the continuations the correctness filter reads, reflection) and the RL reward
(`trainers.reward`). Graders are a `harness.registry.Registry`: built-ins here, in-process
`register_grader`, and the ``harness.graders`` entry-point group for other packages
(docs/adding-a-grader.md). A grader factory takes ``workers`` and ``timeout`` (keyword arguments it may
ignore), ``judge`` when one is configured, and returns a `Grader`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from harness.grading import mv
from harness.grading.pool import GradingPool, shared_pool
from harness.grading.rules import GRADER_VERSION
from harness.grading.verdict import Verdict
from harness.registry import Registry

__all__ = ["GRADERS", "Grader", "MathVerifyGrader", "available_graders", "get_grader", "open_grader", "register_grader"]


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


def _llm_judge(*, backend: Any = None, judge: Mapping[str, Any] | None = None, workers: int = 0, timeout: float = 0.0,
               **options: Any) -> Grader:
    """``llm-judge`` through any generation backend: an open ``backend``, or the ``judge`` model
    ``{backend, model, options}`` (a `harness.intervention.config.ModelRef`), opened here and closed with
    the grader. ``workers``/``timeout`` are the math-verify pool's and do not apply to a judge."""
    from harness.grading.judge import LLMJudgeGrader

    if backend is None:
        if not judge or not judge.get("model"):
            raise ValueError("grader llm-judge needs judge: {backend, model, options} (CLI: --judge-model)")
        from harness.backends import get_backend

        backend = get_backend(judge.get("backend") or "openai", judge["model"], **(judge.get("options") or {}))
        return LLMJudgeGrader(backend, owns_backend=True, **options)
    return LLMJudgeGrader(backend, **options)


_BUILTIN: dict[str, str] = {"math-verify": "harness.grading.registry:MathVerifyGrader",
                            "llm-judge": "harness.grading.registry:_llm_judge"}


def _factory(obj: Any, name: str) -> Callable[..., Grader]:
    if not callable(obj):
        raise TypeError("is not a grader factory (a callable returning a Grader)")
    return obj


GRADERS: Registry[Callable[..., Grader]] = Registry("grader", "harness.graders", builtins=_BUILTIN, load=_factory)


def register_grader(name: str, factory: Callable[..., Grader]) -> None:
    """Add a grader in-process (e.g. a second rule-based grader for audits); another package uses the
    ``harness.graders`` entry-point group. Names are unique."""
    if name in GRADERS.names():
        raise ValueError(f"grader {name!r} is already registered")
    GRADERS.register(name, factory)


def available_graders() -> list[str]:
    return sorted(GRADERS.names())


def get_grader(name: str = "math-verify", **options: Any) -> Grader:
    """A grader by name; ``options`` go to its factory (``workers``, ``timeout``; ``backend`` or
    ``judge`` for ``llm-judge``)."""
    return GRADERS.get(name)(**options)


def open_grader(name: str = "math-verify", *, judge: Mapping[str, Any] | None = None, workers: int = 0,
                timeout: float = 10.0) -> Grader:
    """The chosen grader, opened the same way by every consumer (evaluation, InT, the RL reward):
    ``workers``/``timeout`` for graders that run code, ``judge`` (``{backend, model, options}``) for a
    model-based grader. A judge configured for a grader that takes none is an error, never ignored."""
    factory = GRADERS.get(name)
    if judge:
        import inspect

        params = inspect.signature(factory).parameters
        if "judge" not in params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            raise ValueError(f"grader {name!r} takes no judge model (judge: {dict(judge)})")
        return factory(workers=workers, timeout=timeout, judge=dict(judge))
    return factory(workers=workers, timeout=timeout)
