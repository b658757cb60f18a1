"""Read a `harness compare` folder into pandas frames, tolerating arms or files that are missing.

Why one loader: the leaderboard, the paired statistics, every figure and the templates read the same
frames, so a field is interpreted in exactly one place. Nothing here writes into the compare folder
(reports are rebuilt from artifacts at any time), and sample texts are *not* held in memory: at paper
scale (128 samples of ~7k tokens per problem and arm) they would not fit; `sample_texts` fetches the
few a report shows.

Layout read (written by ``harness.compare``)::

    compare.json                    recipes, seeds, config, protocol, overlap, checks, arms, reported
    <arm>/eval/<task>@<ver>/samples.jsonl   graded samples
    <arm>/stages.json               compute per step: required and diagnostic generated tokens, trained
                                    tokens, wall time, skipped
    <arm>/{sft,rl}/train_log.jsonl  trainer-neutral logs (trainers/base.py TrainLogRecord); RL rows carry
                                    the cumulative generated tokens of that arm's RL
    <arm>/int/                      the InT run dir; its step.json holds the compute by source
    <arm>/analysis/sft_stats.json   NLL / entropy of SFT data under the base model

Arms have a *role*: ``base`` (the untrained base model, one evaluation shared by every seed),
``measured`` (a recipe named on the command line), ``compute-matched`` (a recipe trained to another's
generated-token budget, ``matched_to`` names it) and ``eval-only`` (a model only evaluated; with
``protocol_differs`` when it was sampled under its own settings). Folders written before roles existed
are read as measured / eval-only from their ``kind``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from harness.metrics import ProblemSamples, group_samples
from harness.rundir import iter_jsonl as _iter_jsonl

log = logging.getLogger(__name__)

SAMPLE_FIELDS = (
    "task", "version", "problem_id", "category", "sample_index", "correct", "gold", "extracted", "status",
    "finish_reason", "prompt_tokens", "completion_tokens", "grader",
)  # fmt: skip
SAMPLE_INT_FIELDS = ("seed", "sample_index", "prompt_tokens", "completion_tokens", "sampling_seed")
STAGE_FIELDS = ["model", "seed", "kind", "role", "order", "stage", "tokens_generated", "tokens_generated_diagnostic",
                "tokens_trained", "flops_generated", "flops_generated_diagnostic", "flops_trained", "wall_time", "skipped"]  # fmt: skip
TRAIN_FIELDS = (
    "step", "stage", "wall_time", "loss", "learning_rate", "reward_mean", "reward_std", "frac_zero_advantage",
    "response_length_mean", "truncation_rate", "entropy", "tokens_generated", "tokens_trained", "epoch",
)  # fmt: skip


class MissingData(LookupError):
    """The artifacts a table or figure needs are absent (e.g. no RL log in an eval-only comparison)."""


def iter_jsonl(path: Path, keep: Callable[[str], bool] | None = None) -> Iterator[dict[str, Any]]:
    """Records of a jsonl file, streamed (sample files reach gigabytes at paper scale); a torn last line
    from a crash mid-append is skipped, damage anywhere else raises."""
    return _iter_jsonl(path, keep=keep, allow_torn_tail=True)


def read_json_if(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


ROLES = ("base", "measured", "compute-matched", "eval-only")  # leaderboard order


@dataclass(frozen=True)
class Arm:
    """One trained (or untrained, or eval-only) model of the comparison, for one seed."""

    recipe: str  # the row name in reports
    seed: int
    kind: str  # "measured" | "eval-only"
    dir: Path
    model: str | None = None
    role: str = "measured"  # one of ROLES
    matched_to: str | None = None  # compute-matched arms: the recipe whose budget it was trained to
    protocol_differs: bool = False  # eval-only rows sampled under their own settings
    sampling: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        return self.recipe if self.kind == "eval-only" else f"{self.recipe}/seed-{self.seed}"

    @classmethod
    def from_meta(cls, root: Path, a: dict[str, Any]) -> Arm:
        kind = str(a.get("kind", "measured"))
        return cls(recipe=str(a["recipe"]), seed=int(a.get("seed", 0)), kind=kind, dir=root / a["dir"], model=a.get("model"),
                   role=str(a.get("role") or ("eval-only" if kind == "eval-only" else "measured")),
                   matched_to=a.get("matched_to"), protocol_differs=bool(a.get("protocol_differs", False)),
                   sampling=a.get("sampling"))  # fmt: skip


def resolve_run(path: str | Path) -> Path:
    """The compare folder for ``path`` (the folder itself, or its ``report/`` subfolder)."""
    p = Path(path)
    for cand in (p, p.parent):
        if (cand / "compare.json").exists():
            return cand
    raise FileNotFoundError(f"{p}: no compare.json here or in the parent folder (is this a `harness compare` run?)")


class CompareRun:
    """A compare folder: its ``compare.json`` plus lazily loaded frames."""

    def __init__(self, path: str | Path) -> None:
        self.root = resolve_run(path)
        self.meta: dict[str, Any] = json.loads((self.root / "compare.json").read_text(encoding="utf-8"))
        self.arms = [Arm.from_meta(self.root, a) for a in self.meta.get("arms", []) if a.get("dir")]
        self.memo: dict[Any, Any] = {}  # derived tables shared by the report and its figures (e.g. the leaderboard)

    def _named(self, role: str) -> list[str]:
        return list(dict.fromkeys(a.recipe for a in self.arms if a.role == role))

    @property
    def recipes(self) -> list[str]:
        """Measured recipes in the order given on the command line (the first is the candidate)."""
        named = [str(r) for r in self.meta.get("recipes", []) if str(r) not in self._named("base")]
        return named + [r for r in self._named("measured") if r not in named]

    @property
    def models(self) -> list[str]:
        """Every row name of the leaderboard: base, measured recipes, compute-matched arms, eval-only models."""
        order = self._named("base") + self.recipes + self._named("compute-matched") + self._named("eval-only")
        return list(dict.fromkeys(order))

    def role_of(self, model: str) -> str:
        """base | measured | compute-matched | eval-only."""
        return next((a.role for a in self.arms if a.recipe == model), "measured")

    def kind_of(self, model: str) -> str:
        """How the row's number came to be: "eval-only" (a model we did not train) or "measured"."""
        return "eval-only" if self.role_of(model) == "eval-only" else "measured"

    def matched_to(self, model: str) -> str | None:
        """The recipe whose generated-token budget a compute-matched arm was trained to (else None)."""
        return next((a.matched_to for a in self.arms if a.recipe == model and a.matched_to), None)

    def matched_recipe(self, model: str) -> str:
        """The recipe a compute-matched arm trains (``B`` for ``B@A-compute``); the model itself otherwise."""
        target = self.matched_to(model)
        for suffix in (f"@{target}-compute", f"@{target}-flops"):
            if target and model.endswith(suffix):
                return model[: -len(suffix)]
        return model.rsplit("@", 1)[0] if target else model

    def matched_by(self, model: str) -> str:
        """What a compute-matched arm holds equal: "flops" for ``B@A-flops``, else "tokens"."""
        return "flops" if self.matched_to(model) and model.endswith("-flops") else "tokens"

    def protocol_differs(self, model: str) -> bool:
        """True for an eval-only row sampled under its own settings (not the frozen protocol's)."""
        return any(a.protocol_differs for a in self.arms if a.recipe == model)

    # -- evaluation samples ------------------------------------------------------------------------
    @cached_property
    def _eval(self) -> tuple[pd.DataFrame, dict[tuple[str, int, str], list[ProblemSamples]]]:
        frames, problems = [], {}
        self._segments: list[tuple[Path, int]] = []  # (file, rows) in frame order, for write_samples
        for arm in self.eval_arms:
            eval_dir = arm.dir / "eval"
            files = sorted(eval_dir.glob("*/samples.jsonl"))
            if not files:
                log.warning("%s: no evaluation samples under %s", arm.label, eval_dir)
            for path in files:
                rows = [{k: r.get(k) for k in SAMPLE_FIELDS} | {"sampling_seed": r.get("seed")} for r in iter_jsonl(path)]
                if not rows:
                    continue
                task = str(rows[0]["task"] or path.parent.name.split("@")[0])
                problems[(arm.recipe, arm.seed, f"{task}@{rows[0]['version']}")] = group_samples(rows)
                df = pd.DataFrame.from_records(rows)
                df.insert(0, "model", arm.recipe)
                df.insert(1, "seed", arm.seed)
                df.insert(2, "kind", arm.kind)
                df.insert(3, "role", arm.role)
                df.insert(4, "protocol_differs", arm.protocol_differs)
                frames.append(df)
                self._segments.append((path, len(rows)))
        if not frames:
            raise MissingData(f"{self.root}: no evaluation samples in any arm")
        samples = pd.concat(frames, ignore_index=True)
        samples["correct"] = samples["correct"].fillna(False).astype(bool)
        samples["gold"] = samples["gold"].map(lambda g: None if g is None else str(g))  # answers stay strings
        samples["task_version"] = samples["task"].astype(str) + "@" + samples["version"].astype(str)
        names = _task_names(samples["task_version"].unique())
        samples["task"] = samples["task_version"].map(names)
        problems = {(m, s, names[tv]): ps for (m, s, tv), ps in problems.items()}
        return samples, problems

    @cached_property
    def eval_arms(self) -> list[Arm]:
        """Arms with their own evaluation: an arm whose ``eval`` folder is the same as an earlier arm's of
        the same row (the base model, evaluated once and linked from every seed) is read once, as one seed."""
        seen: set[tuple[str, Path]] = set()
        out = []
        for arm in self.arms:
            eval_dir = arm.dir / "eval"
            key = (arm.recipe, eval_dir.resolve() if eval_dir.exists() else eval_dir)
            if key in seen:
                continue
            seen.add(key)
            out.append(arm)
        return out

    @property
    def samples(self) -> pd.DataFrame:
        """One row per graded sample of every arm (no response text; `write_samples` adds it): model, seed,
        kind, role, protocol_differs, task, problem_id, category, sample_index, correct, gold, extracted, ..."""
        return self._eval[0]

    def write_samples(self, path: Path) -> Path:
        """Write `samples` plus each sample's response ``text`` to a parquet file, one evaluation file at a
        time (texts are never all in memory: at paper scale they are gigabytes). Integer columns are
        nullable ``Int64``. Atomic: a temporary file renamed into place."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        samples = self.samples
        columns = [*samples.columns, "text"]
        schema = pa.Schema.from_pandas(_int_columns(samples).assign(text="").iloc[:0], preserve_index=False)
        tmp = path.with_name(f".{path.name}.tmp")
        start = 0
        with pq.ParquetWriter(tmp, schema) as writer:
            for file, n in self._segments:
                texts = [str(r.get("text") or "") for r in iter_jsonl(file)]
                if len(texts) != n:
                    raise MissingData(f"{file}: changed while the report was built ({n} samples read, now {len(texts)})")
                chunk = _int_columns(samples.iloc[start : start + n]).assign(text=texts)
                writer.write_table(pa.Table.from_pandas(chunk[columns], schema=schema, preserve_index=False))
                start += n
        tmp.replace(path)
        return path

    @property
    def problems(self) -> dict[tuple[str, int, str], list[ProblemSamples]]:
        """``(model, seed, task) -> ProblemSamples`` (harness.metrics), the input of every statistic."""
        return self._eval[1]

    @property
    def tasks(self) -> list[str]:
        """Evaluated tasks in the protocol's order (then first-seen order)."""
        seen = list(dict.fromkeys(self.samples["task"]))
        protocol = self.meta.get("protocol") or {}
        specs = [p.get("task", "") for p in protocol.get("problems") or [] if isinstance(p, dict)] or protocol.get("tasks", [])
        order = [str(t).split("@")[0] for t in specs]

        def rank(t: str) -> tuple[int, int]:
            bare = t.split("@")[0]
            return (order.index(bare) if bare in order else len(order), seen.index(t))

        return sorted(seen, key=rank)

    def sample_texts(self, wanted: Iterable[tuple[str, str, str]], *, limit: int = 64) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
        """Full records (with text) for ``(model, task, problem_id)`` triples, reading each file once."""
        wanted = set(wanted)
        out: dict[tuple[str, str, str], list[dict[str, Any]]] = {w: [] for w in wanted}
        tv = dict(zip(self.samples["task"], self.samples["task_version"], strict=True))
        for arm in self.eval_arms:
            for task in {t for m, t, _ in wanted if m == arm.recipe}:
                path = arm.dir / "eval" / tv.get(task, task) / "samples.jsonl"
                pids = {p for m, t, p in wanted if m == arm.recipe and t == task}
                if not path.exists():
                    continue
                for r in iter_jsonl(path, keep=lambda line, pids=pids: any(p in line for p in pids)):
                    key = (arm.recipe, task, str(r["problem_id"]))
                    if key in out and len(out[key]) < limit:
                        out[key].append(r | {"train_seed": arm.seed})
        return out

    # -- compute, logs, InT artifacts -------------------------------------------------------------
    @cached_property
    def stages(self) -> pd.DataFrame:
        """Compute per step of every arm and seed, in the arm's order (from ``stages.json``).

        Columns: model, seed, kind, role, order, stage, tokens_generated (*required*: what the method needs,
        each generated sample counted once), tokens_generated_diagnostic (generated only to measure
        something, e.g. InT's Table-1 controls), tokens_trained, flops_generated (required generations, prefill
        included), flops_generated_diagnostic, flops_trained (forward + backward; `harness.flops`), wall_time,
        skipped (reason or None).
        Folders written before the split have no diagnostic count (0)."""
        rows = []
        for arm in self.arms:
            for i, st in enumerate(read_json_if(arm.dir / "stages.json") or []):
                rows.append(
                    {
                        "model": arm.recipe, "seed": arm.seed, "kind": arm.kind, "role": arm.role, "order": i,
                        "stage": str(st.get("stage", "?")),
                        "tokens_generated": int(st.get("tokens_generated") or 0),
                        "tokens_generated_diagnostic": int(st.get("tokens_generated_diagnostic") or 0),
                        "tokens_trained": int(st.get("tokens_trained") or 0),
                        "flops_generated": float(st.get("flops_generated") or 0.0),
                        "flops_generated_diagnostic": float(st.get("flops_generated_diagnostic") or 0.0),
                        "flops_trained": float(st.get("flops_trained") or 0.0),
                        "wall_time": float(st.get("wall_time") or 0.0),
                        "skipped": st.get("skipped") or None,
                    }
                )  # fmt: skip
        return pd.DataFrame(rows, columns=STAGE_FIELDS)

    @cached_property
    def int_compute(self) -> pd.DataFrame:
        """InT's generated tokens by source per arm and seed (from ``<arm>/int/step.json``): model, seed,
        source, tokens, required (whether a compute-matched comparison charges it)."""
        rows = []
        for arm in self.arms:
            for link in sorted(arm.dir.glob("int*")):
                step = read_json_if(link / "step.json") or {}
                detail = (((step.get("output") or {}).get("compute") or {}).get("detail") or {})
                required = set(detail.get("required_sources") or [])
                for source, tokens in (detail.get("by_source") or {}).items():
                    rows.append({"model": arm.recipe, "seed": arm.seed, "step": link.name, "source": str(source),
                                 "tokens": int(tokens or 0), "required": source in required})  # fmt: skip
        return pd.DataFrame(rows, columns=["model", "seed", "step", "source", "tokens", "required"])

    def train_log(self, stage: str) -> pd.DataFrame:
        """The neutral training log of every arm for ``stage`` ("sft" or "rl"), one row per step."""
        from trainers.trainlog import read_train_log

        frames = []
        for arm in self.arms:
            path = arm.dir / stage / "train_log.jsonl"
            if not path.exists():
                continue
            recs = [r.to_dict() for r in read_train_log(path) if r.stage == stage]
            if recs:
                df = pd.DataFrame([{k: r.get(k) for k in TRAIN_FIELDS} for r in recs])
                df.insert(0, "model", arm.recipe)
                df.insert(1, "seed", arm.seed)
                frames.append(df)
        if not frames:
            raise MissingData(f"no {stage} train_log.jsonl in any arm of {self.root}")
        return pd.concat(frames, ignore_index=True)

    def pre_rl_tokens(self) -> dict[tuple[str, int], int]:
        """``(model, seed) -> required generated tokens of the steps before the arm's first RL step`` (e.g.
        InT's rollouts, proposals and intervention continuations): where the arm's RL starts on a
        generated-tokens axis."""
        out: dict[tuple[str, int], int] = {}
        for (model, seed), g in self.stages.groupby(["model", "seed"], sort=False):
            g = g.sort_values("order")
            rl = g.index[g["stage"] == "rl"]
            before = g.loc[: rl[0]].iloc[:-1] if len(rl) else g[g["stage"] != "eval"]
            out[(str(model), int(seed))] = int(before.loc[before["stage"] != "eval", "tokens_generated"].sum())
        return out

    def int_stage_dirs(self, prefix: str) -> list[tuple[Arm, Path]]:
        """``(arm, <arm>/int/<prefix>*)`` for every InT stage folder of that kind (one per proposer). A folder
        shared by several arms (a compute-matched arm reuses its recipe's cached InT step) is listed once,
        under the first arm."""
        out, seen = [], set()
        for arm in self.arms:
            for d in sorted((arm.dir / "int").glob(f"{prefix}*")):
                if d.is_dir() and d.resolve() not in seen:
                    seen.add(d.resolve())
                    out.append((arm, d))
        return out

    @property
    def reported(self) -> pd.DataFrame:
        """The paper's numbers carried in compare.json (kind "reported", never mixed with measured)."""
        cols = ["model", "recipe", "task", "value", "source", "note", "budget"]
        rows = [{c: r.get(c) for c in cols} for r in self.meta.get("reported") or []]
        return pd.DataFrame(rows, columns=cols)


def _int_columns(df: pd.DataFrame) -> pd.DataFrame:
    """`SAMPLE_INT_FIELDS` as nullable integers (a missing value would make them float)."""
    return df.assign(**{c: pd.to_numeric(df[c], errors="coerce").astype("Int64") for c in SAMPLE_INT_FIELDS if c in df})


def _task_names(task_versions: Any) -> dict[str, str]:
    """Display name per ``task@version``: the bare name unless two versions of one task were evaluated."""
    tvs = list(task_versions)
    bare = [tv.rsplit("@", 1)[0] for tv in tvs]
    return {tv: (b if bare.count(b) == 1 else tv) for tv, b in zip(tvs, bare, strict=True)}
