"""The plain-Mesa reference implementation (abm.reference) and its equivalence with the engine
(issue 8).

Fast tests check the reference on its own (a tiny LA) and the comparison code on synthetic
samples. The slow tests run the engine and the reference on a small LA with many seeds and
check that the distributions of the key outputs agree, and that the same check rejects the
engine when one of its kernels is deliberately perturbed. See docs/reference.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

import abm
import abm.core.model
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
from abm.reference.compare import (
    KEY_OUTPUTS,
    band_false_alarm_rate,
    collect_outputs,
    compare_samples,
    engine_model,
    key_outputs,
    reference_model,
)

SHOCK = Event(date=dt.date(2008, 4, 7), type="media_shock", magnitude=1.0)


def tiny(**overrides):
    """1,500 children, one year from 2007-10-01, 26 warm-up weeks, a media shock in April."""
    sc = abm.small_la_scenario(children=1500, years=1, start=dt.date(2007, 10, 1),
                               **{"warmup_weeks": 26, **overrides})
    return dataclasses.replace(sc, events=[SHOCK])


@pytest.fixture(scope="module")
def tiny_run():
    return ReferenceModel(tiny(), rng=3).run()


# ------------------------------------------------------------------ the reference on its own
def test_refuses_multi_la_scenarios():
    sc = dataclasses.replace(tiny(), places=[Place("E001", "one", 1000, 0),
                                             Place("E002", "two", 1000, 0)])
    with pytest.raises(ValueError, match=r"single-LA .* places = 2 LAs \(E001, E002\)"):
        ReferenceModel(sc, rng=1)


@pytest.mark.parametrize("bad", [-1, True, 1.5, "7"])
def test_rejects_bad_seeds(bad):
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


def test_books_balance(tiny_run):
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


def test_throughput_measures_both_side_by_side():
    from benchmarks.reference_speed import throughput
    sc = tiny()
    res = throughput(sc, repeats=1, seed=4)
    for name, model in (("engine", ChildProtectionModel(sc, rng=4, agent_views=False)),
                        ("reference", ReferenceModel(sc, rng=4))):
        assert res["family_weeks_per_run"][name] == model.n_families * (26 + model.calendar.n_weeks)
    assert res["reference_family_weeks_per_cpu_s"] > 0
    assert res["speedup_cpu"] > 1.0  # the engine is faster than plain Python, even here
    with pytest.raises(ValueError, match="repeats must be a whole number >= 1, got 0"):
        throughput(sc, repeats=0)


@pytest.mark.parametrize(("switch", "flows"), [
    ("mech_harm_events", ("harm_events",)),
    ("mech_early_help", ("early_help_starts",)),
    ("mech_turnover", ("leavers",)),
])
def test_mechanism_switches(switch, flows):
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


# ------------------------------------------------------------------ the comparison code
def _synthetic(rng, n, shift=0.0):
    return {"x": rng.normal(10.0 + shift, 1.0, n), "y": rng.poisson(4.0 + shift, n).astype(float)}


def test_compare_accepts_same_distribution_and_rejects_a_shift():
    rng = np.random.default_rng(2024)
    a, b = _synthetic(rng, 60), _synthetic(rng, 30)
    same = compare_samples(a, b, alpha=0.001)
    assert same.passed, str(same)
    shifted = compare_samples(a, _synthetic(rng, 30, shift=1.5), alpha=0.001)
    assert not shifted.passed and "x" in shifted.failures, str(shifted)
    assert "FAIL" in str(shifted) and "x" in str(shifted)


def test_band_false_alarm_rate_is_a_rank_property():
    # tiny samples almost always disagree somewhere; larger ones rarely do
    assert band_false_alarm_rate(5, 5, n_sim=4000) > 0.2
    assert band_false_alarm_rate(60, 40, n_sim=4000) < 0.002
    # wider bands, fewer false alarms
    assert band_false_alarm_rate(20, 20, 0.05, 0.95, n_sim=4000) < band_false_alarm_rate(20, 20, n_sim=4000)


def test_compare_rejects_bad_input():
    rng = np.random.default_rng(1)
    a = _synthetic(rng, 20)
    with pytest.raises(ValueError, match=r"alpha = 0 is out of range; valid: 0 < alpha < 1"):
        compare_samples(a, a, alpha=0)
    with pytest.raises(ValueError, match=r"band_quantiles = \(0.6, 0.9\) is out of range"):
        compare_samples(a, a, band_quantiles=(0.6, 0.9))
    with pytest.raises(ValueError, match=r"outputs \['z'\] are not in both samples; valid: \['x', 'y'\]"):
        compare_samples(a, a, outputs=["z"])
    short = {"x": np.r_[np.full(15, np.nan), rng.normal(size=5)], "y": a["y"]}
    with pytest.raises(ValueError, match="output 'x' has 5 and 20 finite runs; valid: at least"):
        compare_samples(short, a)
    with pytest.raises(ValueError, match="workers must be a whole number >= 1, got 0"):
        collect_outputs(reference_model, tiny(), [1], workers=0)


# ------------------------------------------------------------------ equivalence (slow)
#: The equivalence design (docs/reference.md): one LA of 3,000 children (about 1,700
#: families, 7 posts), a 52-week warm-up, three recorded financial years, a media shock half
#: way. Court capacity is raised and the court threshold lowered so that this small LA has
#: about 11 concluded care cases a run with durations set by the case process (hearings,
#: experts, adjournments) rather than by a queue at a fraction of a hearing slot a week.
EQ_SCENARIO = dataclasses.replace(
    abm.small_la_scenario(children=3000, years=3, warmup_weeks=52, court_threshold=2.0,
                          hearing_slots_per_100k=60.0, guardians_per_100k=20.0),
    events=[Event(date=dt.date(2008, 10, 6), type="media_shock", magnitude=1.0)])
ENGINE_SEEDS = range(0, 80)  # about 0.2 s a run
REFERENCE_SEEDS = range(100_000, 100_040)  # about 1.5 s of CPU a run, in two processes
ALPHA = 0.001  # designed chance that the check fails when the two agree in distribution


def test_equivalence_design_false_alarm_rate():
    """KS at ALPHA/2 Bonferroni over the outputs, and the band checks for 80 vs 40 runs
    (with margin for runs with no concluded care case), fit within ALPHA together."""
    band = band_false_alarm_rate(len(ENGINE_SEEDS) - 8, len(REFERENCE_SEEDS) - 4)
    bound = ALPHA / 2 + len(KEY_OUTPUTS) * band
    assert bound <= ALPHA, (band, bound)


@pytest.fixture(scope="module")
def reference_sample():
    return collect_outputs(reference_model, EQ_SCENARIO, REFERENCE_SEEDS, workers=2)


@pytest.fixture(scope="module")
def engine_sample():
    return collect_outputs(engine_model, EQ_SCENARIO, ENGINE_SEEDS)


@pytest.mark.slow
def test_engine_and_reference_agree_in_distribution(engine_sample, reference_sample):
    report = compare_samples(engine_sample, reference_sample, alpha=ALPHA)
    print(report)
    assert report.passed, f"engine and reference disagree on {report.failures}:\n{report}"


@pytest.mark.slow
def test_risk_bins_change_speed_not_the_distribution(engine_sample):
    """Thinning is exact for any bound that holds, so the number of risk bins (16 before the
    third performance round, 128 now) changes the draws and the speed, not the distribution."""
    sc16 = dataclasses.replace(EQ_SCENARIO, overrides={**EQ_SCENARIO.overrides, "risk_bins": 16})
    coarse = collect_outputs(engine_model, sc16, range(500, 580))
    report = compare_samples(coarse, engine_sample, alpha=ALPHA)
    print(report)
    assert report.passed, f"16 and 128 risk bins disagree on {report.failures}:\n{report}"


def _perturbed(kernel, **changes):
    """The kernel, called with parameters changed by ``changes`` (name -> function)."""
    def wrapper(*args):
        return kernel(*[a._replace(**{k: f(getattr(a, k)) for k, f in changes.items()})
                        if set(changes) <= set(getattr(a, "_fields", ())) else a for a in args])
    # Mechanism.call calls a kernel through its compiled entry point after the first call,
    # looked up in the dispatcher's ``overloads``; a wrapper has none, so the mechanism keeps
    # calling the wrapper itself
    wrapper.overloads = {}
    return wrapper


@pytest.mark.slow
def test_check_rejects_engine_with_perturbed_contacts_kernel(monkeypatch, reference_sample):
    """20% more contacts of concern in the front-door kernel: about 15% more referrals."""
    from abm.mechanisms import frontdoor
    monkeypatch.setattr(frontdoor, "contacts_and_referrals",
                        _perturbed(frontdoor.contacts_and_referrals, contact_rate=lambda v: v * 1.2))
    perturbed = collect_outputs(engine_model, EQ_SCENARIO, ENGINE_SEEDS)
    report = compare_samples(perturbed, reference_sample, alpha=ALPHA)
    print(report)
    assert not report.passed and "referrals_children" in report.failures, str(report)


@pytest.mark.slow
def test_check_rejects_engine_with_perturbed_court_kernel(monkeypatch, reference_sample):
    """Care cases that need one more effective hearing on average (hearings_mean 5 -> 6) in
    the court kernel: about 20% longer care proceedings."""
    from abm.mechanisms import courts
    monkeypatch.setattr(courts, "courts_step",
                        _perturbed(courts.courts_step, hearings_mean=lambda v: v + 1))
    perturbed = collect_outputs(engine_model, EQ_SCENARIO, ENGINE_SEEDS)
    report = compare_samples(perturbed, reference_sample, alpha=ALPHA)
    print(report)
    assert not report.passed and "care_mean_duration_weeks" in report.failures, str(report)
