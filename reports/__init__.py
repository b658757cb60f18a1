"""Reports for `harness compare`: leaderboards, paired statistics, paper-ready figures, Markdown + HTML.

Importing the package is cheap (no pandas, matplotlib or torch): names resolve on first use.

    from reports import build_report, plot
    build_report("runs/compare-int-vs-rl-baseline")          # -> runs/.../report/
    plot("runs/compare-int-vs-rl-baseline", "rl_dynamics")    # one figure, PDF + PNG
"""

from __future__ import annotations

from harness.lazy import lazy_exports

_EXPORTS = {
    "build_report": "render",
    "plot": "figures",
    "FIGURES": "figures",
    "CompareRun": "load",
    "leaderboard": "leaderboard",
    "print_leaderboard": "leaderboard",
    "paired_tables": "paired",
    "reported_rows": "reported",
    "sft_data_stats": "stats_nll",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
