"""The plumbing of the performance work (docs/performance.md): the pause of Python's
collector, the scalar ``assessment_done``, casework's hours, the moves casework applies after
its loop, and the benchmark's warm-process run. No timed assertions: speed is recorded by
``make bench``."""

import gc
import math

import numpy as np
import pytest
from benchmarks.measure import measure
from benchmarks.plans import SMALL_LA, make_scenario

from abm.core import indicators as I
from abm.core import state as S
from abm.core.model import gc_paused
from abm.core.params import Drivers, make_params
from abm.mechanisms.casework import CaseworkParams, assessment_done, due_weeks


@pytest.mark.parametrize("enabled", [True, False])
def test_gc_paused_pauses_and_restores_the_collector_even_on_error(enabled):
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with gc_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError), gc_paused():
            raise RuntimeError("boom")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_assessment_done_waits_for_the_due_week():
    p = make_params({"mech_workload_squeeze": False})
    cp = CaseworkParams.of(p)
    assert not assessment_done(0.0, 1, 3, 0, 10.0, cp, p.prescription)  # before the due week
    assert not assessment_done(1e9, 2, 3, 0, 10.0, cp, p.prescription)
    assert assessment_done(0.0, 3, 3, 0, 10.0, cp, p.prescription)  # no squeeze: due = done


def test_assessment_done_under_the_squeeze_waits_for_its_recording_or_a_year():
    p = make_params({"mech_workload_squeeze": True})
    req = 4.0 * p.direct_hours_assessment
    recorded = float(np.float32(req * p.recording_ratio * p.prescription))
    cp, pr = CaseworkParams.of(p), p.prescription
    assert not assessment_done(0.0, 5, 0, 0, req, cp, pr)  # no recording done at all
    assert not assessment_done(0.9 * recorded, 52, 0, 0, req, cp, pr)
    assert assessment_done(0.0, 53, 0, 0, req, cp, pr)  # the backstop: over 52 weeks in the state
    assert assessment_done(recorded, 5, 0, 0, req, cp, pr)  # all recorded
    # the prescription in force (a driver), not the regime's, sets the recording needed
    assert not assessment_done(recorded, 5, 0, 0, req, cp, 2 * pr)


def test_casework_adds_each_weeks_hours_to_an_assessment_until_it_completes():
    """The assessment's direct and recording hours accumulate in the casework loop: the
    demand capped by the worker's direct ratio, and the recording share of it."""
    from conftest import small

    from abm import ChildProtectionModel
    from abm.core.kernels import move
    from abm.mechanisms.casework import casework

    m = ChildProtectionModel(small(children=2000, years=0.2, warmup=0), rng=1, agent_views=False)
    fam, work, las, op, p = m.fam, m.work, m.las, m.open, m.p
    t = m._t
    i = int(np.flatnonzero(fam.state == S.NONE)[0])
    move(fam, las, op, i, S.IA, t)
    fam.due[i], fam.worker[i], fam.risk_t[i] = t + 3, 0, t
    fam.acc_direct[i] = fam.acc_record[i] = 0.0
    work.direct_ratio[0], work.record_ratio[0] = 0.5, 0.25
    rng = np.random.default_rng(0)
    for week in (1, 2):
        drv = Drivers(anxiety=0.0, threshold_shift=0.0, contact_gain=1.0,
                      prescription=p.prescription, scope_for_judgment=p.scope_for_judgment,
                      status_level=0.0)
        casework(fam, work, las, op, CaseworkParams.of(p), drv, t + week, rng, rng, m.res,
                 False, np.zeros(8, np.int64))
        assert fam.state[i] == S.IA  # not due yet
        d = p.direct_hours_assessment
        assert fam.acc_direct[i] == pytest.approx(week * d * 0.5, rel=1e-6)
        assert fam.acc_record[i] == pytest.approx(
            week * d * p.recording_ratio * p.prescription * 0.25, rel=1e-6)


def test_engine_warm_run_times_a_second_model_built_after_a_first_one_ran(monkeypatch):
    """``engine_warm`` must time a second model, built with the run's seed after a first one
    (another seed) has run to its end in the same process, and report that model's
    family-weeks: the count an independent model of the same scenario simulates."""
    import abm.core.model as model_module
    from abm.reference import family_weeks

    events = []

    class Recording(model_module.ChildProtectionModel):
        def __init__(self, scenario, rng=None, **kw):
            super().__init__(scenario, rng=rng, **kw)
            self.bench_seed = rng
            events.append(("built", rng))

        def run(self, *a, **kw):
            out = super().run(*a, **kw)
            events.append(("ran", self.bench_seed))
            return out

    monkeypatch.setattr(model_module, "ChildProtectionModel", Recording)
    desc = {"path": SMALL_LA, "children": 400, "years": 1, "overrides": {"warmup_weeks": 4}}
    r = measure("engine_warm", desc, seed=2)
    first = events[0][1]
    assert first != 2 and events == [("built", first), ("ran", first), ("built", 2), ("ran", 2)]
    m = Recording(make_scenario(desc), rng=2, agent_views=False).run()
    assert r["family_weeks"] == family_weeks(m)
    assert r["weeks_simulated"] == 4 + m.calendar.n_weeks
    assert r["family_weeks_per_s"] > 0


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
    T.apply_moves(fam, work, las, op, moves, 3, 12, due_weeks(p))
    assert (fam.state[a], fam.due[a], fam.since[a]) == (S.CIN, 12 + math.ceil(p.cin_review_weeks), 12)
    assert (fam.state[b], fam.due[b]) == (S.CPP, 12 + math.ceil(p.cpp_review_weeks))
    assert (fam.state[c], fam.due[c]) == (S.CA, 12 + math.ceil(p.ca_target_weeks))
    d = las.flow[0] - flow0[0]
    assert d[I.FL_CIN_STARTS] == 1 and d[I.FL_CPP_STARTS] == 1 and d[I.FL_CA_STARTS] == 1
    assert d[I.FL_CPP_STARTS_CHILDREN] == fam.n_children[b]
    assert d[I.FL_JOURNEYS] == 2 and d[I.FL_JOURNEY_WEEKS_SUM] == 2 * (12 - 8)
    assert fam.help_start[a] == 12 and fam.help_start[b] == 12 and fam.help_start[c] == -1
    T.apply_move(fam, work, las, op, a, T.GO_CLOSE, 20, due_weeks(p))
    assert (fam.state[a], fam.worker[a], fam.last_closed[a], fam.episode_start[a]) == (S.NONE, -1, 20, -1)
    assert work.caseload[0] == load0 - 1
    assert las.flow[0, I.FL_CLOSURES] - flow0[0, I.FL_CLOSURES] == 1
    n = op.n[0]
    assert a not in op.idx[:n].tolist() and b in op.idx[:n].tolist()
    assert (recount_stocks(fam, len(las.children), S.N_STATES) == las.stock_fam).all()
