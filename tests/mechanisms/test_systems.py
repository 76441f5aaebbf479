"""The review's systems ideas as mechanisms: switches, loop polarity, the surge down the
chain, Taylor-Russell from runs, front-door variants, reunification, regime comparison."""

import datetime as dt

import numpy as np
import pytest
from conftest import DESIGN_VALUES, small

from abm import ChildProtectionModel
from abm.core import indicators as I
from abm.core import state as S
from abm.core.scenario import load_regime
from abm.outputs.tables import decision_table, reunification_table, summary, weekly_frame

SHOCK = dt.date(2008, 10, 6)


def _run(children=20000, years=1.0, seed=7, shock=None, regime="prescriptive", **ov):
    m = ChildProtectionModel(small(children=children, years=years, shock=shock, regime=regime, **ov),
                             rng=seed, agent_views=False)
    m.run()
    return m


def full_years(df):
    """Financial years the run covers completely (a final stub week has no census)."""
    return df[df["weeks"] >= 50]


def _same(a, b):
    return all(np.array_equal(a.record.arrays()[k], b.record.arrays()[k]) for k in ("flow", "stock_fam", "work"))


# ---------------------------------------------------------------- each switch removes its effect
def test_anxiety_switch_removes_the_media_shock():
    on = (_run(shock=(SHOCK, 2.0)), _run())
    off = (_run(shock=(SHOCK, 2.0), mech_anxiety=False), _run(mech_anxiety=False))
    assert not _same(*on)
    # with anxiety off, the shock still enters the learning loops as a high-profile error;
    # with the loops off too, it changes nothing at all
    loops_off = dict(mech_anxiety=False, mech_loop_b1=False, mech_loop_b2=False, mech_loop_r=False,
                     mech_status=False)
    assert _same(_run(shock=(SHOCK, 2.0), **loops_off), _run(**loops_off))
    assert weekly_frame(off[0])["threshold_shift"].abs().max() == 0


def test_requisite_variety_switch_makes_needs_irrelevant():
    a = _run(mech_requisite_variety=False, service_range=1.0)
    b = _run(mech_requisite_variety=False, service_range=6.0)
    assert _same(a, b)
    c = _run(service_range=1.0)
    d = _run(service_range=6.0)
    assert not _same(c, d)


@pytest.mark.parametrize("switch, flow", [
    ("mech_early_help", I.FL_EARLY_HELP_STARTS),
    ("mech_harm_events", I.FL_HARM_EVENTS),
    ("mech_turnover", I.FL_LEAVERS),
])
def test_switch_off_means_none_of_its_events(switch, flow):
    kw = dict(children=40000, harm_hazard_base=2e-5)  # harm is rare: make it visible here
    on = _run(**kw)
    off = _run(**kw, **{switch: False})
    assert on.record.flow[:, :, flow].sum() > 0
    assert off.record.flow[:, :, flow].sum() == 0


def test_squeeze_switch_gives_every_case_its_time():
    m = _run(prescription=3.0, mech_workload_squeeze=False)
    filled = m.work.status != S.VACANT
    assert (m.work.direct_ratio[filled] >= 1.0).all() and (m.work.record_ratio[filled] >= 1.0).all()


def test_status_falls_after_a_shock_and_its_switch_freezes_it():
    off = _run(shock=(SHOCK, 2.0), mech_status=False)
    assert (weekly_frame(off)["professional_status"] == 0).all()
    on = _run(shock=(SHOCK, 2.0))
    status = weekly_frame(on)["professional_status"].to_numpy()
    k = on.calendar.week_of(SHOCK)
    # the blame climate pulls status down: below 0 after the shock, and below where it was
    # the week before (seed 7: 0.089 before, -0.112 at the end)
    assert status[-1] < 0 and status[-1] < status[k - 1]
    assert on.status_level == pytest.approx(status[-1])
    # ... and the fallen status lengthens the recruitment lag (ODD 7.14: lag x
    # exp(-status_recruit_slope x status)). One week of the kernel on the same workforce,
    # with the same random numbers and every permanent worker quitting: at the run's
    # status each post waits longer for its recruit than at the frozen status (0).
    from abm.mechanisms.ripple import turnover_and_recruitment
    rp = on.mechanisms["ripple"].p._replace(quit_hazard_base=1e9, quit_hazard_max=1.0)
    perm = on.work.status == S.PERMANENT
    assert perm.sum() >= 10
    wait = {}
    for level in (on.status_level, 0.0):
        work = type(on.work)(*(a.copy() for a in on.work))
        turnover_and_recruitment(work, on.las, rp, on._t, level, np.random.default_rng(0))
        assert (work.status[perm] == S.VACANT).all()
        wait[level] = (work.hire_due[perm] - on._t).astype(float)
    fallen, frozen = wait[on.status_level], wait[0.0]
    assert (fallen >= frozen).all() and (fallen > frozen).any()
    # the ratio of the mean waits is the documented factor, up to whole-week rounding
    assert fallen.mean() / frozen.mean() == pytest.approx(
        np.exp(-rp.status_recruit_slope * on.status_level), rel=0.02)


# ---------------------------------------------------------------- loop polarity
def test_loop_polarity_b1_and_r_push_up_b2_pulls_down():
    m = _run(children=60000, years=1.5, shock=(SHOCK, 3.0), compliance_target=1.0)
    w = weekly_frame(m)
    assert (w["loop_b1_pull"] >= 0).all() and w["loop_b1_pull"].max() > 0
    assert (w["loop_r_pull"] >= 0).all() and w["loop_r_pull"].max() > 0
    assert (w["loop_b2_pull"] <= 0).all() and w["loop_b2_pull"].min() < 0


@pytest.mark.parametrize("loop, sign", [("mech_loop_b1", +1), ("mech_loop_r", +1),
                                        ("mech_loop_b2", -1)])
def test_each_loop_moves_prescription_its_way(loop, sign):
    """Knock one loop out (common random numbers): prescription ends lower without a loop
    that pushes it up, higher without the loop that pulls it down."""
    kw = dict(children=60000, years=1.5, shock=(SHOCK, 3.0), compliance_target=1.0)
    with_loop = weekly_frame(_run(**kw))["prescription"].iloc[-1]
    without = weekly_frame(_run(**kw, **{loop: False}))["prescription"].iloc[-1]
    assert sign * (with_loop - without) > 0


# ---------------------------------------------------------------- the surge amplifies down the chain
@pytest.mark.slow
def test_the_audit_adds_reviews_and_keeps_the_routine_ones():
    """After a shock every open plan and child-in-need case due later than its audit week
    gets an added review; a case the audit review leaves where it was is reviewed again on
    its routine date (the audit cancels nothing)."""
    m = ChildProtectionModel(small(children=60000, years=1.0, warmup=52), rng=5, agent_views=False)
    for _ in range(10):
        m.step()
    fam = m.fam
    rows = m.open.idx[:m.open.n[0]].copy()
    rows = rows[np.isin(fam.state[rows], (S.CPP, S.CIN))]
    routine, since = fam.due[rows].copy(), fam.since[rows].copy()
    m.media_shock(1.0)
    audited = fam.routine_due[rows] >= 0
    assert audited.sum() > 100 and (~audited).any()
    assert (fam.routine_due[rows][audited] == routine[audited]).all()
    assert (fam.due[rows][audited] < routine[audited]).all()
    assert (fam.due[rows][~audited] == routine[~audited]).all()
    audit_week = fam.due[rows].copy()
    for _ in range(12):
        m.step()
    t = m._t
    stayed = fam.since[rows] == since  # no move yet: every review so far left it as it was
    done = audited & stayed & (audit_week < t)  # had its audit review
    waiting = done & (routine >= t)  # its routine review is still to come, on its date
    assert waiting.sum() > 5
    assert (fam.due[rows][waiting] == routine[waiting]).all()
    assert (fam.routine_due[rows][done] == -1).all()


def test_media_shock_amplifies_down_the_chain():
    rises = []
    for seed in (1, 2):
        a = _run(children=300000, years=1.5, seed=seed)
        b = _run(children=300000, years=1.5, seed=seed, shock=(dt.date(2008, 4, 7), 1.0))
        fa, fb = a.record.flow[:52].sum(axis=(0, 1)), b.record.flow[:52].sum(axis=(0, 1))
        rise = lambda k, fa=fa, fb=fb: fb[k] / fa[k] - 1  # noqa: E731
        rises.append((rise(I.FL_REFERRALS_CHILDREN), rise(I.FL_CA_STARTS_CHILDREN),
                      rise(I.FL_COURT_APPLICATIONS)))
    ref, ca, apps = np.mean(rises, axis=0)
    # referrals rise least; the rise grows as it travels deeper into the system
    assert 0.02 < ref < min(ca, apps), (ref, ca, apps)
    assert apps > 1.5 * ref  # about 2x (1.97x with seeds 1, 2)


# ---------------------------------------------------------------- Taylor-Russell from runs
def test_model_runs_trade_errors_by_threshold_and_team_skill_reduces_both():
    from abm.studies.taylor_russell import (
        ALIGNED_THRESHOLD,
        GOOD,
        HIGH_THRESHOLD,
        LOW_THRESHOLD,
        POOR,
        decisions_from_run,
        error_counts,
    )

    def counts(**ov):
        x, y, t, cut = decisions_from_run(children=40000, seed=3, **ov)
        return error_counts(x, y, t, cut)

    lo, hi = counts(ia_threshold_s47=LOW_THRESHOLD), counts(ia_threshold_s47=HIGH_THRESHOLD)
    assert lo["FP"] > hi["FP"] and lo["FN"] < hi["FN"]
    good = counts(**GOOD, ia_threshold_s47=ALIGNED_THRESHOLD)
    poor = counts(**POOR, ia_threshold_s47=ALIGNED_THRESHOLD)
    rate = lambda c, k: c[k] / c["n"]  # noqa: E731
    assert rate(good, "FP") < rate(poor, "FP") and rate(good, "FN") < rate(poor, "FN")


def test_auc_is_reported_per_decision_point_and_beats_chance():
    m = _run(children=40000)
    d = decision_table(m)
    assert set(d["decision"]) == set(S.DECISION_NAMES)
    ia = d[d["decision"] == "initial_assessment"]
    # years with enough decisions to estimate an AUC (a run's last, stub year has a handful)
    n = ia[["TP", "FP", "TN", "FN"]].sum(axis=1)
    years = ia[(n >= 100) & ia["auc"].notna()]
    assert len(years) >= 1
    # beats chance by 4 standard errors of the AUC under chance (Hanley & McNeil 1982:
    # sd = sqrt((n1 + n0 + 1) / (12 n1 n0)) for n1 at-risk and n0 not-at-risk cases). Here
    # n1 ~ 220 and n0 ~ 400 a year, so the bound is about 0.60; the runs give 0.71-0.77
    # (seeds 1, 2, 3, 7), whose own sd at these counts is about 0.02.
    n1, n0 = years["TP"] + years["FN"], years["FP"] + years["TN"]
    bound = 0.5 + 4 * np.sqrt((n1 + n0 + 1) / (12 * n1 * n0))
    assert ((years["auc"] > bound) & (years["auc"] < 1.0)).all(), (years["auc"], bound)


# ---------------------------------------------------------------- front-door variants
def test_front_door_variants_reproduce_the_case_studies_shares():
    def fy(regime):
        return full_years(summary(_run(children=150000, years=1.0, seed=3, regime=regime), "fy")).iloc[-1]

    base, triage, ipst = fy("prescriptive"), fy("multi_agency_triage"), fy("integrated_front_door")
    # The tolerances are the targets' own (abm/data/targets/england_2005_2011.toml:
    # triage_referral_share 0.154 +/- 0.04; ipst_contact_to_referral 0.33 -> 0.16 +/- 0.05,
    # +/- 0.15 on the ratio, as model_map.toml says), not sampling noise: with ~4,600
    # police reports and ~4,400 referrals a year the sampling sd is about 0.006 on the
    # share and 0.015 on the ratio, but the model sits 0.02-0.03 and 0.05-0.07 above the
    # targets (0.173-0.189 and 0.538-0.557 over seeds 1-4), so a band from sampling alone
    # would test the model's current value, not the case studies.
    assert triage["police_triage_referral_share"] == pytest.approx(0.154, abs=0.04)
    ratio = ipst["referral_to_assessment_share"] / base["referral_to_assessment_share"]
    assert ratio == pytest.approx(16 / 33, abs=0.15)  # about halved, as 33% -> 16%


# ---------------------------------------------------------------- outcomes
@pytest.mark.slow
def test_reunification_success_rises_with_team_skill():
    """Going home from care is a judgment: teams that judge better return the right
    children, so fewer returns break down (§1.4: 64% success in the best areas, 10% in the
    worst). Compared across a poor, the default and a good team, same seed."""
    from abm.studies.taylor_russell import GOOD, POOR

    rates = []
    for ov in (POOR, {}, GOOD):
        m = ChildProtectionModel(small(children=1_000_000, years=4.0, warmup=104,
                                       **{**DESIGN_VALUES, **ov}), rng=5, agent_views=False)
        m.run()
        r = reunification_table(m)[["reunifications", "breakdowns_52w"]].sum()
        assert r["reunifications"] >= 40
        rates.append(1 - r["breakdowns_52w"] / r["reunifications"])
    assert rates[0] + 0.1 < rates[1] < rates[2] - 0.1, rates


def test_outcome_measures_are_finite_and_delay_per_child_in_need_follows_the_record():
    m = _run(children=60000, years=1.0)
    f = full_years(summary(m, "fy")).iloc[-1]
    for col in ("mean_journey_weeks", "delay_weeks_per_child_in_need",
                "childhood_lost_pct_per_child_in_need", "unnecessary_investigations",
                "rereferrals", "worker_changes", "harm_known", "harm_missed"):
        assert np.isfinite(f[col]) and f[col] >= 0, col
    # delay per child in need, from the weekly record: the year's delay weeks (each week
    # apportioned by its days in the year) over the children with an open social-care case
    # on census day (31 March, between the weekly records either side)
    T = m.weeks_recorded
    labels, W = m.calendar.flow_weights("fy", T)
    _, census = m.calendar.stock_weights("fy", T)
    k = labels.index(f.name)
    delay = W[k] @ m.series("delay_weeks")
    in_need = census[k] @ m.record.stock_children[:T][:, :, list(S.SOCIAL_CARE_STATES)].sum(
        axis=(1, 2))
    assert delay > 0 and in_need > 0
    assert f["delay_weeks_per_child_in_need"] == pytest.approx(delay / in_need)
    # as a share of an 18-year childhood: two months of delay are about 1%
    assert f["childhood_lost_pct_per_child_in_need"] == pytest.approx(
        100 * delay / in_need / (18 * 52))


# ---------------------------------------------------------------- regimes differ as the review argues
@pytest.mark.slow
def test_professional_judgment_differs_in_the_direction_the_review_argues():
    # One seed is enough here: each difference is far from 0 next to its spread between
    # seeds. Measured over seeds 1-15 (same seed in both regimes, FY2009, 200,000 children):
    # direct share +0.167 (sd 0.0015; seed 11: +0.165), turnover -0.080 a year (sd 0.0125;
    # -0.060 to -0.101; seed 11: -0.081), mean journey -0.30 weeks (sd 0.058; -0.19 to
    # -0.38; seed 11: -0.19), initial-assessment AUC +0.062 (sd 0.0125, on about 3,000
    # decisions a year; +0.030 to +0.080; seed 11: +0.059). The smallest is 5 sds from 0.
    a = _run(children=200000, years=2.0, seed=11)
    b = _run(children=200000, years=2.0, seed=11, regime="professional_judgment")
    fa, fb = full_years(summary(a, "fy")).iloc[-1], full_years(summary(b, "fy")).iloc[-1]
    assert fb["direct_share_of_contracted_hours"] > fa["direct_share_of_contracted_hours"]
    assert fb["turnover_rate"] < fa["turnover_rate"]
    assert fb["mean_journey_weeks"] < fa["mean_journey_weeks"]
    da, db = decision_table(a), decision_table(b)
    auc = lambda d: d[d["decision"] == "initial_assessment"]["auc"].iloc[-2]  # noqa: E731
    assert auc(db) > auc(da)


def test_regime_files_are_valid_documented_policies():
    """Each regime file names itself, cites its sources, sets only known parameters within
    the parameter table's ranges (read here from the file, not through the loader), and
    loads as exactly those values; the case-study variants are the prescriptive regime plus
    their own levers, and professional judgment moves each core lever the review's way."""
    import tomllib

    from abm.core.params import PARAMETERS
    from abm.core.scenario import REGIME_DIRS

    files = {p.stem: p for d in REGIME_DIRS for p in d.glob("*.toml")}
    variants = ("multi_agency_triage", "integrated_front_door", "early_help", "fdac")
    assert set(files) >= {"prescriptive", "professional_judgment", *variants}
    regimes = {}
    for name, path in files.items():
        text = path.read_text()
        raw = tomllib.loads(text)
        assert raw["regime"]["name"] == name and raw["regime"]["description"].strip(), name
        header = text[:text.index("[regime]")].splitlines()
        assert any(line.startswith("# Sources: ") for line in header), name
        params = raw["parameters"]
        assert params, name
        for key, value in params.items():
            spec = PARAMETERS.get(key)
            assert spec is not None, f"{name}: unknown parameter {key}"
            if spec.type == "bool":
                assert isinstance(value, bool), f"{name}.{key}"
            else:
                assert not isinstance(value, bool) and isinstance(value, (int, float)), f"{name}.{key}"
                assert spec.lo <= value <= spec.hi, f"{name}.{key} = {value} not in [{spec.lo}, {spec.hi}]"
        assert load_regime(name, "test") == params, name
        regimes[name] = params
    base = regimes["prescriptive"]
    for name in variants:  # "otherwise as the prescriptive regime"
        own = {k: v for k, v in regimes[name].items() if k not in base}
        assert {k: regimes[name].get(k) for k in base} == base, name
        assert own and all(v != PARAMETERS[k].default for k, v in own.items()), name
    pj = regimes["professional_judgment"]
    assert set(pj) == set(base)
    assert pj["prescription"] < base["prescription"]
    assert base["compliance_priority"] and not pj["compliance_priority"]
    assert pj["scope_for_judgment"] > base["scope_for_judgment"]
    assert pj["supervision_quality"] > base["supervision_quality"]
