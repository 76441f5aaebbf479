"""Policy designs: arms of a variants design that differ in their dated events (a regime
switch at a date, a media shock or none), under common random numbers.

The example spec experiments/sweeps/switch_pj_2011.toml is validated as written and then
run in miniature (one small LA on the same calendar, 2 replications): the arms are the same
run until the switch, and differ after it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from abm.batch.runner import run_sweep
from abm.batch.spec import build_spec, load_spec
from abm.batch.summary import summarise
from abm.core import tomlio
from abm.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "experiments" / "sweeps" / "switch_pj_2011.toml"

LA = """
[scenario]
name = "tiny_2009_2015"
start = 2009-04-06
end = 2016-03-31
regime = "prescriptive"
places = { children = 2500 }

[parameters]
warmup_weeks = 26
"""
SHOCK = """
[[events]]
date = 2009-11-12
type = "media_shock"
magnitude = 1.0
"""


def quiet(msg):
    pass


@pytest.fixture
def tiny_example(tmp_path):
    """The example spec with a small LA as its base scenario and 2 replications, at the
    parameter values the arms' difference was checked at (conftest.DESIGN_VALUES)."""
    from conftest import DESIGN_VALUES

    (tmp_path / "la.toml").write_text(LA + "".join(f"{k} = {v!r}\n"
                                                   for k, v in DESIGN_VALUES.items()))
    raw = tomlio.read(EXAMPLE)
    raw["model"]["scenario"] = "la.toml"
    raw["sweep"]["replications"] = 2
    return build_spec(raw, tmp_path, where="tiny switch_pj_2011")


def test_the_example_spec_is_valid_as_written():
    spec = load_spec(EXAMPLE)
    assert [p["variant"] for p in spec.design.points] == ["stay", "switch_apr2011"]
    assert spec.design.inputs == [{}, {"events": [
        {"date": "2011-04-04", "type": "regime_switch", "regime": "professional_judgment"}]}]
    assert spec.context["regimes"]["professional_judgment"]["scope_for_judgment"] == 0.7


@pytest.mark.slow
def test_arms_are_one_run_until_the_switch_and_differ_after(tiny_example, tmp_path):
    out = tmp_path / "out"
    run_sweep(tiny_example, out, workers=0, progress=False, log=quiet)
    s = summarise(out, log=quiet)
    d = pd.read_csv(s / "paired_differences.csv")
    m = d[d["kind"] == "metric"].set_index("name")
    for name in ("referrals_before", "direct_time_before"):  # common random numbers
        assert m.loc[name, "diff_mean"] == 0 and m.loc[name, "n_pairs"] == 2
    after = d[(d["kind"] == "indicator") & (d["name"] == "direct_time_share")
              & (d["period"] >= "FY2011")]
    assert len(after) == 5 and (after["diff_mean"] > 0.05).all()
    assert m.loc["direct_time_share", "ci_lo"] > 0
    assert "switch_apr2011" in (s / "summary.md").read_text()


@pytest.mark.slow
def test_an_arm_that_keeps_the_shock_equals_the_reference_before_the_switch(tmp_path):
    (tmp_path / "la.toml").write_text(LA + SHOCK)
    raw = tomlio.read(EXAMPLE)
    raw["model"]["scenario"] = "la.toml"
    raw["sweep"]["replications"] = 2
    shock = {"date": "2009-11-12", "type": "media_shock", "magnitude": 1.0}
    raw["variants"] = {
        "stay": {},
        "switch": {"events": [shock, {"date": "2011-04-04", "type": "regime_switch",
                                      "regime": "professional_judgment"}]},
        "no_shock": {"events": []}}
    spec = build_spec(raw, tmp_path, where="arms")
    out = tmp_path / "out"
    run_sweep(spec, out, workers=0, progress=False, log=quiet)
    d = pd.read_csv(summarise(out, log=quiet) / "paired_differences.csv")
    ind = d[d["kind"] == "indicator"]
    sw = ind[ind["variant"] == "switch"]
    before = sw[sw["period"] < "FY2011"]
    assert len(before) and (before["diff_mean"] == 0).all()  # common random numbers
    assert (sw[(sw["name"] == "direct_time_share") & (sw["period"] >= "FY2011")]
            ["diff_mean"] > 0.05).all()
    ns = ind[(ind["variant"] == "no_shock") & (ind["name"] == "referrals_children")]
    assert (ns[ns["period"] == "FY2009"]["diff_mean"] != 0).all()  # the shock is gone


@pytest.mark.parametrize("events, message", [
    ([{"date": "2020-01-01", "type": "media_shock", "magnitude": 1.0}],
     r"variants\.bad\.events.*2020-01-01 is outside the scenario's calendar"),
    ([{"date": "2011-04-04", "type": "regime_switch", "regime": "profesional_judgment"}],
     r"variants\.bad\.events\[0\].*unknown regime 'profesional_judgment'"),
    ({"date": "2011-04-04"}, r"variants\.bad\.events.*must be a list of event tables"),
])
def test_bad_events_are_refused_with_the_arm_named(tmp_path, events, message):
    (tmp_path / "la.toml").write_text(LA)
    raw = tomlio.read(EXAMPLE)
    raw["model"]["scenario"] = "la.toml"
    raw["variants"] = {"stay": {}, "bad": {"events": events}}
    with pytest.raises(ConfigError, match=message):
        build_spec(raw, tmp_path, where="arms")


def test_events_cannot_be_a_factor(tmp_path):
    (tmp_path / "la.toml").write_text(LA)
    raw = tomlio.read(EXAMPLE)
    raw["model"]["scenario"] = "la.toml"
    del raw["variants"]
    raw["design"] = {"type": "factorial"}
    raw["factors"] = {"events": {"values": [[]]}}
    with pytest.raises(ConfigError, match="'events'.*cannot be varied as a factor"):
        build_spec(raw, tmp_path, where="arms")


CROSSED = """\
[sweep]
name = "crossed"
replications = 3
seed = 5

[model]
adapter = "abm.batch.testfunctions:Ishigami"
noise_sd = 0.5

[fixed]
x3 = 1.0

[factors.x2]
values = [0.5, 1.5]

[design]
type = "variants"
reference = "base"

[variants.base]
x1 = 0.0

[variants.up]
x1 = 1.0
"""


def test_arms_crossed_with_factors_are_paired_at_the_same_levels(tmp_path):
    """Every arm at every level of the crossed factor; each arm's effect is measured
    against the reference arm at the same level, replication by replication. Ishigami:
    y = sin(x1) + a sin(x2)^2 + b x3^4 sin(x1), so raising x1 from 0 to 1 adds
    sin(1) (1 + b) at every x2 (b = 0.1), the noise cancelling in each pair."""
    import math

    p = tmp_path / "crossed.toml"
    p.write_text(CROSSED + '\n[outputs]\nindicators = ["y"]\n')
    spec = load_spec(p)
    assert spec.design.points == [{"variant": "base", "x2": 0.5}, {"variant": "base", "x2": 1.5},
                                  {"variant": "up", "x2": 0.5}, {"variant": "up", "x2": 1.5}]
    assert spec.design.inputs[3] == {"x1": 1.0, "x2": 1.5}
    run_sweep(spec, tmp_path / "out", workers=0, progress=False, log=quiet)
    d = pd.read_csv(summarise(tmp_path / "out", log=quiet) / "paired_differences.csv")
    m = d[d["kind"] == "metric"].set_index("point")
    assert m["reference_point"].to_dict() == {2: 0, 3: 1}
    for pt in (2, 3):
        assert m.loc[pt, "diff_mean"] == pytest.approx(math.sin(1.0) * 1.1, abs=1e-9)  # CSV: 10 digits


def test_a_key_both_crossed_and_set_by_an_arm_is_refused(tmp_path):
    p = tmp_path / "crossed.toml"
    p.write_text(CROSSED.replace("x1 = 1.0", "x1 = 1.0\nx2 = 0.5")
                 + '\n[outputs]\nindicators = ["y"]\n')
    with pytest.raises(ConfigError, match=r"variants\.up\.x2.*also a factor crossed"):
        load_spec(p)
