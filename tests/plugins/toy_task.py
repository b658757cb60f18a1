"""A task plugin as a third-party package would ship it: its own loader, its own prompt template (in
``toy_task_templates/``, found through `Task.template_dirs`), an inline-template variant and its own token
budget. A package declares it under ``[project.entry-points."harness.tasks"]``; the tests import it, which
is what the entry point does.
"""

from __future__ import annotations

from pathlib import Path

from tasks import LoadedTask, Problem, Task, register_task

TEMPLATES = Path(__file__).parent / "toy_task_templates"


def load(resolver: object, split: str = "test") -> LoadedTask:
    problems = [
        Problem(id=f"toy-{i}", problem=f"What is {i} + {i}?", answer=str(2 * i), category="toy") for i in (1, 2, 3)
    ]
    return LoadedTask(problems=problems, origin="generated:toy_task")


register_task(
    Task(
        name="toy-sums",
        version="v1",
        description="Toy plugin task with its own template file",
        loader=load,
        prompt_template="toy",
        template_dirs=(TEMPLATES,),
        answer_format="integer",
        max_tokens=32,
        is_default=True,
    )
)
register_task(
    Task(
        name="toy-sums",
        version="inline",
        description="Toy plugin task with its template inline",
        loader=load,
        template_source="Inline toy: {{ problem }} (answer in \\boxed{})",
        answer_format="integer",
    )
)
