"""lm-eval hooks for our benchmarks: load problems with our loaders, score every repeat with our grader.

lm-eval resolves ``!function utils.<name>`` in the YAMLs to this file. Scores are computed per problem
over *all* ``repeats`` (the task's filter keeps them all), with the conventions of `harness.metrics`:
``avg@k`` mean correctness, ``pass@k`` any of the k correct, ``maj@k`` majority vote on extracted answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from harness.ecosystem.common import grade_response, problem_rows
from harness.metrics import majority_correct


def load_benchmark(
    int_task: str,
    int_version: str | None = None,
    int_split: str = "test",
    int_data_dir: str | None = None,
    **_lm_eval_metadata: Any,
) -> Any:
    """``custom_dataset`` hook: our task's problems as a ``DatasetDict`` with a ``test`` split.

    lm-eval passes its metadata (model args, ``--metadata``) as extra keywords; they are not ours.
    The data directory is ``int_data_dir`` or, as everywhere in the harness, ``$HARNESS_DATA_DIR``.
    """
    import datasets

    rows = problem_rows(int_task, int_version, data_dir=int_data_dir, split=int_split)
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def keep_all_samples(resps: Iterable[Sequence[str]], docs: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Filter that keeps every repeat (lm-eval's default ``take_first`` drops all but one)."""
    return [list(r) for r in resps]


def responses_of(results: Sequence[Any]) -> list[str]:
    """The k responses of one doc, whether the filter kept the list (ours) or took one (``take_first``)."""
    if results and isinstance(results[0], (list, tuple)):
        return [str(r) for r in results[0]]
    return [str(r) for r in results]


def process_results(doc: dict[str, Any], results: Sequence[Any]) -> dict[str, float]:
    """Grade each of the doc's responses with our grader and reduce them to per-problem metrics."""
    responses = responses_of(results)
    if not responses:
        raise ValueError(f"doc {doc.get('id')!r}: no responses to score")
    verdicts = [grade_response(r, doc["answer"]) for r in responses]
    correct = [bool(v.correct) for v in verdicts]
    n = len(correct)
    return {
        "avg@k": sum(correct) / n,
        "pass@k": float(any(correct)),
        "maj@k": float(majority_correct([v.extracted for v in verdicts], correct, n)),
    }
