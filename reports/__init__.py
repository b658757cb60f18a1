"""Reports for `harness compare`: leaderboards, paired statistics, paper-ready figures, Markdown + HTML.

Importing the package is cheap (no pandas, matplotlib or torch): names resolve on first use.

    from reports import build_report, plot
    build_report("runs/compare-int-vs-rl-baseline")          # -> runs/.../report/
    plot("runs/compare-int-vs-rl-baseline", "rl_dynamics")    # one figure, PDF + PNG
    print_verdict("runs/compare-int-vs-rl-baseline/report")   # what it found, per view (from report.json)
"""

from __future__ import annotations

from harness.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(__name__, {
    "render": "build_report",
    "figures": "plot FIGURES",
    "load": "CompareRun",
    "leaderboard": "leaderboard print_leaderboard",
    "paired": "paired_tables",
    "reported": "reported_rows",
    "stats_nll": "sft_data_stats",
    "verdict": "build_verdict print_verdict verdict_lines",
})
