"""The public API (``abm.__all__``): load a scenario, run it, read named outcomes, evaluate.

Everything in ``abm.__all__`` is stable; these tests pin its behaviour on a small LA.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

import abm


def same(a: dict, b: dict) -> bool:
    """Equal dicts of floats, NaN equal to NaN (a share of nothing is NaN)."""
    return list(a) == list(b) and np.array_equal(np.array(list(a.values()), float),
                                                 np.array(list(b.values()), float),
                                                 equal_nan=True)

SCENARIO = """
[scenario]
name = "api_la"
start = 2008-03-31
end = 2010-04-05
regime = "prescriptive"
places = { children = 3000 }

[parameters]
warmup_weeks = 26

[[events]]
date = 2008-11-12
type = "media_shock"
magnitude = 1.0
"""


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("api") / "api_la.toml"
    p.write_text(SCENARIO)
    return p


@pytest.fixture(scope="module")
def base(scenario_file):
    return abm.run(scenario_file, seed=5)


def test_public_names_are_exactly_the_documented_ones():
    assert sorted(abm.__all__) == sorted([
        "ConfigError", "Event", "Quantity", "Result", "Scenario", "evaluate", "load_scenario",
        "outcome_units", "posterior_draws", "run", "small_la_scenario", "ChildProtectionModel", "FamilyAgent",
        "ReferrerAgent", "SocialWorkerAgent", "CourtAgent", "EvaluationModel"])
    for name in abm.__all__:
        assert getattr(abm, name) is not None


def test_import_abm_stays_light():
    code = ("import sys, abm; heavy = [m for m in ('pandas', 'numba', 'mesa') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_load_scenario_takes_a_packaged_name_and_overrides():
    sc = abm.load_scenario("small_la", warmup_weeks=52, court_threshold=2.0)
    assert sc.name == "small_la" and sc.params().warmup_weeks == 52
    assert sc.params().court_threshold == 2.0
    with pytest.raises(abm.ConfigError, match=r"warmup_weeks.*-1.*\[0, 2000\]"):
        abm.load_scenario("small_la", warmup_weeks=-1)
    with pytest.raises(abm.ConfigError, match="court_treshold"):
        abm.load_scenario("small_la", court_treshold=2.0)


def test_result_tables_are_tidy_with_units_and_days(base):
    s = base.summary()
    assert list(s.columns) == ["period", "indicator", "value", "unit", "days", "weeks", "kind"]
    kinds = s.groupby("indicator")["kind"].first()
    assert kinds["referrals_children"] == "flow" and kinds["stock_cp_plan_children"] == "stock"
    assert kinds["vacancy_rate"] == "rate" and set(kinds) == {"flow", "stock", "level", "rate"}
    with pytest.raises(abm.ConfigError, match="period = 'year' is unknown"):
        base.summary("year")
    days = s.groupby("period")["days"].first().to_dict()
    # the run covers 31 March 2008 to 5 April 2010, its end included
    assert days == {"FY2007": 1, "FY2008": 365, "FY2009": 365, "FY2010": 5}
    assert (s["weeks"] == s["days"] / 7).all()
    units = abm.outcome_units()
    assert (s["unit"] == s["indicator"].map(units)).all() and "weeks" not in units
    # a quarter holds its 90 to 92 days, and the flows of the quarters add up to the year's
    q = base.summary("quarter")
    assert set(q.loc[~q["period"].isin(["2008-Q1", "2010-Q2"]), "days"]) <= {90, 91, 92}
    ref = s[s["indicator"] == "referrals_children"].set_index("period")["value"]
    qref = q[q["indicator"] == "referrals_children"]
    fy08 = qref[qref["period"].isin(["2008-Q2", "2008-Q3", "2008-Q4", "2009-Q1"])]["value"]
    assert fy08.sum() == pytest.approx(ref["FY2008"]) and ref["FY2008"] > 0
    w = base.weekly()
    assert {"week", "date", "fy", "indicator", "value", "unit"} <= set(w.columns)
    # the periods hold every week's flow but the part of the last week after the run's end
    wref = w[w["indicator"] == "referrals_children"]
    after_end = (wref["date"].iloc[-1].date() - base.scenario.end).days
    assert 0 <= after_end < 7
    assert wref["value"].sum() - wref["value"].iloc[-1] * after_end / 7 == pytest.approx(ref.sum())


def test_outcomes_are_named_scalars_with_units(base):
    o = base.outcomes()
    s = base.summary().set_index(["indicator", "period"])["value"]
    h = o["harm_missed"]
    assert isinstance(h, abm.Quantity) and h.unit == abm.outcome_units()["harm_missed"]
    # the mean over complete financial years: not FY2010, of which the run holds one week
    assert base.complete_years == ["FY2008", "FY2009"]
    assert math.isclose(h, (s["harm_missed", "FY2008"] + s["harm_missed", "FY2009"]) / 2)
    r = o["referrals_children"]
    assert math.isclose(r, (s["referrals_children", "FY2008"]
                            + s["referrals_children", "FY2009"]) / 2)
    assert o["referrals_children[FY2010]"] < r / 20  # one week's flow
    assert o["referrals_children[FY2009]"] == s["referrals_children", "FY2009"]
    assert repr(o["referrals_children[FY2009]"]).endswith(" children")
    # the same seed gives the same run
    assert same(abm.run(base.scenario, seed=5).outcomes(), o)


def test_a_regime_switch_event_changes_only_what_follows_it(base, scenario_file):
    switch = [{"date": "2009-04-06", "type": "regime_switch",
               "regime": "professional_judgment"}]
    sw = abm.run(scenario_file, seed=5, events=switch).outcomes()
    o = base.outcomes()
    # events replace the scenario's: no media shock here, so FY2008 differs from the base
    # but equals a run with no events at all (common random numbers until the switch)
    none = abm.run(scenario_file, seed=5, events=[]).outcomes()
    assert sw["referrals_children[FY2008]"] == none["referrals_children[FY2008]"]
    assert none["direct_time_share[FY2009]"] != sw["direct_time_share[FY2009]"]
    assert sw["direct_time_share[FY2009]"] > o["direct_time_share[FY2009]"]
    with pytest.raises(abm.ConfigError, match="outside the scenario's calendar"):
        abm.run(scenario_file, seed=5, events=[{"date": "2020-01-01", "type": "media_shock",
                                                "magnitude": 1.0}])


def test_evaluate_is_run_as_a_function(base, scenario_file):
    got = abm.evaluate({}, scenario=str(scenario_file), seed=5)
    assert same(got, {k: float(v) for k, v in base.outcomes().items() if "[" not in k})
    assert all(type(v) is float for v in got.values())
    pj = abm.evaluate({"regime": "professional_judgment", "court_threshold": 2.0},
                      scenario=scenario_file, seed=5, outcomes=["direct_time_share",
                                                                "court_applications[FY2009]"])
    ref = abm.run(abm.load_scenario(scenario_file, court_threshold=2.0), seed=5,
                  regime="professional_judgment").outcomes()
    assert pj == {"direct_time_share": ref["direct_time_share"],
                  "court_applications[FY2009]": ref["court_applications[FY2009]"]}
    with pytest.raises(abm.ConfigError, match="harm_mised.*did you mean 'harm_missed'"):
        abm.evaluate({}, scenario=scenario_file, seed=5, outcomes=["harm_mised"])
    with pytest.raises(abm.ConfigError, match="prescription"):
        abm.evaluate({"prescription": 7.0}, scenario=scenario_file, seed=5)


def test_posterior_draws_are_a_sweeps_draws_and_leave_the_scenarios_values(tmp_path,
                                                                          scenario_file):
    """abm.posterior_draws gives the parameter sets a sweep with [posterior] and the same
    seed runs, replication by replication, with the calibration's [fixed] values; given a
    scenario it leaves out what the scenario and the regimes set; a draw is an evaluate()
    input. Bad input is refused with the key and the value."""
    from conftest import write_posterior

    root = write_posterior(tmp_path / "abc", {"court_threshold": [1.6, 2.0, 2.4],
                                             "scope_for_judgment": [0.2, 0.5, 0.8],
                                             "warmup_weeks": [20.0, 30.0, 40.0]},
                           {"court_threshold": (1.5, 2.5), "scope_for_judgment": (0.1, 0.9),
                            "warmup_weeks": (10, 60)}, fixed={"contact_rate": 0.0036},
                           weights=[0.2, 0.3, 0.5])
    draws = abm.posterior_draws(root, 6, seed=9)
    assert abm.posterior_draws(root, 2, seed=9) == draws[:2]
    from abm.batch.draws import from_folder
    rule = from_folder(root, 9, lambda n, w: None, set(), "x")
    assert draws == [rule.point(r) for r in range(6)]
    assert all(d["contact_rate"] == 0.0036 and set(d) == {"contact_rate", "court_threshold",
                                                          "scope_for_judgment", "warmup_weeks"}
               for d in draws)
    # the scenario sets warmup_weeks, the regimes scope_for_judgment: neither is drawn
    kept = abm.posterior_draws(root, 6, seed=9, scenario=scenario_file)
    assert kept == [{"contact_rate": 0.0036, "court_threshold": d["court_threshold"]}
                    for d in draws]
    got = abm.evaluate(kept[0], scenario=scenario_file, seed=5, outcomes=["referrals"])
    assert np.isfinite(got["referrals"])
    for bad, msg in [({"k": 0}, "k = 0 is out of range"), ({"seed": -1}, "seed"),
                     ({"folder": tmp_path / "none"}, "no such folder")]:
        args = {"folder": root, "k": 2, **bad}
        with pytest.raises(abm.ConfigError, match=msg):
            abm.posterior_draws(args.pop("folder"), args.pop("k"), **args)


def test_a_runs_memory_is_freed_when_its_result_is_dropped(scenario_file, monkeypatch):
    """A model is a web of reference cycles; without help its state tables wait for a full
    garbage collection, which a loop of runs can postpone for many runs. abm.run's result
    frees its model's tables when it is dropped, abm.evaluate at once; a model stepped by
    hand stays its caller's. Checked with the cyclic collector off."""
    import gc
    import weakref

    from abm.core.model import ChildProtectionModel

    def table(res):
        return weakref.ref(res._model.fam[0])  # one state array of the model

    gc.disable()
    try:
        res = abm.run(scenario_file, seed=5)
        fam = table(res)
        del res
        assert fam() is None
        refs = []
        real = abm.api.run

        def spy(*a, **k):  # keeps a weak reference to the model's table, not the result
            res = real(*a, **k)
            refs.append(table(res))
            return res

        monkeypatch.setattr(abm.api, "run", spy)
        assert abm.evaluate({}, scenario=scenario_file, seed=5, outcomes=["referrals"])
        assert refs[0]() is None
        m = ChildProtectionModel(abm.load_scenario(scenario_file), rng=5, agent_views=False)
        m.step()
        res = abm.Result.from_model(m)
        del res
        assert m.fam is not None and m.running
    finally:
        gc.enable()


def test_evaluate_reads_an_edited_scenario_file_and_its_base_again(tmp_path):
    p = tmp_path / "la.toml"
    p.write_text(SCENARIO)
    a = abm.evaluate({}, scenario=p, seed=2, outcomes=["referrals_children"])
    p.write_text(SCENARIO.replace("children = 3000", "children = 6000"))
    b = abm.evaluate({}, scenario=p, seed=2, outcomes="referrals_children")  # one name
    assert b["referrals_children"] > 1.5 * a["referrals_children"]
    # a file built on a base: an edit of the base counts at once too
    child = tmp_path / "child.toml"
    child.write_text('[scenario]\nbase = "la.toml"\nname = "child"\n')
    c = abm.evaluate({}, scenario=child, seed=2, outcomes=["referrals_children"])
    p.write_text(SCENARIO.replace("children = 3000", "children = 9000"))
    d = abm.evaluate({}, scenario=child, seed=2, outcomes=["referrals_children"])
    assert c == b and d["referrals_children"] > 1.3 * c["referrals_children"]


def test_event_objects_are_checked_as_tables_are(base, scenario_file):
    """An abm.Event is checked like a table: a regime switch takes its regime's values (the
    same run as the table's), and a bad type, a date outside the calendar or a scaled value
    out of range is refused, never ignored or capped."""
    import datetime as dt

    d = dt.date(2009, 4, 6)
    table = abm.run(scenario_file, seed=5, events=[
        {"date": "2009-04-06", "type": "regime_switch", "regime": "professional_judgment"}])
    obj = abm.run(scenario_file, seed=5, events=[
        abm.Event(d, "regime_switch", regime="professional_judgment")])
    assert same(obj.outcomes(), table.outcomes())
    for ev, msg in ((abm.Event(d, "bogus"), "type = 'bogus' is unknown"),
                    (abm.Event(dt.date(2030, 1, 1), "media_shock", magnitude=1.0),
                     "outside the scenario's calendar"),
                    (abm.Event(d, "media_shock", magnitude=99.0), "magnitude = 99.0"),
                    (abm.Event(d, "scale_parameter", parameter="police_share", value=100.0),
                     "police_share")):
        with pytest.raises(abm.ConfigError, match=msg):
            abm.run(scenario_file, seed=5, events=[ev])
    with pytest.raises(abm.ConfigError, match="police_share"):  # a table: also checked
        abm.run(scenario_file, seed=5, events=[{"date": "2009-04-06", "type":
                "scale_parameter", "parameter": "police_share", "factor": 100.0}])


def test_numpy_numbers_are_taken_as_python_numbers(scenario_file):
    """Optimisers, SALib and the EMA Workbench hand over NumPy scalars."""
    a = abm.evaluate({"referrer_threshold": 2.1}, scenario=scenario_file, seed=3,
                     outcomes=["referrals_children"])
    b = abm.evaluate({"referrer_threshold": np.float64(2.1)}, scenario=scenario_file,
                     seed=np.int64(3), outcomes=["referrals_children"])
    assert a == b
    with pytest.raises(abm.ConfigError, match="seed = 3.0 has the wrong type"):
        abm.run(scenario_file, seed=3.0)


def test_a_run_with_no_complete_year_warns_and_gives_nan_names(tmp_path):
    sc = abm.small_la_scenario(children=3000, years=1, warmup_weeks=4)
    with pytest.warns(UserWarning, match="covers no complete financial year"):
        o = abm.run(sc, seed=1).outcomes()
    assert math.isnan(o["harm_missed"]) and o["referrals_children[FY2007]"] > 0


def test_per_la_outputs(base):
    t = base.la_summary()
    assert list(t.columns) == ["la", "la_code", "period", "indicator", "value", "unit"]
    assert set(t["la"]) == {0} and set(t["period"]) == {"FY2007", "FY2008", "FY2009", "FY2010"}
    s = base.summary().set_index(["indicator", "period"])["value"]
    ref = t[(t["indicator"] == "referrals_children") & (t["period"] == "FY2009")]["value"]
    assert float(ref.iloc[0]) == pytest.approx(s["referrals_children", "FY2009"])


def test_a_model_stepped_by_hand_gives_the_same_tables():
    sc = abm.load_scenario("small_la", warmup_weeks=4)
    model = abm.ChildProtectionModel(sc, rng=7)
    model.run_for(60)
    res = abm.Result.from_model(model)
    assert res.seed == 7 and res.scenario is sc
    s = res.summary("quarter")
    assert s["value"].notna().any() and set(s["kind"]) == {"flow", "stock", "level", "rate"}
    assert set(res.la_summary()["la_code"]) == {p.code for p in sc.places}
