"""`harness ablate STUDY`: the paper's ablations and analysis figures, one command each, on any comparison config.

Each study is one module here with a ``run(ctx)`` function: it runs what it needs through `harness compare`
(its recipes, the config's training problems and trainer; cached steps are shared by every study of the
same config through one step cache) plus its own measurements, then writes its table (Markdown, CSV and a
LaTeX booktabs table), its figure (PDF + PNG) and ``<study>.json`` (config, n, seeds, wall time, load) with
the paper's number beside each row where the paper gives one (`harness.ablate.paper`).

    harness ablate sft-design --config configs/world-blindspot.yaml    # Table 2
    harness ablate hints --config configs/world-offref.yaml            # Table 1 with hints
    harness ablate proposer --config configs/world-offref.yaml --proposer-model world:offref-large
    harness ablate pass-at-k | internalization | sft-sources ...       # Figures 6, 7, 8-9

Importing the package is cheap (no torch, pandas or matplotlib).
"""

from __future__ import annotations

from harness.ablate.registry import STUDIES, StudyOptions, run_study

__all__ = ["STUDIES", "StudyOptions", "run_study"]
