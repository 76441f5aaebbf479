"""Every value a parameter's range admits gives a sound run.

The table (``abm/data/parameters.toml``) refuses values outside each parameter's range; the
converse is checked here: for every parameter, a short one-LA run with the parameter at the
low end of its range and one at the high end (a switch: off and on), everything else at its
default, completes, and its outputs are sound:

* every weekly series is finite, and every count (flows, stocks, workforce, courts) is
  non-negative;
* the financial-year summary is finite, except where the registry's own definitions give no
  value: a stock read on a day the run does not reach, and a derived indicator whose formula
  divides by a zero (``abm.core.indicators``: a share of nothing is NaN by design);
* the state tables hold finite numbers, stocks are non-negative, every family is in exactly
  one state, the open-case list and early-help places agree with the family table, and each
  week's stocks equal the last week's plus inflows minus outflows (as in
  ``tests/mechanisms/test_conservation.py``).

A parameter whose own mechanism is switched off by default (a front-door variant, the FDAC,
judicial continuity, ...) is tested with its switch on, so that its value is used at all.
"""

from __future__ import annotations

import ast
import datetime as dt

import numpy as np
import pytest
from conftest import small

from abm import ChildProtectionModel
from abm.core import indicators as I
from abm.core import state as S
from abm.core.kernels import recount_stocks
from abm.core.params import PARAMETERS, make_params
from abm.core.scenario import MAX_YEARS
from abm.mechanisms.population import (
    BOUND_SD,
    FamilyParams,
    advance_risk,
    harm_events,
    stationary_sd,
)
from abm.outputs import tables

CHILDREN = 3000
YEARS = 1.0
WARMUP = 26
SEED = 11
#: A media shock early in the run, so that anxiety and its parameters act.
SHOCK = (dt.date(2008, 6, 2), 1.0)

#: Parameters used only when another parameter turns their mechanism on: that setting is
#: added to the run, so the parameter's ends are exercised.
ENABLE = {
    **{n: {"triage_unit": True} for n in ("triage_sigma", "triage_threshold")},
    **{n: {"integrated_front_door": True}
       for n in ("integrated_screen_sigma", "integrated_screen_threshold")},
    **{n: {"fdac": True} for n in ("fdac_engagement", "fdac_risk_reduction")},
    "continuity_adjournment_reduction": {"judicial_continuity": 1.0},
    "timetable_enforcement": {"timetable_weeks": 26.0},
    "plan_change_persistence": {"household_renewal_rate": 0.056},
}

#: The referrer shares must sum to at most 1 (``scenario._check_shares``): a share at the top
#: of its range is run with the other shares scaled down to leave room for it.
SHARES = ("police_share", "schools_share", "health_share", "early_years_share")

#: Series that may be negative by definition: an index around a neutral 0 and the loops'
#: signed pulls on prescription. Every other series is a count, an amount or a share.
SIGNED = {"work_satisfaction_sum", "professional_status", "threshold_shift", "loop_b1_pull",
          "loop_b2_pull", "loop_r_pull"}

#: Contacts are sampled by thinning: the front door draws proposals at a rate bounded above
#: each family's, 0.016 per family a week at the defaults. At most one a week per family (as at
#: the top of contact_rate's range) keeps a week's proposals in memory and time at England
#: scale, where the largest LA, with riskier households than a small one, draws more.
MAX_PROPOSALS_PER_FAMILY_WEEK = 1.0

CASES = [(name, end) for name in PARAMETERS for end in ("low", "high")]


def _value(name: str, end: str):
    spec = PARAMETERS[name]
    if spec.type == "bool":
        return end == "high"
    return spec.lo if end == "low" else spec.hi


def _overrides(name: str, value) -> dict:
    ov = {**ENABLE.get(name, {}), name: value}
    if name in SHARES:
        others = [n for n in SHARES if n != name]
        total = sum(PARAMETERS[n].default for n in others)
        if value + total > 1.0:
            scale = (1.0 - value) / total
            ov.update({n: PARAMETERS[n].default * scale for n in others})
    return ov


def _denominators(formula: str) -> list[str]:
    """The right-hand operand of every division in an indicator's formula."""
    return [ast.unparse(node.right) for node in ast.walk(ast.parse(formula, mode="eval"))
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)]


DENOMINATORS = {ind.name: _denominators(ind.formula) for ind in I.INDICATORS}


def _check_weekly(m) -> None:
    w = tables.weekly_frame(m)
    for s in I.SERIES:
        x = w[s.name].to_numpy(float)
        bad = ~np.isfinite(x)
        assert not bad.any(), f"weekly {s.name} not finite in weeks {np.flatnonzero(bad)[:5]}"
        if s.name not in SIGNED:
            assert (x >= 0).all(), f"weekly {s.name} negative: min {x.min()}"


def _check_summary(m) -> None:
    t = tables.summary(m, "fy")
    T = m.weeks_recorded
    _, flow_w = m.calendar.flow_weights("fy", T)
    _, stock_w = m.calendar.stock_weights("fy", T)
    read = ~np.isnan(stock_w[flow_w.sum(axis=1) > 0]).any(axis=1)  # the summary's rows
    assert len(read) == len(t)
    for s in I.SERIES:
        x = t[s.name].to_numpy(float)
        ok = np.isfinite(x) | (~read if s.kind == "stock" else False)
        assert ok.all(), f"summary {s.name} not finite: {x}"
    for ind in I.INDICATORS:
        x = t[ind.name].to_numpy(float)
        bad = ~np.isfinite(x)
        if not bad.any():
            continue
        excused = np.zeros(len(t), bool)
        for n in ind.inputs:  # an input without a value (a NaN already excused)
            if n != "weeks":
                excused |= ~np.isfinite(t[n].to_numpy(float))
        for expr in DENOMINATORS[ind.name]:  # a division by zero
            d = np.broadcast_to(np.asarray(t.eval(expr, engine="python"), float), x.shape)
            excused |= (d == 0) | ~np.isfinite(d)
        assert not (bad & ~excused).any(), (
            f"summary {ind.name} = {x} not finite with no zero denominator "
            f"({ind.formula})")


def _check_state(m) -> None:
    for table_name in ("fam", "las", "work", "courts", "cases", "res"):
        table = getattr(m, table_name)
        for field, arr in table._asdict().items():
            if isinstance(arr, np.ndarray) and arr.dtype.kind == "f":
                assert np.isfinite(arr).all(), f"{table_name}.{field} holds non-finite values"
    fam, las = m.fam, m.las
    L = len(las.children)
    assert (las.stock_fam >= 0).all() and (las.stock_children >= 0).all()
    assert np.array_equal(recount_stocks(fam, L, S.N_STATES), las.stock_fam)
    children = np.zeros((L, S.N_STATES), np.int64)
    np.add.at(children, (fam.la, fam.state), fam.n_children)
    assert np.array_equal(children, las.stock_children)
    assert children.sum() == las.children.sum()
    n = int(m.open.n[0])
    rows = m.open.idx[:n]
    assert len(set(rows.tolist())) == n
    assert set(rows.tolist()) == set(np.flatnonzero(fam.state != S.NONE).tolist())
    eh = np.bincount(fam.la[fam.state == S.EARLY_HELP], minlength=L)
    assert np.array_equal(eh, las.eh_used)
    assert (las.eh_used <= las.eh_places).all()
    assert (m.work.caseload >= 0).all()
    assert (m.courts.guardians_used >= 0).all() and (m.courts.experts_waiting >= 0).all()


def _check_thinning(m, proposals: int) -> None:
    """Contacts and harm are sampled by thinning under a bound: the contacts' bound must keep
    a week's proposals workable, and the harm hazard's, in the riskiest bin, stay below one
    event a week (severe harm is rare at every risk level, §1.43-1.46)."""
    per_family_week = proposals / (m.n_families * m.calendar.n_weeks)
    assert per_family_week <= MAX_PROPOSALS_PER_FAMILY_WEEK, (
        f"the front door drew {per_family_week:.3g} proposals per family a week")
    p = m.p
    bound = BOUND_SD * stationary_sd(p.risk_reversion, p.risk_volatility)
    h_max = p.harm_hazard_base * np.exp(p.harm_hazard_slope * (m.las.bin_base_max + bound))
    assert h_max.max() <= 1.0, f"harm hazard bound {h_max.max():.3g} events a week"
    assert (m.fam.n_referrals >= 0).all() and (m.fam.n_harm >= 0).all()  # int16 counters


def _check_stock_flow(m) -> None:
    T = m.weeks_recorded
    stock = m.record.stock_fam[:T].astype(np.int64)
    trans = m.record.trans[:T].astype(np.int64)
    assert (stock >= 0).all() and (trans >= 0).all()
    diag = np.einsum("tlss->tls", trans)
    inflow = trans.sum(axis=2) - diag
    outflow = trans.sum(axis=3) - diag
    assert np.array_equal(stock[1:], stock[:-1] + inflow[1:] - outflow[1:])


@pytest.mark.slow  # 340 runs: about 90 s
@pytest.mark.parametrize(("name", "end"), CASES, ids=[f"{n}-{e}" for n, e in CASES])
def test_range_end_gives_a_sound_run(name, end):
    value = _value(name, end)
    sc = small(children=CHILDREN, years=YEARS, shock=SHOCK,
               **{"warmup_weeks": WARMUP, **_overrides(name, value)})
    m = ChildProtectionModel(sc, rng=SEED, agent_views=False)
    assert getattr(m.p, name) == value
    proposals = 0
    while m.week < m.calendar.n_weeks:
        m.step()
        proposals += m.mechanisms["front_door"].proposals
    assert m.weeks_recorded == m.calendar.n_weeks
    _check_thinning(m, proposals)
    _check_weekly(m)
    _check_summary(m)
    _check_state(m)
    _check_stock_flow(m)


def test_denominators_are_parsed():
    """The NaN excuse reads each formula's divisions: check it on known formulas."""
    assert DENOMINATORS["cp_plan_share"] == ["referrals_children"]
    assert sorted(DENOMINATORS["turnover_rate"]) == ["weeks", "work_permanent"]
    assert DENOMINATORS["agency_share"] == ["work_permanent + work_agency"]
    assert DENOMINATORS["children_in_need"] == []


def test_risk_stays_within_the_thinning_bound_at_the_lowest_reversion():
    """Contacts and harm are sampled under a bound BOUND_SD stationary sds above a risk bin's
    riskiest family; at the lowest reversion the range admits, over the longest run (the
    longest warm-up and scenario), a family's risk stays within it as a Gaussian does (with
    no reversion, a random walk, it would not: the bound would not bound)."""
    lo = PARAMETERS["risk_reversion"].lo
    assert lo > 0
    vol = PARAMETERS["risk_volatility"].default
    weeks = PARAMETERS["warmup_weeks"].hi + 53 * MAX_YEARS
    n = 20000
    fam = S.empty_families(n)
    rng = np.random.default_rng(5)
    sd = stationary_sd(lo, vol)
    fam.risk[:] = sd * rng.standard_normal(n)  # base 0, as the population starts
    for i in range(n):
        advance_risk(fam, i, weeks, lo, vol, rng)
    outside = (np.abs(fam.risk.astype(float)) > BOUND_SD * sd).mean()
    assert outside < 1e-3  # a Gaussian's 4-sd tails: 6e-5
    # the same check fails without reversion: the test can tell
    fam.risk[:] = stationary_sd(0.0, vol) * rng.standard_normal(n)
    fam.risk_t[:] = 0
    for i in range(n):
        advance_risk(fam, i, weeks, 0.0, vol, rng)
    assert (np.abs(fam.risk.astype(float)) > BOUND_SD * stationary_sd(0.0, vol)).mean() > 0.1


def test_no_forced_referral_is_dropped_when_the_queue_is_full():
    """A week with more harmed families without a case than the queue holds grows the queue:
    every one of them is referred (the queue once dropped the rest silently)."""
    sc = small(children=20000, years=0.2, warmup=0,
               harm_hazard_base=PARAMETERS["harm_hazard_base"].hi,
               harm_hazard_slope=PARAMETERS["harm_hazard_slope"].hi)
    m = ChildProtectionModel(sc, rng=3, agent_views=False)
    fp = FamilyParams.of(make_params(sc.regime_params, sc.overrides))
    queue = np.zeros(2, np.int64)
    rng, rng_r = np.random.default_rng(1), np.random.default_rng(2)
    missed = 0
    for t in range(1, 40):
        before = int(m.las.flow[:, I.FL_HARM_MISSED].sum())
        total, n_ref, queue = harm_events(m.fam, m.las, fp, t, rng, rng_r, queue)
        missed_now = int(m.las.flow[:, I.FL_HARM_MISSED].sum()) - before
        assert n_ref == missed_now <= len(queue)
        assert (m.fam.state[queue[:n_ref]] == S.NONE).all()
        missed += missed_now
    assert missed > 2 and len(queue) > 2  # the queue had to grow
