"""Intervention Training (InT, arXiv 2601.14209) as one protocol: rollout -> propose -> continue -> build-sft.

Every trainer plugin, model size and backend consumes the same run directory (see `stages`), so the
paper's method is implemented once. Importing the package costs nothing (``harness int --help`` stays
fast, no torch); names resolve on first use.

    from harness.intervention import preset, run_all
    summary = run_all(preset("world", "runs/int-world"), ["self", "oracle"])
"""

from __future__ import annotations

from harness.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "config": "IntConfig preset preset_names",
    "parsing": "ParseResult parse_intervention",
    "steps": "format_intervention number_substeps prefix_before split_substeps",
    "pipeline": "run_all print_summary",
    "build_sft": "encode_example",
})
