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


def test_the_method_doc_quotes_the_point_summaries_of_the_committed_run():
    """docs/calibration_method.md says what the distance rule chose and what the count rule
    chose on the final run: the counts are those of results/calibration/point_summaries.json."""
    doc = json.loads((ROOT / "results" / "calibration" / "point_summaries.json").read_text())
    cands = [c for c in doc["candidates"] if c["arg"] is not None and c.get("eligible", True)]
    by_distance = min(cands, key=lambda c: c["decisive_distance"])
    chosen = next(c for c in cands if c["arg"] == doc["chosen"])
    assert by_distance["arg"] != chosen["arg"]  # the two rules disagree on this run
    flat = " ".join((ROOT / "docs" / "calibration_method.md").read_text().split())
    assert (f"the distance chose a particle that met {by_distance['seed_met']} of the "
            f"{by_distance['seed_of']} figures scored at 10%") in flat
    assert f"while the search point met {chosen['seed_met']}, at a slightly larger distance" in flat
    assert chosen["arg"] == "search" and by_distance["arg"].startswith("particle=")
