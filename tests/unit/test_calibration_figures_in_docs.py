"""The README quotes how many of the review's figures the calibrated values meet at 1:1: the
counts must be those of the committed validation (results/calibration/validation_1to1.json,
counted as the calibration report counts them)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import load_tool

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_quotes_the_committed_1to1_pass_counts():
    report = load_tool("calibration_report")
    val = json.loads((ROOT / "results" / "calibration" / "validation_1to1.json").read_text())
    n_pass, n_checked, seed_pass, seed_checked = report.pass_counts(val)
    flat = " ".join((ROOT / "README.md").read_text().split())
    m = re.search(r"the calibrated values meet (\d+) of the review's (\d+) checked figures at "
                  r"1:1 \((\d+) of (\d+) checked targets", flat)
    assert m, "README.md no longer quotes the calibration's 1:1 pass counts"
    assert tuple(int(x) for x in m.groups()) == (seed_pass, seed_checked, n_pass, n_checked)


def test_the_method_doc_quotes_the_point_rule_and_the_committed_choice_follows_it():
    """docs/calibration_method.md states the search's settings (the durations' margin, the
    trust region, the rounds) as point_summaries.py has them, and the committed choice
    (results/calibration/point_summaries.json) is the one its rule makes, at 1:1."""
    tool = load_tool("point_summaries")
    doc = json.loads((ROOT / "results" / "calibration" / "point_summaries.json").read_text())
    flat = " ".join((ROOT / "docs" / "calibration_method.md").read_text().split())
    assert f"the durations held within {tool.MARGIN:g} half-widths" in flat
    assert f"searches again within {tool.RADIUS:g} (in the prior's scaled coordinates" in flat
    assert f"Of the {tool.ROUNDS} rounds the one kept keeps the most durations" in flat
    assert "(`--scale 1` in `make calibration-outputs`)" in flat
    assert "point_summaries.py results/calibration/abc --out results/calibration --scale 1" in (
        ROOT / "Makefile").read_text()
    assert doc["scale"] == 1.0 and doc["chosen"] == tool.choose(doc["candidates"])
    chosen = next(c for c in doc["candidates"] if c["arg"] == doc["chosen"])
    assert chosen["required_met"] == chosen["required_of"] == len(tool.REQUIRED)
