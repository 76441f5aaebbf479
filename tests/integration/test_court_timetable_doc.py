"""docs/courts.md quotes the timetable sweep (experiments/sweeps/court_timetable.toml) from
results/figures/court_timetable.csv, the table experiments/tools/plot_court_timetable.py
computes from the sweep's runs: the table must be the tool's own computation from the runs
on disk, and every figure the guide quotes must appear as written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from conftest import load_tool

ROOT = Path(__file__).resolve().parents[2]
FLAT = " ".join((ROOT / "docs" / "courts.md").read_text().split())
RUNS = ROOT / "results" / "sweeps" / "court_timetable" / "summary" / "metrics_runs.csv"
TABLE = ROOT / "results" / "figures" / "court_timetable.csv"


def _tool():
    return load_tool("plot_court_timetable")


def _at(t, enforcement, slots, weeks):
    row = t[(t.timetable_enforcement == enforcement) & (t.hearing_slots_per_100k == slots)
            & (t.timetable_weeks == weeks)]
    assert len(row) == 1, (enforcement, slots, weeks)
    return row.iloc[0]


def test_the_dose_response_table_is_recomputed_from_the_runs():
    again = _tool().dose_response(pd.read_csv(RUNS))
    pd.testing.assert_frame_equal(again, pd.read_csv(TABLE), check_dtype=False)


def test_the_components_add_up_to_the_duration_where_the_runs_carry_all_six():
    """The figure stacks the six components of the duration; with all six metrics (the
    sweep's spec asks for them) their medians add up to the duration's, up to the
    replicates' spread (medians of sums are not sums of medians)."""
    tool = _tool()
    runs = pd.read_csv(RUNS)
    if tool.components(runs) != list(tool.COMPONENTS):
        spec = (ROOT / "experiments" / "sweeps" / "court_timetable.toml").read_text()
        assert all(f"[metrics.{c}]" in spec for c in tool.COMPONENTS)
        return  # the committed runs predate two of the metrics; they come with the rerun
    total = runs[list(tool.COMPONENTS)].sum(axis=1)
    assert (total - runs.care_duration_weeks).abs().max() < 1e-6


def test_the_courts_guide_quotes_the_sweep():
    runs, t = pd.read_csv(RUNS), pd.read_csv(TABLE)
    reps = runs.replication.nunique()
    assert f"{len(runs)} runs ({runs.point.nunique()} design points x {reps} replications)" in FLAT
    default = _tool().reference_slots()
    lowest = min(runs.hearing_slots_per_100k)
    for enforcement, slots in ((1.0, default), (1.0, lowest), (0.25, default)):
        lo, hi = _at(t, enforcement, slots, 20.0), _at(t, enforcement, slots, 60.0)
        quote = (f"{slots:g} slots, enforcement {enforcement:g}: {hi.duration_median:.1f} weeks "
                 f"with a 60-week timetable, {lo.duration_median:.1f} with a 20-week one")
        assert quote in FLAT, quote
    full = _at(t, 1.0, default, 20.0)
    assert (f"case management {full.case_management_weeks:.1f} weeks, experts "
            f"{full.experts_weeks:.1f}") in FLAT


def test_the_sweep_spans_0_8_to_1_5_of_the_default_capacity():
    """The capacity range is relative to the default hearing slots: the spec's levels (and
    its reference point) follow the parameter table's default, so a recalibrated default
    needs the levels rewritten (experiments/tools/court_timetable_levels.py, a step of
    `make calibration-outputs`), not a stale sweep."""
    import tomllib

    from abm.core.params import PARAMETERS

    spec = tomllib.loads((ROOT / "experiments" / "sweeps" / "court_timetable.toml").read_text())
    default = PARAMETERS["hearing_slots_per_100k"].default
    levels = spec["factors"]["hearing_slots_per_100k"]["values"]
    assert [round(v / default, 2) for v in levels] == [0.8, 1.0, 1.2, 1.5]
    assert spec["summary"]["reference"]["hearing_slots_per_100k"] == levels[1]


def test_the_levels_tool_rewrites_levels_and_reference_from_a_new_default():
    import tomllib

    tool = load_tool("court_timetable_levels")
    text = tool.SPEC.read_text()
    new = tomllib.loads(tool.rewrite(text, 8.0))
    assert new["factors"]["hearing_slots_per_100k"]["values"] == [6.4, 8.0, 9.6, 12.0]
    assert new["summary"]["reference"]["hearing_slots_per_100k"] == 8.0
    old = tomllib.loads(text)
    assert new["factors"]["timetable_weeks"] == old["factors"]["timetable_weeks"]
    assert new["metrics"] == old["metrics"]
    assert tool.main(["--check"]) == 0  # the committed spec is at the current default
