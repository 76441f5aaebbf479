"""docs/knockout.md quotes the ripple pulse test from results/ripple_pulse/pulse.csv (written
by experiments/tools/ripple_pulse.py): every figure must appear as written, and the table
must be the tool's own computation from the runs it recorded."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from conftest import load_tool

ROOT = Path(__file__).resolve().parents[2]
FLAT = " ".join((ROOT / "docs" / "knockout.md").read_text().split())
OUT = ROOT / "results" / "ripple_pulse"


def _tool():
    return load_tool("ripple_pulse")


def test_pulse_table_is_recomputed_from_the_runs():
    tool = _tool()
    runs = pd.read_csv(OUT / "runs.csv")
    table = pd.read_csv(OUT / "pulse.csv", index_col="arm")
    pd.testing.assert_frame_equal(tool.pulse_table(runs), table, check_dtype=False,
                                  check_names=False)
    # the runs are the arms the tool defines: the default gain, and the loop cut
    assert dict(zip(table.index, table["gain"], strict=True)) == tool.arms()
    assert (runs.groupby(["arm", "pulse"])["seed"].nunique() == table["seeds"].iloc[0]).all()


def test_knockout_doc_quotes_the_pulse_table():
    t = pd.read_csv(OUT / "pulse.csv", index_col="arm")
    on, off = t.loc["loop on"], t.loc["loop off"]
    assert f"{int(on.seeds)} paired seeds" in FLAT
    for r in (on, off):
        assert (f"`ripple_gain` = {r.gain:g}: {r.after_share:+.3f} of the pulse's excess "
                f"[95% CI {r.after_share_ci_lo:+.3f}, {r.after_share_ci_hi:+.3f}]") in FLAT
    assert (f"{on.loop_effect_after_leavers:+.0f} leavers [95% CI "
            f"{on.loop_effect_ci_lo:+.0f}, {on.loop_effect_ci_hi:+.0f}]") in FLAT
    assert (f"{on.pulse_excess_leavers:.0f} extra leavers with the loop and "
            f"{off.pulse_excess_leavers:.0f} without") in FLAT
    # what the guide says of it must be what the runs show: without the loop the pulse is
    # damped; whether the loop's effect is told from zero, and whether the pulse is damped
    # with the loop too
    assert off.after_share_ci_hi < 0
    assert ("The pulse is damped either way" in FLAT) == (on.after_share_ci_hi < 0)
    if on.loop_effect_ci_lo < 0 < on.loop_effect_ci_hi:
        assert "too little to show within these seeds" in FLAT
        assert "too small to tell from zero with six paired seeds" in " ".join(
            (ROOT / "docs" / "ODD.md").read_text().split()) and int(on.seeds) == 6
    else:
        assert "too little to show" not in FLAT


def test_knockout_doc_quotes_the_ripple_loop_contribution():
    t = pd.read_csv(ROOT / "results" / "knockout" / "knockout_table.csv").set_index(
        ["variant", "metric"])

    def rel(metric):
        return f"{100 * t.loc[('no_ripple_loop', metric), 'relative']:+.0f}%"

    turnover = t.loc[("no_ripple_loop", "turnover_rate")]
    assert (f"turnover by {turnover.contribution:+.3f} a year [95% CI {turnover.ci_lo:+.3f}, "
            f"{turnover.ci_hi:+.3f}] ({rel('turnover_rate')} of the full model's "
            f"{turnover.full_median:.3f})") in FLAT
    assert f"vacancies by {rel('vacancy_rate')}, agency use by {rel('agency_share')}" in FLAT
    exp = t.loc[("no_ripple_loop", "mean_experience_years")]
    assert f"lowers the mean experience of staff by {-exp.contribution:.2f} years" in FLAT
    assert turnover.ci_lo > 0  # the loop's contribution is detectable
