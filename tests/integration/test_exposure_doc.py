"""docs/research.md quotes the precision of the harm outcomes against their exposure from
results/exposure_power/power.csv (written by experiments/tools/exposure_power.py): every
figure must appear as written, and the table must be the tool's own computation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from conftest import load_tool

ROOT = Path(__file__).resolve().parents[2]
FLAT = " ".join((ROOT / "docs" / "research.md").read_text().split())
OUT = ROOT / "results" / "exposure_power"


def _tool():
    return load_tool("exposure_power")


def test_power_table_is_recomputed_from_the_runs():
    runs = pd.read_csv(OUT / "runs.csv", index_col="seed")
    table = pd.read_csv(OUT / "power.csv", index_col="outcome")
    again = _tool().power_table(runs)
    pd.testing.assert_frame_equal(again, table, check_dtype=False, check_names=False)


def test_research_guide_quotes_the_power_table():
    t = pd.read_csv(OUT / "power.csv", index_col="outcome")
    missed, exposure = t.loc["harm_missed"], t.loc["unprotected_harm_weeks"]
    unnecessary = t.loc["unnecessary_intervention_weeks"]
    assert "Ten replications" in FLAT and int(missed.replications) == 10
    assert (f"`harm_missed` a mean of {missed['mean']:.2f} events with a 95% CI half-width of "
            f"{missed.relative_half_width:.1%} of the mean (about "
            f"{int(missed.replications_for_5pct)} replications for 5%)") in FLAT
    assert (f"a mean of {exposure['mean']:,.0f} child-weeks with a half-width of "
            f"{exposure.relative_half_width:.2%}") in FLAT
    assert f"has a half-width of {unnecessary.relative_half_width:.2%}" in FLAT
    # the point of it: the exposure is at least ten times as precise as the events
    assert exposure.relative_half_width * 10 < missed.relative_half_width
