"""Intervention Training (InT, arXiv 2601.14209) as one protocol: rollout -> propose -> continue -> build-sft.

Every trainer plugin, model size and backend consumes the same run directory (see `stages`), so the
paper's method is implemented once. Importing the package costs nothing (``harness int --help`` stays
fast, no torch); names resolve on first use.

    from harness.intervention import preset, run_all
    summary = run_all(preset("world", "runs/int-world"), ["self", "oracle"])
"""

from __future__ import annotations

from harness.lazy import lazy_exports

_EXPORTS = {
    "IntConfig": "config",
    "preset": "config",
    "preset_names": "config",
    "ParseResult": "parsing",
    "parse_intervention": "parsing",
    "format_intervention": "steps",
    "number_substeps": "steps",
    "prefix_before": "steps",
    "split_substeps": "steps",
    "run_all": "pipeline",
    "print_summary": "pipeline",
    "encode_example": "build_sft",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
