"""Social workers: caseload accounting, turnover against the hazard, the regime's squeeze,
extreme inputs, and the ripple-effect chain."""

import datetime as dt

import numpy as np
import pytest
from conftest import small
from scipy import stats

from abm import ChildProtectionModel
from abm.core import indicators as I
from abm.core import state as S
from abm.core.scenario import Event
from abm.outputs.tables import summary, weekly_frame


def test_caseload_accounting_matches_allocation_every_week():
    m = ChildProtectionModel(small(children=15000, years=0.6), rng=2, agent_views=False)
    while m.week < m.calendar.n_weeks:
        m.step()
        rows = m.open.idx[: m.open.n[0]]
        w = m.fam.worker[rows]
        counts = np.bincount(w[w >= 0], minlength=len(m.work.la))
        assert np.array_equal(counts, m.work.caseload)
        # a post vacated this week keeps its cases until next week's allocation, which runs
        # before any hours are spent; so every vacant post with cases quit this very week
        held = (m.work.status == S.VACANT) & (m.work.caseload > 0)
        assert (m.work.hire_due[held] >= 0).all()
        # no early-help family holds a social worker
        assert (m.fam.worker[m.fam.state == S.EARLY_HELP] == -1).all()


def test_hours_never_exceed_what_workers_have():
    m = ChildProtectionModel(small(children=20000, years=0.5, prescription=3.0), rng=1,
                             agent_views=False)
    m.run()
    def w(name):
        return m.record.series(f"work_{name}", by_unit=True)
    used = w("direct_hours") + w("record_hours")
    assert (used <= w("available_hours") + 1e-6).all()


def test_turnover_matches_the_configured_hazard():
    """With neutral satisfaction and no stress (the ripple loop cut) the weekly quit
    probability is quit_hazard_base; observed quits over replicates agree (binomial test)."""
    quits = exposure = 0
    for seed in range(4):
        m = ChildProtectionModel(small(children=40000, years=1.0, satisfaction_direct_weight=0.0,
                                       satisfaction_scope_weight=0.0, quit_stress_slope=0.0,
                                       quit_hazard_base=0.004, ripple_gain=0.0),
                                 rng=seed, agent_views=False)
        m.run()
        quits += int(m.record.flow[:, :, I.FL_LEAVERS].sum())
        exposure += int(m.record.work[:, :, I.WORK_NAMES.index("work_permanent")].sum())
    res = stats.binomtest(quits, exposure, 0.004)
    assert res.pvalue > 0.001, (quits, exposure, quits / exposure)


def _paired(prescription_b, seed=5, **ov):
    a = ChildProtectionModel(small(children=60000, years=2.0, **ov), rng=seed, agent_views=False)
    b = ChildProtectionModel(small(children=60000, years=2.0, prescription=prescription_b, **ov),
                             rng=seed, agent_views=False)
    a.run()
    b.run()
    return summary(a, "fy"), summary(b, "fy")


def test_more_prescription_means_less_direct_time_and_more_turnover():
    a, b = _paired(2.4)
    assert (b["direct_share_of_contracted_hours"] < a["direct_share_of_contracted_hours"]).all()
    assert b["turnover_rate"].sum() > a["turnover_rate"].sum()
    assert b["mean_satisfaction"].mean() < a["mean_satisfaction"].mean()


@pytest.mark.parametrize("ov", [
    {"recruitment_weeks": 520.0, "agency_fill_share": 0.0},  # (almost) no recruitment
    {"contact_rate": 0.036},                                 # ten times the demand
    {"quit_hazard_base": 0.5, "quit_hazard_max": 1.0,        # the whole team leaves,
     "agency_fill_share": 0.0},                              # with no agency cover
])
def test_extreme_inputs_saturate_without_nans_or_negative_stocks(ov):
    m = ChildProtectionModel(small(children=10000, years=1.0, **ov), rng=3, agent_views=False)
    m.run()
    for k, a in m.record.arrays().items():
        assert not np.isnan(a).any(), k
    assert (m.record.stock_fam >= 0).all() and (m.work.caseload >= 0).all()
    w = weekly_frame(m)
    assert (w["work_vacant"] <= w["work_posts"]).all()
    fy = summary(m, "fy")
    assert fy["referrals"].notna().all()
    if "quit_hazard_base" in ov:
        assert fy["vacancy_rate"].iloc[-1] > 0.5  # saturation is reported, not hidden
        assert (w["unallocated_case_weeks"] > 0).any()
    if "contact_rate" in ov:
        assert fy["mean_caseload"].iloc[-1] > 3 * 8  # caseloads far above normal


def test_ripple_effect_chain_in_causal_order():
    """Raise prescription at a date (same seed as a run that does not): direct time falls
    first, then satisfaction, then turnover rises, then experience falls and vacancies rise.
    Paired differences are averaged over three seeds before finding each first crossing."""
    switch = dt.date(2009, 4, 6)
    diffs = []
    for seed in (9, 10, 11):
        base = small(children=150000, years=3.0)
        alt = small(children=150000, years=3.0)
        alt.events = [Event(switch, "set_parameter", parameter="prescription", value=2.4)]
        a = ChildProtectionModel(base, rng=seed, agent_views=False)
        b = ChildProtectionModel(alt, rng=seed, agent_views=False)
        a.run()
        b.run()
        wa, wb = weekly_frame(a), weekly_frame(b)
        t0 = a.calendar.week_of(switch)
        fa = wa["work_permanent"] + wa["work_agency"]
        fb = wb["work_permanent"] + wb["work_agency"]
        d = {
            "direct": wb["work_direct_hours"] / fb - wa["work_direct_hours"] / fa,
            "satisfaction": wb["work_satisfaction_sum"] / fb - wa["work_satisfaction_sum"] / fa,
            # extra leavers so far, per post (the direct measure; the annual rate is an EMA)
            "turnover": (wb["leavers"].cumsum() - wa["leavers"].cumsum()) / wa["work_posts"],
            "experience": wb["work_experience_sum"] / fb - wa["work_experience_sum"] / fa,
            "vacancy": wb["work_vacant"] / wb["work_posts"] - wa["work_vacant"] / wa["work_posts"],
        }
        for k, x in d.items():
            assert np.allclose(x[:t0], 0), k  # identical before the change (common random numbers)
        diffs.append(d)
    diff = {k: sum(d[k] for d in diffs) / len(diffs) for k in diffs[0]}

    def first_week(series, sign, level):
        hit = np.flatnonzero(sign * series.to_numpy()[t0:] > level)
        return t0 + int(hit[0]) if len(hit) else 10**9

    t_direct = first_week(diff["direct"], -1, 0.5)         # hours per worker per week
    t_sat = first_week(diff["satisfaction"], -1, 0.1)
    t_turn = first_week(diff["turnover"], +1, 0.005)
    t_exp = first_week(diff["experience"], -1, 0.1)
    t_vac = first_week(diff["vacancy"], +1, 0.01)
    # a quit leaves its vacancy the same week, so vacancies rise with turnover, not before
    assert t_direct < t_sat < t_turn <= min(t_exp, t_vac) < 10**9, (t_direct, t_sat, t_turn, t_exp, t_vac)


def _pulse_excess(gain, seed):
    """Excess permanent leavers (pulse minus no pulse, same seed) during a one-year doubling
    of the quit hazard and in the 78 weeks after it, with the ripple loop at ``gain``."""
    start = dt.date(2008, 4, 7)  # small()'s start
    out = []
    for pulse in (False, True):
        sc = small(children=600_000, years=4.0, warmup=104, ripple_gain=gain)
        if pulse:  # the pulse is a scenario (two dated events), not a parameter rewritten
            sc.events = [Event(start + dt.timedelta(weeks=26), "scale_parameter",
                               parameter="quit_hazard_base", value=2.0),
                         Event(start + dt.timedelta(weeks=78), "scale_parameter",
                               parameter="quit_hazard_base", value=0.5)]
        m = ChildProtectionModel(sc, rng=seed, agent_views=False)
        m.run()
        leavers = m.record.flow[:, :, I.FL_LEAVERS].sum(axis=1)
        out.append((leavers[26:78].sum(), leavers[78:].sum()))
    return out[1][0] - out[0][0], out[1][1] - out[0][1]


def test_ripple_loop_passes_a_pulse_of_quits_on():
    """The ripple loop (vacancies and agency cover -> the stayers' stress -> quits): after a
    one-year doubling of the quit hazard, the excess leavers in the following 78 weeks are
    more with the loop's gain above 0 than with it cut, on the same seeds. Cut, the pulse
    is damped (it took the most strained workers; fresh recruits replace them)."""
    for seed in (0, 1):
        pulse_off, after_off = _pulse_excess(0.0, seed)
        pulse_on, after_on = _pulse_excess(0.8, seed)
        assert pulse_off > 50 and pulse_on > 50  # the pulse itself is large
        assert after_on > after_off + 10, (seed, after_on, after_off)
        assert after_on / pulse_on > after_off / pulse_off
