"""Preflight: before a comparison runs, estimate what each stage generates, trains, occupies and costs.

For every stage of every arm: the number of generations and an estimate of generated tokens; for GPU
stages a memory estimate (weights, optimizer state, activations and logits, KV cache) against the device
memory the user declares (``preflight.device_memory_gib``) or that is detected; GPU-hours from stated
throughput assumptions. A plan that cannot fit fails before anything runs, naming the stage, the term
that does not fit and what to change. The estimates are deliberately simple, conservative upper-bound
arithmetic -- written out here so a reader can check each term:

* **model states in training** (ZeRO, Rajbhandari et al. 2020, §3.1): mixed-precision AdamW keeps fp16/bf16
  weights and gradients (2 + 2 bytes/param) plus fp32 master weights, momentum and variance
  (4 + 4 + 4) = **16 bytes per parameter**; the harness trains with fp32 weights and bf16 autocast, which
  costs the same 16 bytes (4 weights + 4 grads + 8 Adam). Pure bf16 weights (``dtype: bfloat16``) would
  halve it but lose updates below bf16 resolution (2^-8 relative) -- at the paper's lr 1e-6, nearly all.
* **logits**: the loss needs the vocabulary distribution at every trained position: micro-batch x sequence x
  vocab, in bf16 from the head plus an fp32 copy for the log-softmax (6 bytes per entry; 8 in float32).
* **logits in the backward pass**: the gradient of the logits, one more micro-batch x sequence x vocab
  tensor in the logits' dtype (2 bytes in bf16, 4 in float32) -- at 16K tokens and Qwen3's 152K vocabulary,
  5 GiB per sequence.
* **bf16 weight copies**: under bf16 autocast the fp32 weights are cast once per forward and the casts are
  cached until the forward ends (``torch.autocast``'s weight cache): 2 bytes per parameter on top of the
  model states.
* **activations** with gradient checkpointing: one hidden state per layer and position (bf16) plus one
  layer's intermediate activations recomputed at a time (~ 16 x hidden per position); float32 (a CPU run)
  doubles every activation byte.
* **KV cache** (PagedAttention, Kwon et al. 2023): 2 (K and V) x layers x KV heads x head dim x 2 bytes per
  token; vLLM needs room for at least one sequence of ``max_model_len`` tokens within
  ``gpu_memory_utilization`` x device memory after the weights.
* **GPU-hours** = generated tokens / generation throughput + trained tokens / training throughput, with the
  throughputs stated in the config (`Throughput`; the defaults are *assumed* orders of magnitude for a 4B
  model on one H100/H200 with vLLM and TRL, not measurements -- the dry run says so; set them, and their
  ``source``, for your hardware).

On a CPU (``preflight.device: cpu``, as configs/real-cpu.yaml sets) the same terms are computed for the
``hf`` backend and TRL in float32 (no bf16, no checkpointing, 4-byte KV cache and activations) plus the
resident size of a step process before any model (`PreflightConfig.process_baseline_gib`) and the checkpoint's
pages, which count in the resident size while ``from_pretrained`` reads the memory-mapped safetensors into
the model (found by measurement: without it every inference stage was under-estimated by about the weights'
size), and checked against the host memory; each step records its measured peak RSS (`harness.memory`) to compare with
(docs/running-on-gpus.md, "Preflight against measurement").
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

GiB = 1024**3


class ModelShape(BaseModel):
    """What the memory arithmetic needs of a model (its config.json, or declared for offline planning)."""

    model_config = ConfigDict(extra="forbid")
    params: float = Field(..., description="Parameter count.")
    layers: int = Field(..., description="num_hidden_layers.")
    hidden: int = Field(..., description="hidden_size.")
    kv_heads: int = Field(..., description="num_key_value_heads.")
    head_dim: int = Field(..., description="Attention head dimension.")
    vocab: int = Field(..., description="vocab_size.")
    weight_bytes: float | None = Field(None, description="Bytes of the served weights if not 2 per parameter (quantised checkpoints).")
    checkpoint_bytes: float | None = Field(None, description="Bytes of the checkpoint files (safetensors); None: 2 per parameter.")

    def kv_bytes_per_token(self, dtype_bytes: int = 2) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * dtype_bytes

    def served_weight_bytes(self) -> float:
        return self.weight_bytes if self.weight_bytes is not None else 2 * self.params

    @classmethod
    def from_hf_config(cls, cfg: dict[str, Any], params: float | None = None) -> ModelShape:
        heads = cfg.get("num_attention_heads") or 1
        hidden = cfg["hidden_size"]
        head_dim = cfg.get("head_dim") or hidden // heads
        vocab, layers = cfg["vocab_size"], cfg["num_hidden_layers"]
        if params is None:  # dense decoder estimate: embeddings (+ head) + attention + MLP per layer
            inter = cfg.get("intermediate_size", 4 * hidden)
            kv = cfg.get("num_key_value_heads", heads)
            attn = hidden * heads * head_dim * 2 + hidden * kv * head_dim * 2
            mlp = 3 * hidden * inter
            params = vocab * hidden * (1 if cfg.get("tie_word_embeddings") else 2) + layers * (attn + mlp)
        return cls(params=float(params), layers=layers, hidden=hidden, kv_heads=cfg.get("num_key_value_heads", heads),
                   head_dim=head_dim, vocab=vocab)


DEFAULT_THROUGHPUT_SOURCE = ("assumed, not measured: orders of magnitude for a ~4B model on one H100/H200 (vLLM batched "
                             "decoding, TRL training with gradient checkpointing); measure yours with benchmarks/gpu_smoke.py")


class Throughput(BaseModel):
    """Throughputs behind the hours estimate (per GPU, or per machine on a CPU), with where they come from.
    The defaults are assumptions (orders of magnitude for a ~4B model on one H100/H200), not measurements;
    every dry run prints them with their ``source``."""

    model_config = ConfigDict(extra="forbid")
    generate_tokens_per_s: float = Field(15000.0, gt=0, description="Generated tokens per second per GPU (vLLM, batched).")
    train_tokens_per_s: float = Field(5000.0, gt=0, description="Trained tokens per second per GPU (forward + backward).")
    source: str = Field(DEFAULT_THROUGHPUT_SOURCE, description="Where these numbers come from: 'assumed ...' or a "
                        "measurement (machine, model, command); printed with every estimate.")

    @property
    def assumed(self) -> bool:
        return self.source.strip().lower().startswith("assumed")


class PreflightConfig(BaseModel):
    """Inputs of the preflight that the comparison does not already hold."""

    model_config = ConfigDict(extra="forbid")
    device: Literal["auto", "gpu", "cpu"] = Field(
        "auto", description="What the memory estimate is for: gpu (device memory: vLLM, bf16 autocast), cpu (resident "
        "memory of each step's process: hf backend and TRL in float32), auto (gpu when device_memory_gib is declared or "
        "CUDA is detected, else memory is not estimated).")
    device_memory_gib: float | None = Field(None, gt=0, description="Memory per GPU (device cpu: host memory); None: "
                                            "detected (CUDA, or the host's RAM on a CPU) or not checked.")
    gpus: int = Field(1, ge=1, description="GPUs available to the run.")
    models: dict[str, ModelShape] = Field(default_factory=dict, description="Shapes of models whose config.json is not local.")
    throughput: Throughput = Field(default_factory=Throughput)
    expected_failure_rate: float = Field(0.9, ge=0, le=1, description="Share of training rollouts that fail (hard problems).")
    mean_completion_fraction: float = Field(0.5, gt=0, le=1, description="Mean completion length as a share of the budget.")
    selected_fraction: float = Field(0.5, gt=0, le=1, description="Share of failed attempts whose proposal survives the filters.")
    prompt_tokens: int = Field(2048, ge=1, description="Tokens of a task prompt (rollout, RL, eval) and of a reference "
                               "solution; the proposer's prompt is estimated as 2 x this + the attempt + turn 1.")
    process_baseline_gib: float = Field(0.4, ge=0, description="device cpu: resident memory of a step process before it "
                                        "loads a model (Python, torch, transformers, TRL imported; 0.37 GiB measured on "
                                        "Linux x86-64 with torch 2.13, transformers 5.2, TRL 1.16).")

    def assumptions(self) -> list[str]:
        """The numbers the estimate assumes rather than knows, one line each (printed by the dry run)."""
        t = self.throughput
        return [
            f"{'assumed' if t.assumed else 'stated'} throughput: {t.generate_tokens_per_s:,.0f} generated / {t.train_tokens_per_s:,.0f} trained tokens/s per "
            f"{'GPU' if self.device != 'cpu' else 'machine'} ({t.source})",
            f"assumed: expected_failure_rate {self.expected_failure_rate:g}, selected_fraction {self.selected_fraction:g}, "
            f"mean_completion_fraction {self.mean_completion_fraction:g} (of each token budget), prompt_tokens "
            f"{self.prompt_tokens:,}: assumed, set them under preflight: for your data",
        ]


def model_shape(model: str, declared: dict[str, ModelShape]) -> ModelShape | None:
    """The shape of ``model``: declared, else its config.json in a local folder or the local hub cache."""
    if model in declared:
        return declared[model]
    from harness.models import model_scheme, resolve_model

    path = Path(resolve_model(model)) if model_scheme(model) else Path(model).expanduser()
    cfg_file = path / "config.json" if path.is_dir() else None
    if cfg_file is None:
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(model, "config.json")
            cfg_file = Path(found) if isinstance(found, str) else None
        except Exception:  # any hub-cache problem means "unknown"
            cfg_file = None
    if cfg_file is None or not cfg_file.exists():
        return None
    cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    cfg = cfg.get("text_config", cfg)
    weights = sum(p.stat().st_size for p in cfg_file.parent.glob("*.safetensors"))
    shape = ModelShape.from_hf_config(cfg).model_copy(update={"checkpoint_bytes": float(weights) if weights else None})
    return shape.model_copy(update={"params": weights / 4}) if weights and cfg.get("torch_dtype") == "float32" else shape


def training_state_bytes(params: float, *, master_fp32: bool = True) -> float:
    """Model states of AdamW training (ZeRO §3.1): 16 bytes/param with fp32 master state, 8 in pure bf16."""
    return params * (16 if master_fp32 else 8)


def logits_bytes(micro_batch: int, seq: int, vocab: int, dtype_bytes: int = 2) -> float:
    """Logits from the head (bf16: 2 bytes; float32: 4) plus the fp32 copy the log-softmax works on."""
    return micro_batch * seq * vocab * (dtype_bytes + 4)


def logits_grad_bytes(micro_batch: int, seq: int, vocab: int, dtype_bytes: int = 2) -> float:
    """The backward pass's gradient of the logits, in the logits' dtype."""
    return micro_batch * seq * vocab * dtype_bytes


def weight_copy_bytes(params: float) -> float:
    """bf16 casts of the fp32 weights that autocast caches during a forward pass (2 bytes per parameter)."""
    return 2 * params


def activation_bytes(shape: ModelShape, micro_batch: int, seq: int, checkpointing: bool, dtype_bytes: int = 2) -> float:
    """Checkpointed: one hidden state per layer and position + one layer's recompute (~16 x hidden);
    without checkpointing every layer keeps its intermediates (~34 x hidden per position); ``dtype_bytes``
    per value (bf16: 2, float32: 4)."""
    per_pos = shape.hidden * dtype_bytes
    if checkpointing:
        return micro_batch * seq * per_pos * (shape.layers + 16)
    return micro_batch * seq * per_pos * 34 * shape.layers


def kv_fit(shape: ModelShape, device_bytes: float, utilisation: float, max_model_len: int) -> tuple[float, float]:
    """(bytes vLLM may use for KV after the weights, bytes one max_model_len sequence needs)."""
    return utilisation * device_bytes - shape.served_weight_bytes(), max_model_len * shape.kv_bytes_per_token()


@dataclass
class StageEstimate:
    arm: str
    stage: str
    generations: int = 0
    tokens_generated: float = 0
    tokens_trained: float = 0
    memory: dict[str, float] = field(default_factory=dict)  # term -> bytes (peak, per GPU)
    device_bytes: float | None = None
    problem: str | None = None  # the term that does not fit, and the fix
    notes: list[str] = field(default_factory=list)

    @property
    def peak(self) -> float:
        return sum(self.memory.values())

    @property
    def gpu_hours(self) -> float:
        return 0.0  # filled by the plan (needs the throughput)


@dataclass
class Preflight:
    stages: list[StageEstimate]
    throughput: Throughput
    gpus: int
    device: str
    mode: str = "gpu"  # gpu | cpu | none: what the memory column estimates
    assumptions: list[str] = field(default_factory=list)

    def gpu_hours(self, st: StageEstimate) -> float:
        return (st.tokens_generated / self.throughput.generate_tokens_per_s
                + st.tokens_trained / self.throughput.train_tokens_per_s) / 3600

    @property
    def problems(self) -> list[StageEstimate]:
        return [s for s in self.stages if s.problem]

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device, "mode": self.mode, "gpus": self.gpus, "throughput": self.throughput.model_dump(),
            "assumptions": self.assumptions,
            "stages": [{"arm": s.arm, "stage": s.stage, "generations": s.generations,
                        "tokens_generated": round(s.tokens_generated), "tokens_trained": round(s.tokens_trained),
                        "memory_gib": {k: round(v / GiB, 2) for k, v in s.memory.items()},
                        "peak_gib": round(s.peak / GiB, 2) if s.memory else None,
                        "device_gib": round(s.device_bytes / GiB, 1) if s.device_bytes else None,
                        "gpu_hours": round(self.gpu_hours(s), 2), "problem": s.problem, "notes": s.notes}
                       for s in self.stages],
            "total_gpu_hours": round(sum(self.gpu_hours(s) for s in self.stages), 1),
        }


def _device(pf: PreflightConfig) -> tuple[float | None, str, str]:
    """(memory per device in bytes or None, description, mode gpu|cpu|none)."""
    if pf.device == "cpu":
        if pf.device_memory_gib:
            return pf.device_memory_gib * GiB, f"CPU, {pf.device_memory_gib:g} GiB host memory (declared)", "cpu"
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):  # not POSIX: estimate, do not check
            return None, "CPU, host memory unknown: estimated, not checked", "cpu"
        return float(total), f"CPU, {total / GiB:.0f} GiB host memory (detected)", "cpu"
    if pf.device_memory_gib:
        return pf.device_memory_gib * GiB, f"{pf.gpus} GPU(s) x {pf.device_memory_gib:g} GiB (declared)", "gpu"
    if pf.device != "cpu":
        try:
            import torch

            if torch.cuda.is_available():
                props = torch.cuda.get_device_properties(0)
                return float(props.total_memory), f"{torch.cuda.device_count()} x {props.name} ({props.total_memory / GiB:.0f} GiB, detected)", "gpu"
        except ImportError:
            pass
    return None, "no GPU declared or detected: memory not checked", "none"


def training_memory(shape: ModelShape, c: dict[str, Any], micro_batch: int, seq: int, *, gpu: bool,
                    baseline_bytes: float = 0.0) -> dict[str, float]:
    """Peak memory terms of one training process (SFT or RL), per the module docstring. On a GPU the
    harness trains with bf16 autocast unless ``bf16`` is false and checkpoints unless told not to; on a CPU
    it trains in float32 without checkpointing (`trainers.trl_backend`)."""
    bf16 = gpu if c.get("bf16") is None else bool(c["bf16"])
    ckpt = gpu if c.get("gradient_checkpointing") is None else bool(c["gradient_checkpointing"])
    act = 2 if bf16 else 4
    mem = {"model states (AdamW, fp32 master)": training_state_bytes(shape.params, master_fp32=c.get("dtype") != "bfloat16")}
    if bf16:
        mem["bf16 weight copies (autocast)"] = weight_copy_bytes(shape.params)
    mem["activations"] = activation_bytes(shape, micro_batch, seq, ckpt, act)
    mem["logits"] = logits_bytes(micro_batch, seq, shape.vocab, act)
    mem["logits gradient (backward)"] = logits_grad_bytes(micro_batch, seq, shape.vocab, act)
    if baseline_bytes:  # a CPU process: its libraries, and the checkpoint's pages while the weights load
        mem["checkpoint pages (mmap, while loading)"] = _checkpoint(shape)
        mem["process baseline (libraries)"] = baseline_bytes
    return mem


def _checkpoint(shape: ModelShape) -> float:
    return shape.checkpoint_bytes if shape.checkpoint_bytes is not None else 2 * shape.params


@dataclass
class EstimateContext:
    """What a step kind's `estimate` may consult (`harness.compare.steps.StepKind.estimate`): the comparison,
    the arm, the number of training problems, the base model's shape and the device (when memory is
    checked), the assumed completion fraction, and the shared memory helpers."""

    config: Any  # the CompareConfig
    arm: str
    n_train: int | None
    shape: ModelShape | None  # the base model's, when memory is estimated (mode gpu or cpu)
    device_bytes: float | None  # per GPU (mode cpu: host memory); None: memory not checked
    frac: float  # assumed mean completion length as a share of the budget
    max_len: int  # the backend's max_model_len (0: not set)
    inference_memory: Any  # (StageEstimate, ModelShape | None, length) -> None: weights + KV cache (+ the process on a CPU)
    mode: str = "gpu"  # gpu | cpu | none: what the memory column estimates (`_device`)
    baseline_bytes: float = 0.0  # mode cpu: resident memory of a step process before any model (0 on a GPU)

    @property
    def pf(self) -> PreflightConfig:
        return self.config.preflight

    @property
    def gpu(self) -> bool:
        """Device memory of a GPU is estimated (vLLM, bf16 autocast)."""
        return self.mode == "gpu"

    @property
    def cpu(self) -> bool:
        """Resident memory of a CPU step process is estimated (hf backend, TRL in float32)."""
        return self.mode == "cpu"

    def shape_of(self, model: str) -> ModelShape | None:
        """The shape of another model a step loads (e.g. another proposer), when memory is estimated and the
        model is available without building or downloading it (a dry run must not build a world model);
        None: unknown, its memory is left out."""
        from harness.models import is_available

        if self.mode == "none" or (model not in self.pf.models and not is_available(model)):
            return None
        return model_shape(model, self.pf.models)

    def training_memory(self, c: dict[str, Any], micro_batch: int, seq: int) -> dict[str, float]:
        """The memory terms of one training process on this device (`training_memory`); the shape must be known."""
        assert self.shape is not None
        return training_memory(self.shape, c, micro_batch, seq, gpu=self.gpu, baseline_bytes=self.baseline_bytes)

    def training_fix(self, st: StageEstimate, c: dict[str, Any]) -> str:
        """The largest memory term of a training stage and what to change (`_training_fix`)."""
        return _training_fix(st, self.device_bytes or 0.0, c)

    def over_memory(self, st: StageEstimate) -> bool:
        """Memory is checked here and the stage's peak exceeds it."""
        return self.device_bytes is not None and bool(st.memory) and st.peak > self.device_bytes


def estimate(plan: Any, cfg: Any, n_train: int | None, n_eval: dict[str, int]) -> Preflight:
    """Per-stage estimates for every arm of ``plan`` (one seed: seeds repeat the same stages): each step's
    kind estimates its own stages (`StepKind.estimate`), then the evaluation."""
    pf: PreflightConfig = cfg.preflight
    device_bytes, device, mode = _device(pf)
    cpu = mode == "cpu"
    shape = model_shape(cfg.base_model, pf.models) if mode != "none" else None
    frac = pf.mean_completion_fraction
    eval_budget = cfg.eval.sampling.budget()
    out: list[StageEstimate] = []
    vllm = cfg.backend == "vllm"
    util = float(cfg.backend_options.get("gpu_memory_utilization", 0.9))
    max_len = int(cfg.backend_options.get("max_model_len") or 0)
    batch = int(cfg.backend_options.get("batch_size") or 16)  # hf backend: sequences generated together
    baseline = pf.process_baseline_gib * GiB if cpu else 0.0

    def check(st: StageEstimate, fix: str) -> None:
        if device_bytes is not None and st.peak > device_bytes:
            st.problem = f"needs {st.peak / GiB:.1f} GiB > {device_bytes / GiB:.1f} GiB; {fix}"

    def inference_memory(st: StageEstimate, model_shape_: ModelShape | None, length: int) -> None:
        if model_shape_ is None or mode == "none":
            return
        if cpu:  # hf backend in float32: weights, the checkpoint pages read to load them, a KV cache, the process
            st.memory = {"weights (float32)": 4 * model_shape_.params,
                         "checkpoint pages (mmap, while loading)": _checkpoint(model_shape_),
                         f"KV cache ({batch} sequences x {length:,} tokens, float32)": batch * length * model_shape_.kv_bytes_per_token(4),
                         "process baseline (libraries)": baseline}
            st.device_bytes = device_bytes
            check(st, "lower backend_options.batch_size or the token budget")
            return
        room, need = kv_fit(model_shape_, device_bytes, util if vllm else 1.0, length)
        st.memory = {"weights (served)": model_shape_.served_weight_bytes(), "KV cache (one max-length sequence)": need}
        st.device_bytes = device_bytes
        if need > room:
            st.problem = (f"KV cache: one {length:,}-token sequence needs {need / GiB:.1f} GiB but only "
                          f"{max(room, 0) / GiB:.1f} GiB remain at gpu_memory_utilization {util}; lower max_model_len "
                          f"or raise gpu_memory_utilization")

    for arm in [a for a in plan.arms if a.seed == 0]:
        ctx = EstimateContext(config=cfg, arm=arm.name, n_train=n_train, shape=shape, device_bytes=device_bytes,
                              frac=frac, max_len=max_len, inference_memory=inference_memory, mode=mode, baseline_bytes=baseline)
        for step in arm.steps:
            out += step.kind.estimate(step.options, step.settings, ctx)
        gens = sum(n_eval.values()) * cfg.eval.samples
        st = StageEstimate(arm.name, "eval", gens, gens * eval_budget * frac)
        inference_memory(st, shape, (pf.prompt_tokens + eval_budget) if cpu else (max_len or eval_budget + 4096))
        out.append(st)
    for extra in cfg.eval_only:
        gens = sum(n_eval.values()) * cfg.eval.samples
        budget = extra.sampling.budget() if extra.sampling else eval_budget
        st = StageEstimate(extra.name, "eval (eval-only)", gens, gens * budget * frac)
        eshape = model_shape(extra.model, pf.models) if mode != "none" else None
        length = int(extra.options.get("max_model_len") or budget + 4096)
        if mode != "none" and eshape is None:
            st.notes.append("model shape unknown here: memory not checked (declare it under preflight.models)")
        inference_memory(st, eshape, length)
        out.append(st)
    if mode != "none" and shape is None:
        out[0].notes.append(f"shape of {cfg.base_model} unknown here: memory not estimated (declare it under preflight.models)")
    return Preflight(out, pf.throughput, pf.gpus, device, mode, pf.assumptions())


def _training_fix(st: StageEstimate, device_bytes: float, c: dict[str, Any]) -> str:
    """The largest term and what to change."""
    worst, size = max(st.memory.items(), key=lambda kv: kv[1])
    fixes = {
        "logits": f"lower per_device_batch_size (now {c['per_device_batch_size']}; accumulation keeps the effective batch)",
        "logits gradient (backward)": f"lower per_device_batch_size (now {c['per_device_batch_size']}; accumulation keeps the effective batch)",
        "activations": "turn gradient_checkpointing on, or lower per_device_batch_size",
        "colocated vLLM (gpu_memory_utilization)": "lower vllm_gpu_memory_utilization, or run vLLM on its own GPU (vllm_mode: server)",
    }
    fix = fixes.get(worst, "use a larger GPU, more GPUs with ZeRO-3 sharding (trainer: openrlhf), or a smaller model")
    return (f"needs {st.peak / GiB:.1f} GiB > {device_bytes / GiB:.1f} GiB; largest term {worst} {size / GiB:.1f} GiB: {fix}")


def _n(x: float) -> str:
    """1234567 -> 1.2M (tables that fit a terminal)."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= size:
            return f"{x / size:.1f}{unit}"
    return f"{x:.0f}"


def print_preflight(pre: Preflight) -> None:
    from rich.markup import escape
    from rich.table import Table

    from harness.ui import console

    unit = "GPU" if pre.mode != "cpu" else "machine"
    hours = "GPU-h" if pre.mode != "cpu" else "hours"
    peak = "peak GiB" if pre.mode != "cpu" else "peak RSS GiB"
    table = Table(title=f"Preflight ({pre.device}; throughput {'ASSUMED' if pre.throughput.assumed else 'stated'}: "
                        f"{pre.throughput.generate_tokens_per_s:,.0f} generated / {pre.throughput.train_tokens_per_s:,.0f} "
                        f"trained tokens/s per {unit})")
    for col in ("arm", "stage", "gens", "tok gen", "tok train", peak, hours, "fits"):
        table.add_column(col, justify="left" if col in ("arm", "stage", "fits") else "right", overflow="fold")
    for s in pre.stages:
        fits = "-" if not s.memory or s.device_bytes is None else ("no" if s.problem else "yes")
        table.add_row(s.arm, s.stage, _n(s.generations), _n(s.tokens_generated), _n(s.tokens_trained),
                      f"{s.peak / GiB:.{2 if pre.mode == 'cpu' else 1}f}" if s.memory else "-", f"{pre.gpu_hours(s):.2f}", fits)
    console.print(table)
    total = sum(pre.gpu_hours(s) for s in pre.stages)
    if any(s.memory for s in pre.stages):
        label = "GPU-hours" if pre.mode != "cpu" else "hours"
        console.print(escape(f"estimated {label} (one seed): {total:.1f} on {pre.gpus} {unit}(s) -> ~{math.ceil(total / pre.gpus)} h wall"))
    for line in pre.assumptions:
        console.print(escape(f"  {line}"))
    for s in pre.stages:
        for note in s.notes:
            console.print(escape(f"  note ({s.arm} {s.stage}): {note}"))
        if s.memory and s.problem:
            terms = ", ".join(f"{k} {v / GiB:.1f}" for k, v in s.memory.items())
            console.print(escape(f"  DOES NOT FIT ({s.arm} {s.stage}): {s.problem} [{terms} GiB]"))
