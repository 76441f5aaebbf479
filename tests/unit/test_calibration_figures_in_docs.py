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
