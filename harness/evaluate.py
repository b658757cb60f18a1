"""`harness eval`: sample k answers per problem, grade them, and write a resumable run directory.

Layout of ``<out>/``::

    manifest.json                 config, protocol, generator, versions, seeds, per-invocation stats, status
    <task>@<version>/samples.jsonl  one record per (problem, sample): text, extracted answer, verdict, tokens
    <task>@<version>/prompts.jsonl  each distinct prompt once (records carry its hash)
    results.json                  metrics per task (avg@k + CI, pass@k, maj@k, per category) + provenance

Generation, grading and appending go through `harness.sampling.sample_and_grade` (the loop the InT stages
use too), with the configured grader: what is recorded as the grader is what graded.

The *protocol* is hashed: the model (name, resolved path, weights hash or hub revision, backend), task
versions, rendered prompts, sampling, k and grader. A directory is never resumed under a different
protocol, so two checkpoints that happen to share a folder name can never mix their samples. Everything
is validated before anything is written: a bad task, backend, grader, budget or model path leaves no
folder behind, and a run that stopped before writing a single record may be replaced by a corrected one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.backends import Backend, GenerationRequest, SamplingParams
from harness.configs import ConfigError, build, read_yaml_mapping
from harness.dirlock import folder_lock
from harness.metrics import group_samples, summarize
from harness.provenance import package_versions, stable_hash
from harness.rundir import Manifest, RecordLog, atomic_write_json
from harness.sampling import RunStats, Unit, generation_progress, open_records, sample_and_grade

log = logging.getLogger(__name__)


DEFAULT_MAX_TOKENS = 16384  # the paper's evaluation budget


class SamplingConfig(BaseModel):
    """Sampling settings; defaults are the InT paper's (Qwen3-4B-Instruct-2507's recommended ones)."""

    model_config = ConfigDict(extra="forbid")
    temperature: float = Field(0.7, ge=0, description="Sampling temperature (0 = greedy).")
    top_p: float = Field(0.8, gt=0, le=1, description="Nucleus sampling mass.")
    top_k: int = Field(20, ge=-1, description="Top-k cut-off (0 or -1 disables).")
    max_tokens: int | None = Field(
        None, gt=0, description="Token budget per sample (None: the task's own budget if it declares one, else 16,384)."
    )
    seed: int = Field(0, description="Base seed; sample j of a prompt uses seed + j where supported.")

    def budget(self, task_default: int | None = None) -> int:
        """The token budget in force: this config's, else the task's, else the paper's 16,384."""
        return self.max_tokens or task_default or DEFAULT_MAX_TOKENS

    def params(self, n: int, task_default: int | None = None) -> SamplingParams:
        """The backend's `SamplingParams` for ``n`` samples per prompt."""
        return SamplingParams(n=n, temperature=self.temperature, top_p=self.top_p, top_k=self.top_k,
                              max_tokens=self.budget(task_default), seed=self.seed)


class EvalSettings(BaseModel):
    """The frozen evaluation protocol minus the model: which problems, how prompted, sampled and graded.

    `harness compare` measures every checkpoint under one `EvalSettings`; `EvalConfig` adds the model,
    the backend and where to write."""

    model_config = ConfigDict(extra="forbid")
    tasks: list[str] = Field(..., min_length=1, description="Task names, optionally 'name@version'.")
    split: str | None = Field(None, description="Dataset split (default: test, or the task's only split).")
    samples: int = Field(8, ge=1, description="k: samples per problem.")
    per_category: int | None = Field(None, ge=1, description="Evaluate only the first N problems of each category.")
    limit: int | None = Field(None, ge=1, description="Evaluate only the first N problems of each task.")
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    grader: str = Field("math-verify", description="Grader name (`harness.grading.available_graders()`).")
    judge: dict[str, Any] | None = Field(
        None, description="For grader llm-judge: the judge model as {backend, model, options} (a ModelRef)."
    )
    data_dir: str | None = Field(None, description="Local benchmark data directory (else HARNESS_DATA_DIR).")
    exclude: dict[str, list[str]] = Field(
        default_factory=dict, description="Problem ids left out per task (as named in `tasks`), e.g. held out by decontamination.",
    )

    @field_validator("tasks", mode="before")
    @classmethod
    def _one_task(cls, value: Any) -> Any:
        """``tasks: aime25`` (a single name) means ``[aime25]``."""
        return [value] if isinstance(value, str) else value

    def problem_sets(self) -> list[Any]:
        """One `tasks.ProblemSet` per task."""
        from tasks import ProblemSet

        return [ProblemSet(task=t, split=self.split, per_category=self.per_category, limit=self.limit,
                           exclude_ids=tuple(self.exclude.get(t, ())), data_dir=self.data_dir) for t in self.tasks]

    def protocol(self) -> dict[str, Any]:
        """The model-independent protocol (problem rules, sampling, k, grader id), hashed by `compare`
        and written to compare.json and reports: the judge's settings are recorded without credentials
        (a ``user:pw@`` or ``?api_key=`` in its URL, secret-named options), which are no part of the protocol."""
        from harness.grading import GRADERS
        from harness.redact import redact_secrets

        if self.grader not in GRADERS.names():
            raise GRADERS.unknown(self.grader)
        return {
            "problems": [ps.identity() for ps in self.problem_sets()],
            "sampling": self.sampling.model_dump(),
            "k": self.samples,
            "grader": self.grader,
            "judge": redact_secrets(self.judge),
        }


class EvalConfig(EvalSettings):
    """Everything that defines an evaluation run. Loadable from YAML; CLI flags override fields."""

    model: str = Field(..., description="Model path, hub id or <scheme>:<name> (e.g. world:default).")
    backend: str = Field("hf", description="Generation backend: hf, vllm, openai, or a plugin name.")
    backend_options: dict[str, Any] = Field(default_factory=dict, description="Extra backend kwargs.")
    answer_after: str | None = Field(
        None, description="Grade only the text after the last occurrence of this marker (a reasoning model's final "
        "channel, e.g. '</think>'); a response without it has no answer. The full text is recorded.",
    )
    grader_timeout: float = Field(10.0, gt=0, description="Hard per-answer grading timeout, seconds.")
    grader_workers: int = Field(2, ge=0, description="Grading worker processes (0: in-process).")
    batch_problems: int = Field(8, ge=1, description="Problems generated and written per batch.")
    out: str | None = Field(None, description="Run directory (default runs/eval-<model>-<model hash>-<tasks>).")

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> EvalConfig:
        data = read_yaml_mapping(path, what="EvalConfig")
        if not isinstance(data.get("sampling") or {}, dict):
            raise ConfigError(f"{path}: field sampling: expected a mapping, got {data['sampling']!r}")
        sampling = {**(data.get("sampling") or {}), **overrides.pop("sampling", {})}
        return build(cls, {**data, **{k: v for k, v in overrides.items() if v is not None}, "sampling": sampling},
                     source=str(path))


def default_out(model: str, tasks: list[str], identity: dict[str, Any]) -> str:
    """``runs/eval-<model name>-<8 hex of its identity>-<tasks>``: two checkpoints named alike never share
    a folder, and the name carries no ':' (world:default -> world-default)."""
    from harness.models import safe_name

    spec = "-".join(t.replace("@", "_") for t in tasks)
    return str(Path("runs") / f"eval-{safe_name(model)}-{stable_hash(identity, length=8)}-{safe_name(spec)}")


def generator_identity(config: EvalConfig, *, checked: bool = True) -> dict[str, Any]:
    """The model as the protocol sees it (`identify_generator` of the configured backend and model)."""
    return identify_generator(config.backend, config.model, config.backend_options, checked=checked)


def identify_generator(backend: str, model: str, options: dict[str, Any], *, checked: bool = True) -> dict[str, Any]:
    """A backend + what identifies the weights (see `harness.models.model_identity`); for a remote
    server, its served name and (redacted) URL. Eval and the InT stages hash this into their protocols."""
    from harness.backends import check_model, check_options, get_backend_class
    from harness.models import model_identity
    from harness.redact import redact_secrets

    if checked:
        check_model(backend, model)
        check_options(backend, options)
    if not getattr(get_backend_class(backend), "loads_weights", True):  # a served name: the server owns the weights
        return {"backend": backend, "name": model, "base_url": redact_secrets(options).get("base_url")}
    return {"backend": backend, **model_identity(model)}


def describe_generator(generator: dict[str, Any], location: dict[str, Any] | None = None) -> str:
    """``'name' (backend hf, /resolved/path, weights 1a2b...)``: enough to tell two models apart in one line."""
    where = {**(location or {}), **generator}
    details = [f"backend {where.get('backend')}"]
    if where.get("resolved") not in (None, where.get("name")):
        details.append(str(where["resolved"]))
    if where.get("weights_sha256"):
        details.append(f"weights {where['weights_sha256']}")
    if where.get("revision"):
        details.append(f"revision {where['revision']}")
    if where.get("base_url"):
        details.append(str(where["base_url"]))
    return f"model {where.get('name')!r} ({', '.join(details)})"


def _location(config: EvalConfig) -> dict[str, Any]:
    from harness.backends import get_backend_class
    from harness.models import model_location

    if not getattr(get_backend_class(config.backend), "loads_weights", True):
        return {"name": config.model}
    return model_location(config.model)


def _plan(config: EvalConfig) -> list[tuple[Any, list[Any], list[Unit]]]:
    """(task, problems, units) per task: loads data and renders every prompt (all validation)."""
    from tasks import render_prompt

    plans = []
    for ps in config.problem_sets():
        task, problems = ps.load()
        units = [
            Unit(id=p.id, request=GenerationRequest(messages=tuple(render_prompt(task, p))), gold=p.answer,
                 category=p.category, problem=p.problem, fields={"task": task.name, "version": task.version})
            for p in problems
        ]
        plans.append((task, problems, units))
    return plans


def open_grader(settings: EvalSettings, *, workers: int, timeout: float) -> Any:
    """The configured grader (`harness.grading.open_grader`: the same call the InT stages and the RL
    reward make); ``llm-judge`` gets its judge backend from ``settings.judge``."""
    from harness.grading import open_grader as open_chosen

    return open_chosen(settings.grader, judge=settings.judge, workers=workers, timeout=timeout)


def run_eval(config: EvalConfig, *, backend: Backend | None = None, show_progress: bool = True) -> dict[str, Any]:
    """Run (or resume) an evaluation and return the results dict also written to ``results.json``.

    ``backend``: an already open backend to generate with (tests, `compare`); it must serve
    ``config.model`` through ``config.backend``, which is what the protocol records. One process at a time
    writes a run folder (`harness.dirlock`): a second one is refused in one line naming the first."""
    # Validate everything first: nothing is written before this block succeeds.
    plans = _plan(config)
    params = {t.name: config.sampling.params(config.samples, t.max_tokens) for t, _, _ in plans}
    generator = generator_identity(config, checked=backend is None)
    location = {"name": config.model} if backend is not None else _location(config)
    out = Path(config.out or default_out(config.model, config.tasks, generator))
    grading = open_grader(config, workers=config.grader_workers, timeout=config.grader_timeout)
    protocol = {
        "generator": generator,
        "tasks": [
            {"task": t.name, "version": t.version, "split": ps.resolved_split(), "problems": ps.identity(),
             "prompts": stable_hash([u.request.key() for u in units]), "max_tokens": params[t.name].max_tokens}
            for ps, (t, _, units) in zip(config.problem_sets(), plans, strict=True)
        ],
        "sampling": config.sampling.model_dump(),
        "k": config.samples,
        "grader": f"{grading.name}=={grading.version}",
        **({"answer_after": config.answer_after} if config.answer_after else {}),
    }
    protocol_hash = stable_hash(protocol)
    try:
        with folder_lock(out, what="evaluation folder"):  # one writer: a second process is refused, naming us
            return _run_locked(config, backend, plans, params, generator, location, out, grading, protocol,
                               protocol_hash, show_progress)
    finally:
        grading.close()


def _run_locked(config: EvalConfig, backend: Backend | None, plans: list[Any], params: dict[str, SamplingParams],
                generator: dict[str, Any], location: dict[str, Any], out: Path, grading: Any, protocol: dict[str, Any],
                protocol_hash: str, show_progress: bool) -> dict[str, Any]:
    """`run_eval` under the folder's lock: read what is done, check the model and budget, then write."""
    from harness.backends import get_backend
    from harness.redact import redact_secrets

    manifest = Manifest(out / "manifest.json")
    paths = [out / f"{t.name}@{t.version}" / "samples.jsonl" for t, _, _ in plans]
    try:
        manifest.check_protocol(protocol_hash, what="eval", has_records=any(p.exists() and p.stat().st_size for p in paths))
    except ValueError:
        old = manifest.data.get("generator")
        if old and old != generator:
            raise ValueError(
                f"{out} holds samples of {describe_generator(old, manifest.data.get('model_location'))}; refusing to "
                f"add samples of {describe_generator(generator, location)} (use another --out, or resume with the same model)"
            ) from None
        raise
    records = [open_records(p) for p in paths]  # a corrupt record fails here, before anything is written
    todo = [t for r, (t, _, units) in zip(records, plans, strict=True) if len(r) < config.samples * len(units)]

    # The model loads (an absent stack such as vLLM fails here) and every task's token budget is checked
    # against its context window before the manifest is written: a failed start leaves no run behind.
    opened: list[Backend] = []
    try:
        if todo and backend is None:
            opened.append(get_backend(config.backend, config.model, **config.backend_options))
        for task in todo:
            (backend or opened[0]).check_budget(params[task.name].max_tokens)
    except BaseException:
        for b in opened:
            b.close()
        raise

    stats = RunStats()
    if todo or manifest.data.get("status") != "complete":
        manifest.begin(progress=generation_progress(paths), kind="eval", config=redact_secrets(config.model_dump()),
                       protocol=protocol, protocol_hash=protocol_hash, versions=package_versions(),
                       seeds={"sampling": config.sampling.seed}, generator=generator, model_location=location)

    def lazy_backend() -> Backend:
        if not opened:
            opened.append(get_backend(config.backend, config.model, **config.backend_options))
        return opened[0]

    try:
        for (task, _, units), recs in zip(plans, records, strict=True):
            sample_and_grade(
                units, k=config.samples, params=params[task.name], records=recs, backend=backend or lazy_backend,
                grader=grading, batch_size=config.batch_problems, label=f"{task.name}@{task.version}",
                show_progress=show_progress, stats=stats, answer_after=config.answer_after,
            )
    except BaseException as exc:
        manifest.fail(exc, stats.to_dict())
        raise
    finally:
        if opened:
            manifest.data["backend"] = opened[0].describe()
            opened[0].close()

    results: dict[str, Any] = {
        "tasks": {f"{t.name}@{t.version}": _task_results(recs, problems)
                  for (t, problems, _), recs in zip(plans, records, strict=True)}
    }
    manifest.finish(stats.to_dict())
    results.update(
        protocol=protocol,
        protocol_hash=protocol_hash,
        config=redact_secrets(config.model_dump()),
        versions=manifest.data.get("versions") or package_versions(),
        generator={**generator, **location, "backend_describe": manifest.data.get("backend")},
        run_stats=stats.to_dict(),
        run_stats_total=manifest.data.get("run_stats_total", {}),
        out=str(out),
    )
    atomic_write_json(out / "results.json", results)
    return results


def _task_results(records: RecordLog, problems: list[Any]) -> dict[str, Any]:
    wanted = {p.id for p in problems}
    rows = [r for r in records.read() if r["problem_id"] in wanted]
    metrics = summarize(group_samples(rows))
    counts = {
        "samples": len(rows),
        "no_answer": sum(r["status"] == "no_answer" for r in rows),
        "timeout": sum(r["status"] == "timeout" for r in rows),
        "error": sum(r["status"] == "error" for r in rows),
        "skipped": sum(r["status"] == "skipped" for r in rows),
        "truncated": sum(r["finish_reason"] == "length" for r in rows),
        "completion_tokens": sum(int(r.get("completion_tokens") or 0) for r in rows),
    }
    return {"metrics": metrics, "counts": counts}

