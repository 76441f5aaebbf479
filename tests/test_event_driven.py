"""Event-driven casework is the weekly model, visited less often.

Casework visits an open case only in its review or due week (``OpenList.wake``); between
visits its risk and the help it receives are brought forward in one step when something
touches it (``core.settle``, with per-worker help accumulators, ``state.Help``). With
``visit_every_week=True`` the model visits every open case every week and takes the help
off week by week, as the model did before. With no risk volatility the two must agree
exactly, in every weekly flow: any case not woken when it should be (a state move, a lost
worker, an audit after a media shock), or help brought forward wrongly, changes a decision.
"""

import numpy as np
import pytest

from abm import small_la_scenario
from abm import state as S
from abm.model import ChildProtectionModel


def _run(sc, every_week, seed, vacate_week=None, shock_week=None):
    m = ChildProtectionModel(sc, rng=seed, visit_every_week=every_week)
    while m.running:
        if m.week == shock_week:
            m.media_shock(2.0)  # audits open plans: reviews brought forward
        if m.week == vacate_week:  # every post falls vacant; recruits arrive 6 weeks later
            m.work.status[:] = S.VACANT
            m.work.hire_due[:] = m._t + 6
        m.step()
    return m


@pytest.mark.parametrize("seed", [3, 11])
def test_event_driven_equals_weekly_visits_without_volatility(seed):
    sc = small_la_scenario(children=40_000, years=3, risk_volatility=0.0)
    a, b = _run(sc, False, seed), _run(sc, True, seed)
    assert a.rec["flow"][:, :, S.FL_CIN_STARTS].sum() > 100  # cases do move through
    np.testing.assert_array_equal(a.rec["flow"], b.rec["flow"])
    np.testing.assert_array_equal(a.rec["stock_fam"], b.rec["stock_fam"])
    np.testing.assert_array_equal(a.rec["decisions"], b.rec["decisions"])


def test_event_driven_equals_weekly_visits_through_vacancies_and_an_audit():
    sc = small_la_scenario(children=6_000, years=2, risk_volatility=0.0)
    a = _run(sc, False, 5, vacate_week=30, shock_week=20)
    b = _run(sc, True, 5, vacate_week=30, shock_week=20)
    # the vacancies left cases unallocated (weeks of delay counted weekly while they wait)
    assert a.rec["flow"][:, :, S.FL_UNALLOCATED_CASE_WEEKS].sum() > 100
    np.testing.assert_array_equal(a.rec["flow"], b.rec["flow"])
    np.testing.assert_array_equal(a.rec["stock_fam"], b.rec["stock_fam"])


def test_idle_cases_are_not_visited():
    """The point of it: most open cases (plans, child in need, care between reviews) are
    skipped in a given week, and each is settled to the week it is read."""
    m = ChildProtectionModel(small_la_scenario(children=40_000, years=1), rng=2)
    while m.running:
        m.step()
    n = int(m.open.n[0])
    wake = m.open.wake[:n]
    idx = m.open.idx[:n]
    t = m._t  # the next week's clock
    assert (wake > t).mean() > 0.5
    # a case's risk clock is behind only while it is idle; cases due now were settled then
    st = m.fam.state[idx]
    weekly = np.isin(st, [S.IA, S.CA, S.COURT])
    assert (m.fam.risk_t[idx[weekly]] == t - 1).all()
    assert (wake[weekly] == t).all()
