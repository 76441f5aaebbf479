"""Kernel unit tests, each against behaviour known in advance."""

import math

import numpy as np
import pytest
from conftest import small
from scipy import stats

from abm import ChildProtectionModel
from abm.core import indicators as I
from abm.core import state as S
from abm.core.kernels import geometric_weeks, move, popcount6
from abm.core.params import Drivers, make_params
from abm.core.state import Reservoir
from abm.mechanisms.frontdoor import FrontDoorParams, contacts_and_referrals, referrer_type
from abm.mechanisms.population import FamilyParams, advance_risk, harm_events
from abm.mechanisms.taylor_russell import decision_log, judge, score_decisions
from abm.mechanisms.workload import WorkloadParams, allocate, cover_gap, time_use


def _drivers(p, **changes):
    """Drivers with no anxiety and the regime's prescription and scope in force."""
    return Drivers(anxiety=0.0, threshold_shift=0.0, contact_gain=1.0,
                   prescription=p.prescription, scope_for_judgment=p.scope_for_judgment,
                   status_level=0.0, court_shift=0.0)._replace(**changes)


def _res(n=64):
    return Reservoir(np.zeros((S.N_DECISIONS, n), np.float32), np.zeros((S.N_DECISIONS, n), np.float32),
                     np.zeros((S.N_DECISIONS, n), np.float32), np.zeros((S.N_DECISIONS, n), np.int32),
                     np.zeros(S.N_DECISIONS, np.int64),
                     np.zeros((S.N_DECISIONS, 2, S.SCORE_BINS), np.int64))


def test_lazy_risk_is_the_exact_ou_transition():
    """Advancing 26 weeks in one jump has the analytic OU mean and variance, and the same
    distribution as 26 one-week steps."""
    p = make_params({"risk_reversion": 0.05, "risk_volatility": 0.3})
    n = 20000
    fam_a = S.empty_families(n)
    fam_a.base[:] = 1.0
    fam_a.risk[:] = 3.0
    fam_b = S.empty_families(n)
    fam_b.base[:] = 1.0
    fam_b.risk[:] = 3.0
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(2)
    for i in range(n):
        advance_risk(fam_a, i, 26, p.risk_reversion, p.risk_volatility, rng_a)
        for t in range(1, 27):
            advance_risk(fam_b, i, t, p.risk_reversion, p.risk_volatility, rng_b)
    decay = math.exp(-0.05 * 26)
    mean = 1.0 + 2.0 * decay
    var = 0.3**2 * (1 - decay**2) / (2 * 0.05)
    za = fam_a.risk.astype(float)
    assert abs(za.mean() - mean) < 4 * math.sqrt(var / n)
    assert abs(za.var() / var - 1) < 0.05
    assert stats.ks_2samp(za, fam_b.risk.astype(float)).pvalue > 0.001
    assert (fam_a.risk_t == 26).all()
    # no time passed: no change and no draw
    before = fam_a.risk.copy()
    advance_risk(fam_a, 0, 26, p.risk_reversion, p.risk_volatility, rng_a)
    assert fam_a.risk[0] == before[0]


def _decide(truth, sigma, thr, cut, rng, counts, kind, res, la=0):
    """Judge each true risk in turn, then score the log, as the kernels do."""
    log = decision_log(len(truth))
    out = [judge(z, sigma, thr, rng, log, n, kind, la) for n, z in enumerate(truth)]
    score_decisions(log, len(truth), cut, counts, res, 0)
    return out


def test_judge_and_score_decisions_score_the_error_matrix():
    cut = 2.0
    counts = np.zeros((1, S.N_DECISIONS, 4), np.int64)
    res = _res()
    rng = np.random.default_rng(0)
    truth = np.array([1.0, 1.5, 2.5, 3.0, 1.9, 2.1])
    thr = 1.7
    # sigma ~ 0: the decision is the truth against the threshold
    out = _decide(truth, 1e-9, thr, cut, rng, counts, S.D_SCREEN, res)
    assert [pos for pos, _ in out] == [z > thr for z in truth]
    tp, fp, tn, fn = counts[0, S.D_SCREEN]
    assert (tp, fp, tn, fn) == (3, 1, 2, 0)  # 1.9 is above thr but below cut: a false positive
    assert res.count[S.D_SCREEN] == 6
    assert counts[0, S.D_IA].sum() == 0
    # the reservoir keeps them in the order made, with the score each was judged on
    assert res.true_risk[S.D_SCREEN, :6] == pytest.approx(truth)
    assert res.score[S.D_SCREEN, :6] == pytest.approx([sc for _, sc in out])


def test_judge_draws_one_normal_and_logs_the_decision():
    log = decision_log(3)
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    pos, score = judge(1.0, 0.5, 1.2, a, log, 1, S.D_CA, 3)
    assert score == 1.0 + 0.5 * b.normal() and pos == (score > 1.2)
    assert a.random() == b.random()  # one draw, no more
    assert log[1].tolist() == [S.D_CA, 3, 1.0, score, 1.2]


def _errors(sigma, thr, seed=7, n=40000):
    counts = np.zeros((1, S.N_DECISIONS, 4), np.int64)
    rng_truth = np.random.default_rng(seed)
    rng = np.random.default_rng(seed + 1)
    z = rng_truth.normal(0, 1, n)
    _decide(z, sigma, thr, 1.5, rng, counts, S.D_IA, _RES)
    return counts[0, S.D_IA]


_RES = _res()


def test_taylor_russell_threshold_trades_errors_and_accuracy_reduces_both():
    lo = _errors(0.8, 1.0)
    hi = _errors(0.8, 2.0)
    assert lo[S.FP] > hi[S.FP] and lo[S.FN] < hi[S.FN]
    good = _errors(0.3, 1.5)
    poor = _errors(0.9, 1.5)
    assert good[S.FP] < poor[S.FP] and good[S.FN] < poor[S.FN]


def test_move_keeps_stocks_transitions_and_open_list():
    m = ChildProtectionModel(small(children=2000, years=0.2, warmup=0), rng=1, agent_views=False)
    fam, las, op = m.fam, m.las, m.open
    rng = np.random.default_rng(5)
    for step in range(3000):
        i = int(rng.integers(0, m.n_families))
        move(fam, las, op, i, int(rng.integers(0, S.N_STATES)), step)
    n = op.n[0]
    assert set(op.idx[:n].tolist()) == set(np.flatnonzero(fam.state != S.NONE).tolist())
    assert np.array_equal(np.bincount(fam.state, minlength=S.N_STATES), las.stock_fam[0])
    assert las.trans.sum() == 3000


def test_geometric_weeks_has_the_given_mean_and_at_least_one_week():
    rng = np.random.default_rng(3)
    x = np.array([geometric_weeks(16.0, rng) for _ in range(20000)])
    assert x.min() >= 1
    assert abs(x.mean() - 16.0) < 0.3
    assert geometric_weeks(0.5, rng) == 1


def test_referrer_type_follows_shares_and_popcount():
    p = make_params({"police_share": 0.1, "schools_share": 0.2, "health_share": 0.3,
                     "early_years_share": 0.1})
    u = np.random.default_rng(1).random(50000)
    fp = FrontDoorParams.of(p)
    kinds = np.array([referrer_type(x, fp) for x in u])
    share = np.bincount(kinds, minlength=5) / len(kinds)
    assert np.allclose(share, [0.1, 0.2, 0.3, 0.1, 0.3], atol=0.01)
    assert popcount6(0b101101) == 4 and popcount6(0) == 0


def _workload_model(**ov):
    m = ChildProtectionModel(small(children=4000, years=0.2, warmup=0, **ov), rng=2,
                             agent_views=False)
    # put 30 CP-plan cases on worker 0 and 1 case on worker 1
    fam, work = m.fam, m.work
    for k in range(31):
        move(fam, m.las, m.open, k, S.CPP, 0)
        fam.worker[k] = 0 if k < 30 else 1
    work.caseload[0], work.caseload[1] = 30, 1
    return m


def _allocate_and_use_time(m, t):
    """The model's steps 3 and 4: allocation sums each post's demand, time use splits it."""
    D, R = np.zeros(len(m.work.la)), np.zeros(len(m.work.la))
    wp, drv = WorkloadParams.of(m.p), _drivers(m.p)
    allocate(m.fam, m.work, m.las, m.open, wp, drv, t, D, R)
    time_use(m.work, wp, drv, D, R)
    return D, R


@pytest.mark.parametrize("compliance", [True, False])
def test_time_use_conserves_hours_and_honours_squeeze_rule(compliance):
    m = _workload_model(compliance_priority=compliance, prescription=1.5)
    p = m.p
    _allocate_and_use_time(m, 1)
    w = m.work
    avail = p.worker_hours - p.other_hours
    D = 30 * p.direct_hours_cpp
    R = D * p.recording_ratio * p.prescription
    assert D + R > avail  # worker 0 is overloaded
    assert w.direct_hours[0] + w.record_hours[0] <= avail + 1e-9
    if compliance:  # recording first; direct work gets what is left
        assert w.record_hours[0] == pytest.approx(min(R, avail))
        assert w.direct_hours[0] == pytest.approx(avail - min(R, avail))
    else:  # direct work protected (up to the share kept for recording)
        assert w.direct_hours[0] == pytest.approx(min(D, avail * (1 - p.judgment_min_recording_share)))
        assert w.record_hours[0] == pytest.approx(avail - w.direct_hours[0])
    # worker 1 is not overloaded: its one case gets all it needs, and the judgment space
    # rule turns a scope-sized share of the spare hours into extra direct work
    d1 = p.direct_hours_cpp
    spare = avail - d1 - d1 * p.recording_ratio * p.prescription
    assert w.record_ratio[1] == 1.0
    assert w.direct_hours[1] == pytest.approx(d1 + spare * p.scope_for_judgment * p.spare_time_direct_share)
    assert w.direct_hours[0] + w.record_hours[0] <= avail + 1e-9
    assert (w.direct_hours >= 0).all() and (w.record_hours >= 0).all()


def test_time_use_without_squeeze_gives_every_case_its_time():
    m = _workload_model(mech_workload_squeeze=False)
    _allocate_and_use_time(m, 1)
    assert m.work.direct_ratio[0] == 1.0 and m.work.record_ratio[0] == 1.0


def test_cover_gap_strains_every_worker_in_post_by_the_ripple_gain():
    """The ripple loop: each worker's stress target rises by ripple_gain x the share of its
    LA's posts vacant or agency-held; with the gain at 0 the gap strains nobody."""
    stress = {}
    for gain in (0.0, 0.8):
        m = _workload_model(ripple_gain=gain)  # worker 0 overloaded, the others idle
        work = m.work
        n = len(work.la)
        work.status[1], work.status[2] = S.VACANT, S.AGENCY
        gap = cover_gap(work)
        assert gap.shape == (1,) and gap[0] == pytest.approx(2 / n)
        work.stress[:] = 0.0
        _allocate_and_use_time(m, 1)
        stress[gain] = work.stress.copy()
    alpha = 1.0 / m.p.satisfaction_adapt_weeks
    idle = 3  # no cases: no overload, so its stress is the gap's strain alone
    assert stress[0.0][idle] == 0.0
    assert stress[0.8][idle] == pytest.approx(alpha * 0.8 * 2 / n, rel=1e-5)
    # the overloaded worker carries the same strain on top of its overload
    assert stress[0.8][0] - stress[0.0][0] == pytest.approx(alpha * 0.8 * 2 / n, rel=1e-4)


def test_allocate_least_loaded_and_counts_changes_after_a_vacancy():
    m = _workload_model()  # worker 0 has 30 cases, worker 1 has 1, the rest none
    fam, work = m.fam, m.work
    move(fam, m.las, m.open, 100, S.IA, 0)  # a new, unallocated case
    _allocate_and_use_time(m, 1)
    assert fam.worker[100] == 2  # the first of the least-loaded workers
    work.status[0] = S.VACANT  # worker 0 leaves: all 30 cases must move and count a change
    before = m.las.flow[:, I.FL_WORKER_CHANGES].sum()
    _allocate_and_use_time(m, 2)
    assert (fam.worker[:30] != 0).all() and (fam.worker[:30] >= 0).all()
    assert m.las.flow[:, I.FL_WORKER_CHANGES].sum() - before == 30
    assert work.caseload[0] == 0
    loads = work.caseload[work.status != S.VACANT]
    assert loads.max() - loads.min() <= 1  # allocation with attention to caseload
    open_rows = m.open.idx[: m.open.n[0]]
    active = fam.worker[open_rows]
    assert np.array_equal(np.bincount(active[active >= 0], minlength=len(work.la)), work.caseload)


def test_harm_thinning_matches_the_hazard():
    """With risk frozen, harm events per week are Poisson with mean sum_i h(z_i)."""
    sc = small(children=30000, years=0.2, warmup=0, risk_volatility=0.0,
               harm_hazard_base=2e-5, harm_hazard_slope=1.0)
    m = ChildProtectionModel(sc, rng=9, agent_views=False)
    p = m.p
    expected = (p.harm_hazard_base * np.exp(p.harm_hazard_slope * m.fam.risk.astype(float))).sum()
    rng, rng_r = np.random.default_rng(1), np.random.default_rng(2)
    forced = np.zeros(10000, np.int64)
    weeks = 300
    fp = FamilyParams.of(p)
    total = sum(harm_events(m.fam, m.las, fp, t, rng, rng_r, forced)[0] for t in range(1, weeks + 1))
    assert abs(total - expected * weeks) < 4 * math.sqrt(expected * weeks)


def test_contact_thinning_matches_the_rate():
    sc = small(children=20000, years=0.2, warmup=0, risk_volatility=0.0, referrer_threshold=6.0,
               police_pass_all=0.0, mech_early_help=False)
    m = ChildProtectionModel(sc, rng=9, agent_views=False)
    p = m.p
    expected = (p.contact_rate * np.exp(p.contact_risk_slope * m.fam.risk.astype(float))).sum()
    rngs = [np.random.default_rng(k) for k in range(4)]
    weeks = 100
    for t in range(1, weeks + 1):
        contacts_and_referrals(m.fam, m.las, m.open, FrontDoorParams.of(p), _drivers(p), t,
                               *rngs, _res(), False, np.zeros(1, np.int64), 0)
    got = m.las.flow[0, I.FL_CONTACTS]
    assert abs(got - expected * weeks) < 4 * math.sqrt(expected * weeks)


def test_allocate_sums_each_posts_demand_and_counts_cases_left_unallocated():
    m = _workload_model()  # worker 0 has 30 CP plans, worker 1 has 1
    p = m.p
    D, R = _allocate_and_use_time(m, 1)
    assert D[0] == pytest.approx(30 * p.direct_hours_cpp)
    assert R[0] == pytest.approx(D[0] * p.recording_ratio * p.prescription)
    assert D[1] == pytest.approx(p.direct_hours_cpp) and (D[2:] == 0).all()
    # every post vacant: nobody can take the cases, which count unallocated weeks, no demand
    m.work.status[:] = S.VACANT
    before = m.las.flow[:, I.FL_UNALLOCATED_CASE_WEEKS].sum()
    D, R = _allocate_and_use_time(m, 2)
    assert (D == 0).all() and (R == 0).all()
    assert m.las.flow[:, I.FL_UNALLOCATED_CASE_WEEKS].sum() - before == 31
    assert (m.fam.worker[:31] == -1).all() and (m.work.caseload == 0).all()
