"""`harness world build`: presets, the recipe, the content-hash cache, progress and the abilities table.

WHY a recipe hash: later commands (rollouts, InT stages, eval) ask for "the world model" and must get
the same weights every time without retraining; anything that changes the weights (hyperparameters,
data spec, world code, the pretraining precision this CPU allows (`with_precision`), the versions of
torch/transformers/tokenizers and Python's minor version) changes
the hash and so the cache folder. What does not change the weights is recorded, not hashed: Python's
patch version (3.11.2 and 3.11.7 build byte-identical weights) and the CPU threads (chosen per step by
`harness.cpu`; one and two threads give identical weights for every shipped preset).
The folder records everything needed to rebuild bit-for-bit (`world_recipe.json`), the measured
abilities (`abilities.json`) and what happened during the build (`build_log.json`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.world.corpus import (
    CorpusSpec,
    NoiseSpec,
    build_corpus,
    expected_step_accuracy,
    vocabulary_samples,
)
from harness.world.model import (
    ModelSpec,
    build_model,
    build_tokenizer,
    count_parameters,
    save_dir_is_complete,
    wrap_tokenizer,
)
from harness.world.pretrain import TrainSpec, train
from harness.world.problems import REGIMES, WORLD_VERSION, WorldSpec

RECIPE_FILE, ABILITIES_FILE, BUILD_LOG_FILE = "world_recipe.json", "abilities.json", "build_log.json"
_CODE_FILES = ("problems.py", "corpus.py", "model.py", "pretrain.py")  # files that shape the weights


@dataclass(frozen=True)
class EvalSpec:
    """How `build_world` measures the abilities (does not change the weights)."""

    n_per_level: int = 32
    samples: int = 8
    verify_max: int = 256
    continuation_max: int = 48
    continuation_k: int = 4


@dataclass(frozen=True)
class Recipe:
    preset: str
    seed: int
    world: WorldSpec = field(default_factory=WorldSpec)
    noise: NoiseSpec = field(default_factory=NoiseSpec)
    corpus: CorpusSpec = field(default_factory=CorpusSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    train: TrainSpec = field(default_factory=TrainSpec)
    eval: EvalSpec = field(default_factory=EvalSpec)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["world_version"] = WORLD_VERSION
        d["versions"] = _versions()
        d["code_sha256"] = _code_hash()
        d["expected_teacher_step_accuracy"] = round(expected_step_accuracy(self.world.modulus, self.noise), 4)
        return d

    def weight_key(self) -> dict[str, Any]:
        """What the weights depend on (hashed): the recipe without its abilities measurement, with the
        library versions that shape the numerics; Python only to its minor version."""
        d = {k: v for k, v in self.to_dict().items() if k != "eval"}
        d["versions"] = {k: v for k, v in d["versions"].items() if k != "python"} | {"python": _python_minor()}
        return d

    @property
    def hash(self) -> str:
        blob = json.dumps(self.weight_key(), sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


# The larger model of every regime: same corpus, teacher and optimiser, 1.5x width and layers (~3.6M
# parameters): the analogue of the paper's larger eval-only model. Its build is a flag away (see README).
LARGE_MODEL = ModelSpec(hidden_size=192, intermediate_size=768, num_hidden_layers=6, num_attention_heads=6, num_key_value_heads=6)
# The blindspot regime's teacher: the same misconception on +/- but more accurate (so failures on hard
# problems are dominated by the novel op, which a single intervention fixes), and always wrong on it.
BLINDSPOT_NOISE = NoiseSpec(q_easy=0.97, q_hard=0.75, q_novel=0.0)

PRESETS: dict[str, Recipe] = {
    # Meets both ability targets (see README / abilities.json); build time: EXPECTED_TIME.
    "default": Recipe(preset="default", seed=0),
    # ~30 s: the same pipeline at toy size, for tests of the plumbing. It writes the world's format but
    # does not learn the arithmetic (that takes ~2,000 steps of the default model); no ability targets.
    "test": Recipe(
        preset="test",
        seed=0,
        world=WorldSpec(levels=(1, 2, 3)),
        corpus=CorpusSpec(solve_examples=8000, verify_examples=2000, solve_levels=(1, 2, 3), verify_levels=(1, 2, 3)),
        model=ModelSpec(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4),
        train=TrainSpec(),
        eval=EvalSpec(n_per_level=8, samples=8, verify_max=32, continuation_max=8, continuation_k=2),
    ),
    # The blindspot regime (problems.REGIMES): levels 5-8 need a doubling the teacher never gets right.
    "blindspot": Recipe(preset="blindspot", seed=0, world=REGIMES["blindspot"], noise=BLINDSPOT_NOISE),
    "large": Recipe(preset="large", seed=0, model=LARGE_MODEL),
    "blindspot-large": Recipe(
        preset="blindspot-large", seed=0, world=REGIMES["blindspot"], noise=BLINDSPOT_NOISE, model=LARGE_MODEL
    ),
    # The blindspot regime with off-policy (textbook-style) references: the same teacher and blind spot,
    # verification and reflection transcripts that read another author's prose.
    "offref": Recipe(preset="offref", seed=0, world=REGIMES["offref"], noise=BLINDSPOT_NOISE),
    # Its larger model (the proposer ablation's "larger proposer" in this regime, as blindspot-large there).
    "offref-large": Recipe(preset="offref-large", seed=0, world=REGIMES["offref"], noise=BLINDSPOT_NOISE, model=LARGE_MODEL),
}


# What a cold build costs, measured (shown when a build starts).
EXPECTED_TIME = {
    "default": "About 10 min on 2 idle cores (421-644 s measured before the reflection transcripts joined the corpus); "
    "much longer when other jobs share the cores (2,120 s measured at load 5-6)",
    "blindspot": "Not measured on idle cores; 1,298 s measured with other jobs on them (load ~5)",
    "offref": "Not measured on idle cores; 3,140 s measured with other jobs on them (load ~5.5)",
    "blindspot-large": "About 17 min on 2 cores (993 s measured at load 2)",
    "test": "About 30 s on 2 idle cores",
}
# The same in float32 (`with_precision`: a CPU without fast bf16 kernels), measured on a 2-core AVX2 EPYC.
EXPECTED_TIME_FP32 = {
    "default": "About 15 min on 2 cores in float32 (857 s measured at load 1.7-1.9)",
    "blindspot": "About 25 min on 2 cores in float32 (1,502 s measured at load 2.5)",
    "offref": "About 40 min on 2 cores in float32 (~0.44 s per pretraining step measured, 5,044 steps)",
    "blindspot-large": "About 45 min on 2 cores in float32 (2,635 s measured at load 2.2-2.8)",
    "large": "About 45 min on 2 cores in float32 (~0.55 s per pretraining step measured, 4,463 steps)",
    "offref-large": "About 45 min on 2 cores in float32 (not measured; as blindspot-large)",
}


def expected_time(recipe: Recipe) -> str:
    """What a cold build of ``recipe`` costs, as measured for its preset and precision."""
    table = EXPECTED_TIME if recipe.train.bf16 else EXPECTED_TIME_FP32
    return table.get(recipe.preset) or EXPECTED_TIME.get(recipe.preset) or "Time unknown for this preset"


def _versions() -> dict[str, str]:
    import tokenizers
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
    }


def _python_minor() -> str:
    return ".".join(platform.python_version_tuple()[:2])


def _code_hash() -> str:
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in _CODE_FILES:
        h.update(name.encode() + b"\0" + (here / name).read_bytes())
    return h.hexdigest()[:16]


def make_recipe(preset: str = "default", seed: int = 0, **overrides: Any) -> Recipe:
    """A preset's recipe with a seed; `overrides` replace whole sections, e.g. `train=TrainSpec(...)`.
    Its pretraining precision is this CPU's (`with_precision`)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown world preset {preset!r}; choose one of {sorted(PRESETS)}")
    return with_precision(replace(PRESETS[preset], seed=seed, **overrides))


PRECISION_ENV = "HARNESS_WORLD_PRECISION"


def fast_bf16() -> bool:
    """Does this CPU have oneDNN's bf16 kernels (x86 with AVX-512, or AMX; ARM with bf16)? Without them
    (an AVX2-only x86 CPU) bf16 autocast falls back to an emulated path: a 2048x256 @ 256x1024 matmul
    with its backward took 1.68 s in bf16 vs 0.044 s in float32 on a 2-core AVX2 EPYC (38x), and a
    world build's pretraining step ~4 s instead of ~0.2 s. (Said here, not in pretrain.py: that file is
    hashed into every recipe, and a comment there would change every world's cache key.)"""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch without the query: assume the slow path
        return False


def with_precision(recipe: Recipe) -> Recipe:
    """The recipe with the pretraining precision used on this machine: the preset's bf16 autocast where the
    CPU runs bf16 natively, else float32 (``$HARNESS_WORLD_PRECISION``: auto (default), bf16 to insist
    on it anyway, fp32 to always use float32). float32 trains a *different* model, so the precision is in
    the recipe and its hash: a float32 world never stands in for a bf16 one (README's numbers and docs'
    tables were measured on bf16 builds; docs label the few measured on float32 builds)."""
    choice = os.environ.get(PRECISION_ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", "bf16", "fp32"):
        raise ValueError(f"${PRECISION_ENV}={choice!r}: choose auto, bf16 or fp32")
    if recipe.train.bf16 and (choice == "fp32" or (choice == "auto" and not fast_bf16())):
        return replace(recipe, train=replace(recipe.train, bf16=False))
    return recipe


def cache_root() -> Path:
    return Path(os.environ.get("HARNESS_CACHE_DIR") or Path.home() / ".cache" / "int-harness") / "world"


def _weights_sha(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.glob("*.safetensors")):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def build_world(
    preset: str = "default",
    out_dir: str | Path | None = None,
    seed: int = 0,
    *,
    force: bool = False,
    measure: bool = True,
    console: Any = None,
    recipe: Recipe | None = None,
    quiet_if_cached: bool = False,
) -> Path:
    """Build (or reuse) the world model for a preset and seed; returns the model folder.

    The folder is `<out_dir>` or `$HARNESS_CACHE_DIR/world/<hash>` (default `~/.cache/int-harness`).
    An existing complete folder with the same recipe hash is reused unless `force`."""
    from rich.console import Console

    from harness.world.report import abilities_table

    console = console or Console()
    recipe = recipe or make_recipe(preset, seed)
    target = Path(out_dir) if out_dir is not None else cache_root() / recipe.hash

    def cached() -> bool:
        return not force and _holds(target, recipe)

    if not cached():
        # One builder per recipe: a second process (a parallel test, a step) waits for the first, then reuses.
        with _build_lock(target):
            if not cached():
                return _build(recipe, target, console, measure)
    if not quiet_if_cached:
        console.print(f"[green]world model cached[/green] at {target} (recipe {recipe.hash})")
        if (target / ABILITIES_FILE).exists():
            console.print(abilities_table(json.loads((target / ABILITIES_FILE).read_text())))
    return target


def cached_world(preset: str = "default", seed: int = 0) -> Path | None:
    """The cache folder of a preset's model if it is built (same recipe hash), else None; never builds."""
    recipe = make_recipe(preset, seed)
    target = cache_root() / recipe.hash
    return target if _holds(target, recipe) else None


def _holds(target: Path, recipe: Recipe) -> bool:
    """Is ``target`` a complete save of exactly this recipe (its recorded hash)?"""
    return save_dir_is_complete(target) and json.loads((target / RECIPE_FILE).read_text()).get("hash") == recipe.hash


@contextmanager
def _build_lock(target: Path) -> Iterator[None]:
    """An exclusive advisory lock (``fcntl.flock``) beside the target folder, held while building."""
    import fcntl

    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build(recipe: Recipe, target: Path, console: Any, measure: bool) -> Path:
    """Corpus, tokenizer, pretraining and the abilities measurement into a temp folder, renamed at the end."""
    from harness.world.report import abilities_table, progress_bar

    console.print(
        f"Building the embedded world model (preset {recipe.preset}, seed {recipe.seed}): a corpus of "
        f"{recipe.corpus.solve_examples + recipe.corpus.verify_examples:,} conversations, pretraining, then its "
        f"abilities. {expected_time(recipe)}. Done once: cached at {target}."
        + ("" if recipe.train.bf16 else f" Pretraining in float32 ({'$' + PRECISION_ENV + '=fp32' if os.environ.get(PRECISION_ENV) else 'this CPU has no fast bf16 kernels'}): "
           "a different model from the bf16 builds README's numbers were measured on."),
        markup=False, highlight=False,
    )
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # the recipe as the build starts: the world code it hashes is the code this process imported (an edit
    # made while it runs must not relabel the folder, or the next lookup finds a mismatch and rebuilds)
    rec = recipe.to_dict() | {"hash": recipe.hash}
    log: dict[str, Any] = {"recipe_hash": rec["hash"], "load_avg_start": _load()}
    t0 = time.time()
    with progress_bar(console) as prog:
        task = prog.add_task("corpus", total=None)
        pairs = build_corpus(recipe.world, recipe.noise, recipe.corpus, recipe.seed)
        tok = _save_and_reload_tokenizer(wrap_tokenizer(build_tokenizer(vocabulary_samples(recipe.world))), tmp)
        model = build_model(recipe.model, tok, recipe.seed)
        log["corpus_s"] = round(time.time() - t0, 1)
        prog.update(task, description=f"pretrain ({count_parameters(model):,} params)", total=1, completed=0)

        def on_step(step: int, total: int, loss: float) -> None:
            prog.update(task, total=total, completed=step, description=f"pretrain loss {loss:.3f}")

        t1 = time.time()
        losses = train(model, tok, pairs, recipe.train, recipe.seed, on_step)
        log["train_s"] = round(time.time() - t1, 1)
        from harness.cpu import governor

        log["threads"] = governor().summary()  # provenance: the weights do not depend on it
        model.save_pretrained(tmp)
        (tmp / RECIPE_FILE).write_text(json.dumps(rec, indent=2, default=list))
        log |= {
            "parameters": count_parameters(model),
            "train_steps": len(losses),
            "final_loss": sum(losses[-20:]) / max(1, len(losses[-20:])),
            "weights_sha256": _weights_sha(tmp),
        }
        del model
        if measure:
            from harness.world.abilities import measure_abilities

            t2 = time.time()
            mtask = prog.add_task("abilities", total=None)
            ab = measure_abilities(
                tmp,
                n_per_level=recipe.eval.n_per_level,
                samples=recipe.eval.samples,
                verify_max=recipe.eval.verify_max,
                continuation_max=recipe.eval.continuation_max,
                continuation_k=recipe.eval.continuation_k,
                seed=recipe.seed,
                progress=lambda ph, d, t: prog.update(mtask, description=f"abilities: {ph}", total=t, completed=d),
            )
            ab["model_dir"] = str(target)
            (tmp / ABILITIES_FILE).write_text(json.dumps(ab, indent=2))
            log["measure_s"] = round(time.time() - t2, 1)
    log |= {"total_s": round(time.time() - t0, 1), "load_avg_end": _load()}
    (tmp / BUILD_LOG_FILE).write_text(json.dumps(log, indent=2))
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(target)
    console.print(f"[green]world model built[/green] at {target} in {log['total_s']:.0f}s (load {log['load_avg_end']})")
    if measure:
        console.print(abilities_table(json.loads((target / ABILITIES_FILE).read_text())))
    return target


def _save_and_reload_tokenizer(tok: Any, folder: Path) -> Any:
    """Train with exactly what `AutoTokenizer` will load later; fail loudly if loading changes it."""
    from transformers import AutoTokenizer

    tok.save_pretrained(folder)
    loaded = AutoTokenizer.from_pretrained(folder)
    probe = "Step 1: +9 on 4 = 13 ≡ 2\n\n\\boxed{2}<|im_end|> **Substep 2:** -7 on 250"
    if loaded(probe).input_ids != tok(probe).input_ids or type(loaded).__name__ != "TokenizersBackend":
        raise RuntimeError(f"AutoTokenizer reloads the world tokenizer differently ({type(loaded).__name__})")
    return loaded


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"
