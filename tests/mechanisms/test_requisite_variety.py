"""Requisite variety and the help a case gets (ODD 7.12): the response's match to the
family's needs, and the week's risk reduction help_efficacy x match x dose."""

import numpy as np
import pytest
from conftest import small

from abm import ChildProtectionModel
from abm.core import state as S
from abm.core.kernels import move
from abm.core.params import make_params
from abm.mechanisms.casework import CaseworkParams, casework
from abm.mechanisms.requisite_variety import response_match


def _record(service_range, on=True):
    return CaseworkParams.of(make_params())._replace(service_range=float(service_range),
                                                      mech_requisite_variety=on)


# match = min(1, service_range x (0.4 + 0.6 scope) / k), k the number of need domains (bits
# set in the 6-bit mask); 1 with no needs, and 1 with the switch off. Worked by hand:
KNOWN = [
    # needs,     range, scope, match
    (0b000000,   1.0,   0.0,   1.0),          # no needs: nothing to miss
    (0b000001,   1.0,   0.0,   0.4),          # variety 0.4, k = 1
    (0b000001,   2.0,   0.5,   1.0),          # variety 1.4 >= k = 1: capped at 1
    (0b000011,   2.0,   0.5,   0.7),          # 1.4 / 2
    (0b100101,   2.0,   0.5,   1.4 / 3),      # k counts the bits, wherever they are
    (0b111111,   2.0,   0.5,   1.4 / 6),
    (0b101010,   1.0,   0.0,   0.4 / 3),      # "one size fits all": least help
    (0b111111,   6.0,   0.0,   0.4),          # 2.4 / 6
    (0b111111,   6.0,   1.0,   1.0),          # variety 6 = k: exactly full
    (0b110000,   3.0,   0.25,  0.825),        # 3 x 0.55 / 2 = 0.825
    (0b011110,   3.0,   0.25,  1.65 / 4),
]


@pytest.mark.parametrize("kernel", ["python", "compiled"])
def test_response_match_is_the_documented_formula(kernel):
    f = response_match.py_func if kernel == "python" else response_match
    for needs, rng, scope, match in KNOWN:
        assert f(needs, _record(rng), scope) == pytest.approx(match, abs=1e-12), (needs, rng, scope)
    # the switch off: every response matches fully, however narrow
    for needs, rng, scope, _ in KNOWN:
        assert f(needs, _record(rng, on=False), scope) == 1.0
    # more needs never help more; more scope and a wider range never help less
    for scope in (0.0, 0.5, 1.0):
        by_k = [f((1 << k) - 1, _record(2.0), scope) for k in range(7)]
        assert all(a >= b for a, b in zip(by_k, by_k[1:], strict=False)) and by_k[-1] < by_k[0]
    assert f(0b111, _record(2.0), 0.2) < f(0b111, _record(2.0), 0.8) < f(0b111, _record(4.0), 0.8)


def _warm_model():
    m = ChildProtectionModel(small(children=8000, years=0.2, warmup=52), rng=5, agent_views=False)
    while m.week < 0:  # the warm-up: open cases in every helped state
        m.step()
    return m


def test_each_week_help_lowers_risk_by_efficacy_times_match_times_dose():
    """One week of casework on two identical models, with the same random numbers, one with
    help and one without (help_efficacy 0): the difference in each family's risk is its
    help, which the test works out from the state before the week by ODD 7.12."""
    H, RANGE, SCOPE, EH_FACTOR = 0.05, 2.0, 0.5, 0.6
    helped_m, unhelped_m = _warm_model(), _warm_model()
    rows = helped_m.open.idx[:helped_m.open.n[0]].copy()
    assert np.array_equal(rows, unhelped_m.open.idx[:unhelped_m.open.n[0]])
    # hand-set the state the help depends on: the workers' direct-time ratios span 0 to 2
    # (the dose is capped at 1.5); one child-in-need case has lost its worker (dose 0); one
    # child-in-need case is in care now
    cin = rows[helped_m.fam.state[rows] == S.CIN]
    no_worker, in_care = int(cin[0]), int(cin[1])
    before = {}
    for m in (helped_m, unhelped_m):
        m.work.direct_ratio[:] = np.linspace(0.0, 2.0, len(m.work.direct_ratio), dtype=np.float32)
        m.fam.worker[no_worker] = -1
        move(m.fam, m.las, m.open, in_care, S.CARE, m._t - 1)
        before = dict(state=m.fam.state[rows].copy(), needs=m.fam.needs[rows].copy(),
                      worker=m.fam.worker[rows].copy(), risk=m.fam.risk.copy())
    for m, h in ((helped_m, H), (unhelped_m, 0.0)):
        p = CaseworkParams.of(m.p)._replace(help_efficacy=h, service_range=RANGE,
                                            early_help_efficacy_factor=EH_FACTOR)
        d = m.drivers._replace(scope_for_judgment=SCOPE)
        casework(m.fam, m.work, m.las, m.open, p, d, m._t, np.random.default_rng(1),
                 np.random.default_rng(2), m.res, False, np.zeros(64, np.int64))
    help_ = unhelped_m.fam.risk[rows].astype(float) - helped_m.fam.risk[rows].astype(float)

    state, needs, worker = before["state"], before["needs"], before["worker"]
    k = np.array([bin(int(x)).count("1") for x in needs])
    variety = RANGE * (0.4 + 0.6 * SCOPE)
    match = np.where(k == 0, 1.0, np.minimum(1.0, variety / np.maximum(k, 1)))
    ratio = np.where(worker >= 0, helped_m.work.direct_ratio[np.maximum(worker, 0)], 0.0)
    dose = np.where(state == S.EARLY_HELP, EH_FACTOR, np.minimum(1.5, ratio))
    gets_help = np.isin(state, (S.CIN, S.CPP, S.CARE, S.EARLY_HELP))
    expect = np.where(gets_help, H * match * dose, 0.0)
    assert help_ == pytest.approx(expect, abs=1e-6)  # risk is stored in float32
    # every branch was exercised: each helped state, no help in assessments, the match
    # below 1 and at its cap, the dose at its cap, below 1 and 0 without a worker
    for s in (S.EARLY_HELP, S.CIN, S.CPP, S.CARE, S.IA):
        assert (state == s).any(), s
    assert (help_[~gets_help] == 0).all()
    assert (gets_help & (match < 1)).any() and (gets_help & (match == 1) & (k > 0)).any()
    social = gets_help & (state != S.EARLY_HELP)
    assert (social & (ratio > 1.5)).any() and (social & (ratio > 0) & (ratio < 1)).any()
    j = np.flatnonzero(rows == no_worker)[0]
    assert help_[j] == 0.0 and expect[j] == 0.0
    assert (help_[gets_help & (dose > 0)] > 0).all()
    # families without an open case are not touched
    closed = np.setdiff1d(np.arange(helped_m.n_families), rows)
    assert np.array_equal(helped_m.fam.risk[closed], unhelped_m.fam.risk[closed])
    assert np.array_equal(helped_m.fam.risk[closed], before["risk"][closed])
