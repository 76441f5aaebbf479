"""The plumbing of the performance work inside a model (docs/performance.md): the
mechanisms' compiled kernel entry points, the front door's contact proposals, casework's
hours and the moves casework applies after its loop. No timed assertions: speed is recorded
by ``make bench``."""

import math

import numpy as np
import pytest

from abm.core import indicators as I
from abm.core import state as S
from abm.core.params import Drivers
from abm.mechanisms.casework import CaseworkParams, move_params


def test_casework_adds_each_weeks_work_to_an_assessment_until_it_completes():
    """The assessment's direct hours and recording accumulate in the casework loop: the
    direct demand capped by the worker's direct ratio, and the recording at the pace of the
    worker's record ratio (weeks at full pace); it completes, on time, once the work it needs
    is done, and late when an overloaded worker's pace makes it pass its timescale."""
    from conftest import small

    from abm import ChildProtectionModel
    from abm.core.kernels import move
    from abm.mechanisms.casework import casework

    m = ChildProtectionModel(small(children=2000, years=0.2, warmup=0), rng=1, agent_views=False)
    fam, work, las, op, p = m.fam, m.work, m.las, m.open, m.p
    t = m._t
    drv = Drivers(anxiety=0.0, threshold_shift=0.0, contact_gain=1.0,
                  prescription=p.prescription, scope_for_judgment=p.scope_for_judgment,
                  status_level=0.0, court_shift=0.0)
    rng = np.random.default_rng(0)
    d = p.direct_hours_assessment
    done_week = {}
    for pace in (0.5, 0.25):
        i = int(np.flatnonzero(fam.state == S.NONE)[0])
        move(fam, las, op, i, S.IA, t)
        fam.due[i], fam.worker[i], fam.risk_t[i] = t + 2, 0, t
        fam.acc_direct[i] = fam.acc_record[i] = fam.work_need[i] = 0.0
        work.direct_ratio[0], work.record_ratio[0] = 0.5, pace
        las.flow[:] = 0
        for week in range(1, 60):  # (a year is the backstop)
            casework(fam, work, las, op, CaseworkParams.of(p), drv, t + week, rng, rng, m.res,
                     False, np.zeros(8, np.int64))
            if fam.state[i] != S.IA:
                done_week[pace] = week
                break
            assert fam.work_need[i] > 0  # drawn in its first week
            assert fam.acc_direct[i] == pytest.approx(week * d * 0.5, rel=1e-6)
            assert fam.acc_record[i] == pytest.approx(week * pace, rel=1e-6)
        week = done_week[pace]
        assert las.flow[:, I.FL_IA_COMPLETED].sum() == 1
        assert las.flow[:, I.FL_IA_ON_TIME].sum() == (1 if week <= 2 else 0)
        t += week
    assert done_week[0.25] > 2  # a quarter pace cannot finish it by its timescale


def test_apply_moves_keeps_stocks_flows_and_the_open_list():
    """casework.apply_moves (the moves casework decides, applied after its loop) does
    what the caseflow says: state, review week, flows, first help, worker, open list."""
    from conftest import small

    from abm import ChildProtectionModel
    from abm.core.kernels import move, recount_stocks
    from abm.mechanisms import casework as T

    m = ChildProtectionModel(small(children=2000, years=0.2, warmup=0), rng=1, agent_views=False)
    fam, las, op, work, p = m.fam, m.las, m.open, m.work, m.p
    a, b, c = (int(x) for x in np.flatnonzero(fam.state == S.NONE)[:3])
    for i in (a, b, c):
        move(fam, las, op, i, S.IA, 10)
        fam.episode_start[i], fam.help_start[i], fam.worker[i] = 8, -1, 0
        work.caseload[0] += 1
    load0, flow0 = int(work.caseload[0]), las.flow.copy()
    moves = np.array([[a, T.GO_CIN], [b, T.GO_CPP], [c, T.GO_CA]], np.int64)
    T.apply_moves(fam, work, las, op, moves, 3, 12, move_params(p))
    assert (fam.state[a], fam.due[a], fam.since[a]) == (S.CIN, 12 + math.ceil(p.cin_review_weeks), 12)
    assert (fam.state[b], fam.due[b]) == (S.CPP, 12 + math.ceil(p.cpp_review_weeks))
    assert (fam.state[c], fam.due[c]) == (S.CA, 12 + math.ceil(p.ca_target_weeks))
    d = las.flow[0] - flow0[0]
    assert d[I.FL_CIN_STARTS] == 1 and d[I.FL_CPP_STARTS] == 1 and d[I.FL_CA_STARTS] == 1
    assert d[I.FL_CPP_STARTS_CHILDREN] == fam.n_children[b]
    assert d[I.FL_JOURNEYS] == 2 and d[I.FL_JOURNEY_WEEKS_SUM] == 2 * (12 - 8)
    assert fam.help_start[a] == 12 and fam.help_start[b] == 12 and fam.help_start[c] == -1
    T.apply_move(fam, work, las, op, a, T.GO_CLOSE, 20, move_params(p))
    assert (fam.state[a], fam.worker[a], fam.last_closed[a], fam.episode_start[a]) == (S.NONE, -1, 20, -1)
    assert work.caseload[0] == load0 - 1
    assert las.flow[0, I.FL_CLOSURES] - flow0[0, I.FL_CLOSURES] == 1
    n = op.n[0]
    assert a not in op.idx[:n].tolist() and b in op.idx[:n].tolist()
    assert (recount_stocks(fam, len(las.children), S.N_STATES) == las.stock_fam).all()


def test_kernel_entry_points_give_the_dispatchers_results_and_follow_parameter_changes():
    """The mechanisms' fast kernel calls (compiled entry points) change nothing: a run with
    them equals a run through Numba's dispatcher, also across a parameter change, after
    which the entry points are looked up again."""
    import abm
    from abm.core.model import ChildProtectionModel

    sc = abm.small_la_scenario(children=1500, years=1, warmup_weeks=4)
    fast = ChildProtectionModel(sc, rng=9, agent_views=False)
    slow = ChildProtectionModel(sc, rng=9, agent_views=False)
    for mech in slow.mechanisms.values():
        mech.call = lambda kernel, *args: kernel(*args)
    for m in (fast, slow):
        for week in range(20):
            if week == 10:
                m.set_params(prescription=0.8, early_help_places=60.0)
                assert all(not mech._entries for mech in m.mechanisms.values())
            m.step()
    entries = {k: e for mech in fast.mechanisms.values() for k, e in mech._entries.items()}
    assert len(entries) >= 6
    assert all(e is not k for k, e in entries.items())  # entry points, not dispatchers
    for key in fast.record.arrays():
        assert np.array_equal(fast.record.arrays()[key], slow.record.arrays()[key]), key


def test_front_door_reports_the_contact_proposals_it_drew():
    """Thinning draws Poisson(n x bound) proposals per risk bin, so over many weeks their
    number matches the sum of the bins' bounds; every contact was a proposal."""
    import abm
    from abm.core.model import ChildProtectionModel
    from abm.mechanisms.population import BOUND_SD, stationary_sd

    m = ChildProtectionModel(abm.small_la_scenario(children=4000, years=1, warmup_weeks=0),
                             rng=5, agent_views=False)
    p, las = m.p, m.las
    n = las.bin_end[0] - las.bin_start[0]
    bound = BOUND_SD * stationary_sd(p.risk_reversion, p.risk_volatility)
    expected = float((n * p.contact_rate * np.exp(p.contact_risk_slope
                                                  * (las.bin_base_max[0] + bound))).sum())
    total, contacts = 0, 0
    weeks = 30
    for _ in range(weeks):
        m.step()
        total += m.contact_proposals
        contacts += int(las.flow[0, I.FL_CONTACTS])
    assert abs(total - expected * weeks) < 4 * np.sqrt(expected * weeks)
    assert 0 < contacts < total
