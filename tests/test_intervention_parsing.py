"""The intervention parser on realistic malformed proposer outputs (tests/data/intervention_outputs.jsonl)."""

import json
from pathlib import Path

import pytest

from harness.intervention.parsing import parse_intervention

CASES = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "intervention_outputs.jsonl").read_text().splitlines()
    if line.strip()
]


def test_enough_realistic_cases():
    assert len(CASES) >= 30
    assert len({c["id"] for c in CASES}) == len(CASES)
    assert sum(not c["expected"]["ok"] for c in CASES) >= 8  # failures are cases too


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case):
    got = parse_intervention(case["output"])
    want = case["expected"]
    assert got.ok is want["ok"], got
    assert got.reason == want["reason"]
    assert got.truncated is want["truncated"]
    if "content" in want:
        assert got.content == want["content"]
    if "location" in want:
        assert got.location == want["location"]
    if not got.ok:
        assert got.reason  # every failure says why


def test_latex_escapes_are_never_turned_into_control_characters():
    text = r'<intervention>{"content": "$\frac{1}{2} \neq \theta \times \binom{4}{2} \right)$", "location": 1}</intervention>'
    got = parse_intervention(text)
    assert got.ok and not any(ch in got.content for ch in "\f\n\t\b\r")
    assert got.content.startswith(r"$\frac{1}{2} \neq \theta")


def test_world_model_output_format_parses():
    """What the embedded world's model is trained to write (harness.world.problems.render_verification_target)."""
    text = 'Substep 1: correct\n\nSubstep 2: wrong\n\n<intervention>{"content": "Step 2: v = 3 * 4 mod 11 = 1", "location": 2}</intervention>'
    got = parse_intervention(text)
    assert (got.ok, got.location, got.content, got.method) == (
        True,
        2,
        "Step 2: v = 3 * 4 mod 11 = 1",
        "json",
    )


def test_no_error_verdict_is_empty_content():
    got = parse_intervention('<intervention>{"content": "", "location": 0}</intervention>')
    assert got.ok and got.content == "" and got.location is None
