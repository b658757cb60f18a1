"""A report figure from a plugin package: the worked example of docs/adding-a-figure.md.

``train_tokens`` draws each arm's required generated training tokens (mean over seeds), one bar segment
per step, from the comparison's saved ``stages.json`` files (`CompareRun.stages`) -- the compute side of
the comparison at a glance. Registering it is the ``@figure`` decorator; the package's entry point
(``[project.entry-points."harness.figures"] toy = "toy_figure"``) makes `harness report` and
`harness plot` import this module, so the figure is drawn with the others, in the report's style.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from reports.figures import HALF, figure, palette
from reports.load import CompareRun, MissingData


@figure("train_tokens", "Required generated training tokens per arm (mean over seeds), one segment per step.")
def train_tokens(run: CompareRun) -> Figure:
    stages = run.stages
    trained = stages[(stages["stage"] != "eval") & (stages["tokens_generated"] > 0)]
    if trained.empty:
        raise MissingData("no step generated training tokens")
    per_step = trained.groupby(["model", "order", "stage"], sort=False)["tokens_generated"].mean().reset_index()
    colours = palette(run)
    models = list(dict.fromkeys(per_step["model"]))
    fig = Figure(figsize=(HALF, 0.35 * len(models) + 0.8))
    ax = fig.add_subplot()
    for y, model in enumerate(models):
        left = 0.0
        for _, row in per_step[per_step["model"] == model].iterrows():
            ax.barh(y, row["tokens_generated"], left=left, color=colours.get(model, "#8C8C8C"), edgecolor="white",
                    label=row["stage"])
            ax.text(left + row["tokens_generated"] / 2, y, row["stage"], ha="center", va="center", fontsize=6, color="white")
            left += row["tokens_generated"]
    ax.set_yticks(range(len(models)), models)
    ax.set_xlabel("required generated tokens (mean over seeds)")
    return fig
