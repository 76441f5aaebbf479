"""The plain-Mesa reference implementation (abm.reference) on its own, on a tiny LA: plain
Mesa agents, balanced books, determinism, mechanism switches, and the summary and
throughput code reading it as it reads the engine. Its equivalence with the engine is in
tests/golden/test_reference_equivalence.py."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

import abm
from abm.core import indicators as I
from abm.core import state as S
from abm.core.model import ChildProtectionModel
from abm.core.scenario import Event, Place
from abm.outputs.tables import decision_table, summary, weekly_frame
from abm.reference import (
    Court,
    Family,
    LocalAuthority,
    ReferenceModel,
    Referrer,
    SocialWorker,
    family_weeks,
)
from abm.reference.agents import in_social_care
from abm.reference.compare import KEY_OUTPUTS, key_outputs

SHOCK = Event(date=dt.date(2008, 4, 7), type="media_shock", magnitude=1.0)


def tiny(**overrides):
    """1,500 children, one year from 2007-10-01, 26 warm-up weeks, a media shock in April."""
    sc = abm.small_la_scenario(children=1500, years=1, start=dt.date(2007, 10, 1),
                               **{"warmup_weeks": 26, **overrides})
    return dataclasses.replace(sc, events=[SHOCK])


@pytest.fixture(scope="module")
def tiny_run():
    return ReferenceModel(tiny(), rng=3).run()


def test_reference_refuses_multi_la_scenarios():
    sc = dataclasses.replace(tiny(), places=[Place("E001", "one", 1000, 0),
                                             Place("E002", "two", 1000, 0)])
    with pytest.raises(ValueError, match=r"single-LA .* places = 2 LAs \(E001, E002\)"):
        ReferenceModel(sc, rng=1)


@pytest.mark.parametrize("bad", [-1, True, 1.5, "7"])
def test_reference_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="rng must be a non-negative integer seed"):
        ReferenceModel(tiny(), rng=bad)


def test_agents_are_plain_mesa_agents(tiny_run):
    m = tiny_run
    by_type = m.agents_by_type
    assert len(by_type[Family]) == m.n_families == len(m.la.families)
    assert len(by_type[SocialWorker]) == round(23.0 * 1500 / 1e4)  # workers_per_10k_children
    assert len(by_type[Referrer]) == S.N_REFERRER_TYPES
    assert len(by_type[LocalAuthority]) == len(by_type[Court]) == 1
    assert sum(f.n_children for f in by_type[Family]) == 1500
    # state lives in ordinary Python attributes, not in arrays
    fam = by_type[Family].select(lambda f: f.state != S.NONE).to_list()[0]
    assert isinstance(fam.risk, float) and isinstance(fam.state, int)
    assert m.steps == m.calendar.n_weeks  # Mesa's own step counter: calendar weeks only
    assert m.week == m.calendar.n_weeks and not m.running


def test_reference_books_balance_against_a_recount_of_its_agents(tiny_run):
    """Stocks, open cases, caseloads and guardians agree with a recount of the agents, and
    every recorded week's stocks = last week's + inflows - outflows."""
    m = tiny_run
    la = m.la
    counts = np.bincount([f.state for f in la.families], minlength=S.N_STATES)
    assert counts.tolist() == la.stock_fam
    assert set(la.open_cases) == {f for f in la.families if f.state != S.NONE}
    for w in la.workers:
        assert all(f.worker is w and in_social_care(f.state) for f in w.cases)
    allocated = [f for f in la.families if f.worker is not None]
    assert sum(w.caseload for w in la.workers) == len(allocated)
    assert m.court.guardians_used == sum(c.guardian for c in m.court.cases)
    assert all(c.family.state == S.COURT and c.family.court_case is c for c in m.court.cases)
    trans = m.record.trans[:, 0].astype(np.int64)
    stock = m.record.stock_fam[:, 0]
    flow_in, flow_out = trans.sum(axis=1), trans.sum(axis=2)
    assert (stock[1:] == stock[:-1] + flow_in[1:] - flow_out[1:]).all()
    assert trans.sum() > 40  # the check had something to check


def test_same_seed_same_run_different_seed_different_run():
    a = ReferenceModel(tiny(), rng=11).run()
    b = ReferenceModel(tiny(), rng=11).run()
    c = ReferenceModel(tiny(), rng=12).run()
    for key in a.record.arrays():
        np.testing.assert_array_equal(a.record.arrays()[key], b.record.arrays()[key], err_msg=key)
    assert not np.array_equal(a.record.flow, c.record.flow)


def test_summary_code_reads_both_models_alike(tiny_run):
    engine = ChildProtectionModel(tiny(), rng=3, agent_views=False).run()
    assert list(weekly_frame(tiny_run).columns) == list(weekly_frame(engine).columns)
    ref_fy, eng_fy = summary(tiny_run, "fy"), summary(engine, "fy")
    assert list(ref_fy.columns) == list(eng_fy.columns)
    assert list(ref_fy.index) == list(eng_fy.index)
    out = key_outputs(tiny_run)
    assert list(out) == list(KEY_OUTPUTS)
    assert out["referrals_children"] > 0 and out["ia_completed"] > 0 and out["mean_caseload"] > 0
    assert len(decision_table(tiny_run)) == len(decision_table(engine))
    # the media shock reached anxiety in the recorded national series
    anxiety = weekly_frame(tiny_run)["anxiety"]
    assert anxiety.iloc[0] == 0.0 and anxiety.max() == pytest.approx(1.0)


def test_family_weeks_is_defined_alike_for_both_models(tiny_run):
    sc = tiny()
    weeks = sc.params().warmup_weeks + tiny_run.calendar.n_weeks
    assert family_weeks(tiny_run) == tiny_run.n_families * weeks
    engine = ChildProtectionModel(sc, rng=3, agent_views=False).run()
    assert family_weeks(engine) == engine.n_families * weeks


def test_throughput_records_family_weeks_per_second_and_their_ratio(monkeypatch):
    """The figures the throughput benchmark records, on a fake clock: a run of seed ``s``
    takes (s - 3) x 2 s (1 s of CPU) on the engine and (s - 3) x 30 s (24 s of CPU) on the
    reference, so each figure is a known ratio of the family-weeks actually run. How much
    faster the engine really is, is measured by the benchmark (``make bench``, its
    ``engine_vs_reference`` case), not asserted here."""
    import statistics
    from types import SimpleNamespace

    from benchmarks import reference_speed
    from benchmarks.reference_speed import throughput

    from abm.reference import compare

    clock = {"wall": 0.0, "cpu": 0.0}
    cost = {"engine": (2.0, 1.0), "reference": (30.0, 24.0)}
    made = []

    def on_the_clock(name, make):
        def make_and_time(scenario, seed):
            model = make(scenario, seed)
            made.append((name, seed, model))
            wall, cpu = cost[name]
            clock["wall"] += (seed - 3) * wall
            clock["cpu"] += (seed - 3) * cpu
            return model
        return make_and_time

    monkeypatch.setattr(compare, "engine_model", on_the_clock("engine", compare.engine_model))
    monkeypatch.setattr(compare, "reference_model",
                        on_the_clock("reference", compare.reference_model))
    monkeypatch.setattr(reference_speed, "time", SimpleNamespace(
        perf_counter=lambda: clock["wall"], process_time=lambda: clock["cpu"]))
    sc = tiny()
    res = throughput(sc, repeats=2, seed=4)
    # the kernels loaded first (not counted), then the two models side by side per repeat
    assert [(n, s) for n, s, _ in made] == [("engine", 4), ("engine", 4), ("reference", 4),
                                            ("engine", 5), ("reference", 5)]
    fw = {(n, s): m.n_families * (26 + m.calendar.n_weeks) for n, s, m in made}
    assert res["family_weeks_per_run"] == {"engine": fw["engine", 5],
                                           "reference": fw["reference", 5]}
    want = {}
    for name, (wall, cpu) in cost.items():
        want[name] = (statistics.median([fw[name, s] / ((s - 3) * wall) for s in (4, 5)]),
                      statistics.median([fw[name, s] / ((s - 3) * cpu) for s in (4, 5)]))
    assert res["engine_family_weeks_per_s"] == pytest.approx(want["engine"][0])
    assert res["reference_family_weeks_per_s"] == pytest.approx(want["reference"][0])
    assert res["engine_family_weeks_per_cpu_s"] == pytest.approx(want["engine"][1])
    assert res["reference_family_weeks_per_cpu_s"] == pytest.approx(want["reference"][1])
    assert res["speedup"] == pytest.approx(want["engine"][0] / want["reference"][0])
    assert res["speedup_cpu"] == pytest.approx(want["engine"][1] / want["reference"][1])
    with pytest.raises(ValueError, match="repeats must be a whole number >= 1, got 0"):
        throughput(sc, repeats=0)


@pytest.mark.parametrize(("switch", "flows"), [
    ("mech_harm_events", ("harm_events",)),
    ("mech_early_help", ("early_help_starts",)),
    ("mech_turnover", ("leavers",)),
])
def test_reference_mechanism_switched_off_leaves_no_trace(switch, flows):
    """A switched-off mechanism leaves no trace in the reference's outputs; the same run
    with it on does (so the zero is not vacuous)."""
    extra = {"harm_hazard_base": 2e-4} if switch == "mech_harm_events" else {}
    extra.update({"quit_hazard_base": 0.01} if switch == "mech_turnover" else {})
    on = ReferenceModel(tiny(**extra), rng=5).run()
    off = ReferenceModel(tiny(**extra, **{switch: False}), rng=5).run()
    for name in flows:
        k = I.FLOW_NAMES.index(name)
        assert on.record.flow[:, 0, k].sum() > 0, name
        assert off.record.flow[:, 0, k].sum() == 0, name
