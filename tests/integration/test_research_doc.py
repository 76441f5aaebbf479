"""docs/research.md quotes the committed results of its three worked examples: every figure
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
OPT = ROOT / "results" / "optimise"


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
    x = pd.read_csv(EMA / "experiments.csv")
    assert f"{len(x)} experiments on `small_la`" in FLAT
    assert (f"missed harm is rare ({x.harm_missed.mean():.2f} events a year on average over "
            f"the {len(x)} experiments; {(x.harm_missed > 0).sum()} of them have any)") in FLAT


def test_the_optimiser_figures_are_the_committed_result():
    import json

    o = json.loads((OPT / "optimum.json").read_text())
    c, best = o["check"], f"{o['best_threshold']:.2f}"
    assert f"stopped after {o['evaluations']} evaluations at a threshold of {best}" in FLAT
    assert f"| outcome | default ({o['default_threshold']}) | optimum ({best}) |" in DOC
    for k in ("harm_missed", "unnecessary_investigations", "loss"):
        d = c["best_minus_default"][k]
        row = (f"| `{k}` | {fmt(c['default'][k])} | {fmt(c['best'][k])} | "
               f"{fmt(d['difference'])} [{fmt(d['ci95'][0])}, {fmt(d['ci95'][1])}] |")
        assert row in DOC, row
    assert (f"seeds {o['fit_seeds'][0]}-{o['fit_seeds'][-1]}" in FLAT
            and f"on {len(o['check_seeds'])} fresh seeds" in FLAT)
    assert f"{o['harm_weight']:.0f} * harm_missed" in DOC
    # "the optimum is not confirmed": the loss difference's CI spans zero, and so does
    # missed harm's ("does not move detectably"); "saves about N unnecessary investigations"
    lo, hi = c["best_minus_default"]["loss"]["ci95"]
    assert lo < 0 < hi
    lo, hi = c["best_minus_default"]["harm_missed"]["ci95"]
    assert lo < 0 < hi and "missed harm does not move detectably" in FLAT
    saved = -c["best_minus_default"]["unnecessary_investigations"]["difference"]
    assert f"saves about {5 * round(saved / 5):.0f} unnecessary" in FLAT
    changelog = " ".join((ROOT / "docs" / "CHANGELOG.md").read_text().split())
    assert f"optimum of {len(o['fit_seeds'])} seeds ({best}) saves {saved:.1f}" in changelog
    t = pd.read_csv(OPT / "trace.csv")
    assert len(t) == o["evaluations"]
    near = t[t["referrer_threshold"].between(2.10, 2.19)]
    assert (f"between 2.10 and 2.19 ({len(near)} of the {len(t)} evaluations) the fit seeds' "
            f"missed harm ranges from {near.harm_missed.min():.2f} to "
            f"{near.harm_missed.max():.2f} a year in no order of the threshold") in FLAT
    ordered = near.sort_values("referrer_threshold")["harm_missed"]
    assert not (ordered.is_monotonic_increasing or ordered.is_monotonic_decreasing)


def test_every_public_name_is_documented_in_the_guide():
    import abm

    for name in abm.__all__:
        assert f"`abm.{name}`" in DOC, name


def _abm_uses(tree) -> list[str]:
    """The modules of ``abm`` a piece of code imports, and the ``abm.X`` names it reads."""
    import ast

    used = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            used += [a.name for a in node.names if a.name.split(".")[0] == "abm"]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "abm":
            used += [node.module if node.module != "abm" else f"abm.{a.name}"
                     for a in node.names]
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id == "abm"):
            used.append(f"abm.{node.attr}")
    return used


def _examples():
    import ast
    import re

    for p in sorted((ROOT / "docs" / "examples").glob("*.py")):
        yield p.name, ast.parse(p.read_text())
    for i, block in enumerate(re.findall(r"```python\n(.*?)```", DOC, re.S)):
        yield f"research.md block {i + 1}", ast.parse(block)


EXAMPLES = list(_examples())


@pytest.mark.parametrize("name,tree", EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_the_examples_use_only_the_public_api(name, tree):
    import abm

    public = {"abm", *(f"abm.{n}" for n in abm.__all__)}
    private = [u for u in _abm_uses(tree) if u not in public]
    assert _abm_uses(tree), f"{name} does not use abm"
    assert private == [], f"{name} uses private parts of abm: {private}"


def test_the_private_use_check_finds_private_imports():
    import ast

    code = ("import abm\nfrom abm.core.model import M\nimport abm.batch\nabm.run(1)\n"
            "abm.core.x\nfrom abm import evaluate\n")
    assert sorted(_abm_uses(ast.parse(code))) == ["abm", "abm.batch", "abm.core",
                                                  "abm.core.model", "abm.evaluate", "abm.run"]
