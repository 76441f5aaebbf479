"""docs/research.md quotes the committed results of its two worked examples: every figure
it quotes is regenerated here from results/ and must appear in the guide as written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from abm.batch.precision import detect_replications

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "research.md").read_text()
FLAT = " ".join(DOC.split())  # the text with line breaks and indents as single spaces
SWITCH = ROOT / "results" / "sweeps" / "switch_pj_2011" / "summary"
EMA = ROOT / "results" / "ema"


def fmt(x: float) -> str:
    return f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def switch_rows() -> list[str]:
    d = pd.read_csv(SWITCH / "paired_differences.csv")
    d = d[d["kind"] == "metric"]
    rows = []
    for r in d.itertuples(index=False):
        ev = ("" if pd.isna(r.events_reference)
              else f"{r.events_point:,.0f} vs {r.events_reference:,.0f}")
        rows.append(f"| `{r.name}` | {r.unit} | {fmt(r.reference_mean)} | {fmt(r.point_mean)} | "
                    f"{fmt(r.diff_mean)} [{fmt(r.ci_lo)}, {fmt(r.ci_hi)}] | {ev} |")
    return rows


def ema_table() -> str:
    s = pd.read_csv(EMA / "feature_scores.csv", index_col=0)
    lines = ["| input | " + " | ".join(f"`{c}`" for c in s.columns) + " |",
             "|---|" + "---|" * len(s.columns)]
    for name, r in s.iterrows():
        lines.append(f"| `{name}` | " + " | ".join(f"{v:.2f}" for v in r) + " |")
    return "\n".join(lines)


@pytest.mark.parametrize("row", switch_rows())
def test_the_switch_table_is_the_committed_result(row):
    assert row in DOC


def test_the_switch_figures_in_the_text():
    d = pd.read_csv(SWITCH / "paired_differences.csv").set_index(["kind", "name"])
    dt = d.loc[("metric", "direct_time_share")]
    assert f"{dt.point_mean:.1%} instead of {dt.reference_mean:.1%}" in FLAT
    changelog = (ROOT / "docs" / "CHANGELOG.md").read_text()
    assert f"direct time {fmt(dt.reference_mean)} -> {fmt(dt.point_mean)}" in changelog
    for before in ("referrals_before", "direct_time_before"):  # common random numbers
        assert d.loc[("metric", before), "diff_mean"] == 0
    h = d.loc[("metric", "harm_missed_5y")]
    assert f"{fmt(h.diff_mean)} [{fmt(h.ci_lo)}, {fmt(h.ci_hi)}] events over five years" in FLAT
    assert f"on {h.events_point:,.0f} and {h.events_reference:,.0f} events" in FLAT
    assert h.ci_lo < 0 < h.ci_hi  # "does not move detectably"
    p = pd.read_csv(SWITCH / "precision.csv").set_index(["metric", "point"])
    stay = p.loc[("harm_missed_5y", 0)]
    assert f"about {stay['mean'] / 5:.0f} events a year" in FLAT
    assert f"half-width of {stay.relative_half_width:.1%}" in FLAT
    n20 = int(stay.replications_to_detect_20pct)
    assert f"about {n20} replications per arm detect a 20% change" in FLAT
    ratio = detect_replications(stay["mean"], 0.05) / n20
    assert f"needs about {ratio:.0f} times as many" in FLAT


def test_the_ema_scores_are_the_committed_result():
    assert ema_table() in DOC
    s = pd.read_csv(EMA / "feature_scores.csv", index_col=0)
    levers, uncertainties = ["regime", "early_help_places"], ["referrer_threshold",
                                                               "quit_hazard_base",
                                                               "recruitment_weeks"]
    # "the levers deciding the workforce outcomes, the uncertainties deciding the flows"
    for out in ("direct_time_share", "turnover_rate"):
        assert s.loc[levers, out].sum() > s.loc[uncertainties, out].sum(), out
    assert s.loc[uncertainties, "referrals_children"].sum() > s.loc[levers,
                                                                   "referrals_children"].sum()
    n = len(pd.read_csv(EMA / "experiments.csv"))
    assert f"{n} experiments on `small_la`" in FLAT
