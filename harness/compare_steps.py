"""The steps a recipe is made of (InT stages, SFT, RL, evaluation), each cached by its key.

A step folder is complete when its ``step.json`` exists (written last, atomically); an interrupted
step is resumed by its own machinery (InT stages and eval resume from their record logs; trainers
restart the step). Every step reports its compute: tokens generated, tokens trained, wall time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from harness.compare import CompareConfig
from harness.evaluate import EvalConfig, run_eval
from harness.rundir import atomic_write_json, read_json


def _sum_tokens(folder: Path, field: str = "completion_tokens") -> int:
    """Total of a token field over every jsonl record under a folder (rollouts, proposals, continuations)."""
    import json

    total = 0
    for path in folder.rglob("*.jsonl"):
        if path.name == "sft.jsonl":
            continue
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if field in line:
                    total += int(json.loads(line).get(field) or 0)
    return total


class StepRunner:
    """Executes steps into ``<out>/cache/<kind>-<key>/`` and returns their outputs and compute."""

    def __init__(self, cfg: CompareConfig, out: Path) -> None:
        self.cfg, self.out = cfg, out
        self._base: str | None = None

    def base_model_path(self) -> str:
        if self._base is None:
            from harness.world import resolve_model

            self._base = resolve_model(self.cfg.base_model)
        return self._base

    def _done(self, folder: Path) -> dict[str, Any] | None:
        marker = folder / "step.json"
        return read_json(marker) if marker.exists() else None

    def run_step(self, step: dict[str, Any], model: str, *, seed: int, show_progress: bool,
                 int_data: str | None = None) -> dict[str, Any]:
        """Run one step from ``model`` (``int_data``: the sft.jsonl of the arm's latest InT step)."""
        folder = self.out / "cache" / f"{step['kind']}-{step['key']}"
        done = self._done(folder)
        if done is not None:
            return done
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        runner = {"int": self._int, "sft": self._sft, "rl": self._rl}[step["kind"]]
        result = runner(step, model, folder, seed, show_progress, int_data)
        result["dir"] = str(folder)
        result.setdefault("stage", {"stage": step["kind"], "tokens_generated": 0, "tokens_trained": 0, "wall_time": 0.0})
        result["stage"]["wall_time"] = round(time.perf_counter() - t0, 2)
        atomic_write_json(folder / "step.json", result)
        return result

    # -- InT ---------------------------------------------------------------------------------------
    def int_config(self, model: str, folder: Path, seed: int) -> Any:
        from harness.intervention.config import ModelRef, paper_preset, world_preset

        cfg = self.cfg
        if cfg.int_preset == "world":
            icfg = world_preset(str(folder), model=model, per_category=cfg.train_per_category, limit=cfg.train_limit)
        elif cfg.int_preset == "paper":
            icfg = paper_preset(str(folder), model=model, task=cfg.train_task, **cfg.backend_options)
        else:
            raise ValueError(f"unknown int_preset {cfg.int_preset!r} (world | paper)")
        overrides = {
            "policy": ModelRef(backend=cfg.backend, model=model, options=cfg.backend_options).model_dump(),
            "rollout.task": cfg.train_task,
            "rollout.split": cfg.train_split or "train",
            "rollout.per_category": cfg.train_per_category,
            "rollout.limit": cfg.train_limit,
            "rollout.data_dir": cfg.data_dir,
            "rollout.sampling.seed": icfg.rollout.sampling.seed + seed,
            "propose.sampling.seed": icfg.propose.sampling.seed + seed,
            "continue.sampling.seed": icfg.continuation.sampling.seed + seed,
            **cfg.int_overrides,
        }
        return icfg.with_overrides(overrides)

    def _int(self, step, model, folder, seed, show_progress, int_data) -> dict[str, Any]:
        from harness.intervention.pipeline import run_all

        icfg = self.int_config(model, folder, seed)
        icfg.save()
        summary = run_all(icfg, show_progress=show_progress)
        label = icfg.propose.stage_label()
        variant = icfg.build_sft.variant()
        sft_dir = folder / (f"build-sft-{label}" + (f"-{variant}" if variant else ""))
        generated = _sum_tokens(folder)
        return {
            "sft_data": str(sft_dir / "sft.jsonl"),
            "summary": {"rows": summary["proposers"][label]["build_sft"]["rows"], "seconds": summary["seconds"]},
            "stage": {"stage": "int", "tokens_generated": generated, "tokens_trained": 0},
        }

    # -- SFT / RL ------------------------------------------------------------------------------------
    def _trainer(self):
        from trainers.registry import get_trainer

        return get_trainer(self.cfg.trainer)

    def _sft(self, step, model, folder, seed, show_progress, int_data) -> dict[str, Any]:
        from trainers.presets import get_config

        options = {k: v for k, v in step["options"].items() if k != "data"}
        source = step["options"].get("data", "int")
        if source == "int":
            if int_data is None:
                raise ValueError("an 'sft: {data: int}' step needs an earlier 'int' step in the recipe")
            data = Path(int_data)
        else:
            data = self._reference_sft_data(model, folder)
        config = get_config(self.cfg.trainer_preset, "sft", **{**self.cfg.sft, **options, "seed": seed})
        if not _has_rows(data):
            return {"model": model, "skipped": f"no SFT rows in {data}", "data": str(data), "data_source": source,
                    "stage": {"stage": "sft", "tokens_generated": 0, "tokens_trained": 0}}
        result = self._trainer().sft(model, data, config, folder)
        return {**_train_result("sft", result, config), "data": str(data), "data_source": source}

    def _rl(self, step, model, folder, seed, show_progress, int_data) -> dict[str, Any]:
        from harness.rundir import write_jsonl
        from trainers.data import rl_rows_from_task
        from trainers.presets import get_config

        cfg = self.cfg
        rows = rl_rows_from_task(cfg.train_task, split=cfg.train_split, data_dir=cfg.data_dir,
                                 per_category=cfg.train_per_category, limit=cfg.train_limit)
        problems = write_jsonl(folder / "problems.jsonl", rows)
        config = get_config(self.cfg.trainer_preset, "rl", **{**self.cfg.rl, **step["options"], "seed": seed})
        result = self._trainer().rl(model, problems, config, folder)
        return _train_result("rl", result, config)

    def _reference_sft_data(self, model: str, folder: Path) -> Path:
        """SFT rows whose target is the task's reference solution (complete, so it ends with EOS)."""
        from transformers import AutoTokenizer

        from harness.intervention.build_sft import encode_example
        from harness.rundir import write_jsonl
        from tasks import get_task, load_task, render_prompt, subset

        tok = AutoTokenizer.from_pretrained(model)
        task = get_task(self.cfg.train_task)
        problems = load_task(task.name, task.version, data_dir=self.cfg.data_dir, split=self.cfg.train_split).problems
        problems = subset([p for p in problems if p.solution], self.cfg.train_per_category, self.cfg.train_limit)
        rows = []
        for p in problems:
            ex = encode_example(tok, render_prompt(task, p), "", p.solution)
            ex.pop("_chat_prompt", None)
            ex["input_ids"].append(tok.eos_token_id)
            ex["loss_mask"].append(1)
            rows.append({"id": f"ref-{p.id}", "problem_id": p.id, **ex})
        return write_jsonl(folder / "reference_sft.jsonl", rows)

    def sft_stats(self, arm_dir: Path, sft_steps: list[dict[str, Any]]) -> None:
        """NLL and entropy of each SFT data source under the base model (paper Figs. 8-9), once per arm."""
        target = arm_dir / "analysis" / "sft_stats.json"
        if target.exists() or not sft_steps:
            return
        from reports.stats_nll import sft_data_stats

        stats = {}
        for st in sft_steps:
            if _has_rows(Path(st["data"])):
                stats[st["data_source"]] = sft_data_stats(self.base_model_path(), st["data"], source=st["data_source"])
        atomic_write_json(target, stats)

    # -- evaluation ----------------------------------------------------------------------------------
    def run_eval(self, model: str, model_key: str, protocol: dict[str, Any], *, backend: str | None = None,
                 options: dict[str, Any] | None = None, show_progress: bool = True) -> dict[str, Any]:
        from harness.provenance import stable_hash

        folder = self.out / "cache" / f"eval-{stable_hash({'model': model_key, 'protocol': protocol})}"
        t0 = time.perf_counter()
        done = self._done(folder)
        if done is not None:
            return done
        cfg = self.cfg
        ecfg = EvalConfig(
            model=model, backend=backend or cfg.backend, backend_options=options if options is not None else cfg.backend_options,
            tasks=cfg.eval_tasks, split=cfg.eval_split, samples=cfg.eval_samples,
            per_category=cfg.eval_per_category, limit=cfg.eval_limit,
            sampling=cfg.eval_sampling, data_dir=cfg.data_dir, out=str(folder), grader_workers=1, batch_problems=32,
        )
        results = run_eval(ecfg, show_progress=show_progress)
        generated = sum(t["counts"]["completion_tokens"] for t in results["tasks"].values())
        result = {"dir": str(folder), "model": model, "stage": {"stage": "eval", "tokens_generated": generated, "tokens_trained": 0, "wall_time": round(time.perf_counter() - t0, 2)}}
        atomic_write_json(folder / "step.json", result)
        return result


def _has_rows(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 0


def _train_result(kind: str, result: Any, config: Any) -> dict[str, Any]:
    return {
        "model": str(result.checkpoint),
        "log": str(result.log_path),
        "config": config.to_dict(),
        "steps": result.steps,
        "stage": {"stage": kind, "tokens_generated": result.tokens_generated, "tokens_trained": result.tokens_trained},
    }
