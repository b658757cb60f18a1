"""The paper's numbers the studies print beside their own (int-paper.md §4-5; arXiv 2601.14209 via the
secondary summaries named there). Reported, never measured here: every study labels them as the paper's."""

from __future__ import annotations

# Table 2: SFT design ablation, 235-problem subset, after SFT (coverage = problems with >= 1 correct sample).
TABLE2 = {
    "int": {"covered": 202, "problems": 235, "accuracy_pct": 7.71},
    "nofilter": {"covered": 196, "problems": 235, "accuracy_pct": 5.06},
    "noprefix": {"covered": 162, "problems": 235, "accuracy_pct": 2.87},
    "suffix": {"covered": 111, "problems": 235, "accuracy_pct": 2.31},
    "prefixonly": None,  # not reported: one summary labels the 162/235 row "prefix only", int-paper.md §4.3 follows the other
}
TABLE2_ORDER = ("int", "nofilter", "noprefix", "suffix")  # the paper's ordering by coverage and accuracy, best first

# Table 1: continuations (334 problems) and the hint study (176 problems, single-source).
TABLE1 = {
    "scratch": {"covered": 40, "problems": 334, "accuracy_pct": 0.0984},
    "prefix": {"covered": 31, "problems": 334, "accuracy_pct": 0.0726},
    "original": {"covered": 29, "problems": 334, "accuracy_pct": 0.0713},
    "intervention": {"covered": 80, "problems": 334, "accuracy_pct": 1.56},
}
HINTS = {
    "hint": {"covered": 11, "problems": 176, "accuracy_pct": 2.38},
    "intervention": {"covered": 18, "problems": 176, "accuracy_pct": 3.05},
    "hint_intervention": {"covered": 25, "problems": 176, "accuracy_pct": 4.62},
}

# Table 1's proposer rows: the policy (Qwen3-4B-Instruct) vs the larger Qwen3-30B-A3B-Instruct proposer.
PROPOSER = {
    "self": {"model": "Qwen3-4B-Instruct-2507 (the policy)", "covered": 80, "problems": 334, "accuracy_pct": 1.56},
    "larger": {"model": "Qwen3-30B-A3B-Instruct", "covered": 101, "problems": 334, "accuracy_pct": 2.87},
}
PROPOSER_NOTE = ("the paper: the 30B proposer's interventions cover +21 problems and are 'about twice as accurate'; "
                 "location accuracy and InT+RL with the 30B proposer are not reported in the summaries")

# Figure 8: next-token entropy after SFT; Figure 9: NLL ordering of SFT sources under the base model.
ENTROPY = {"base": 0.26, "int": 0.29, "reference": 1.66}
NLL_ORDER = ("int", "reflection", "r1", "reference")  # lowest NLL first (R1 traces are not a source here)

PASS_AT_K_CLAIM = ("the paper (Fig. 6): the InT-SFT model's pass@k lies above the base model's for every k up to "
                   "1,024, on the hard training set and on the test set (no numbers in the summaries)")
INTERNALIZATION_CLAIM = ("the paper (Fig. 7): after InT's SFT the intervention tokens are more likely, on problems "
                         "seen in SFT and on held-out ones (no numbers in the summaries)")
