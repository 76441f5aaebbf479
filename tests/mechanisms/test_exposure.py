"""The exposure harm comes from: casework counts the open cases exactly, and
abm.mechanisms.population.harm_exposure estimates the families with no open case from a
sample of each risk bin. Checked against an exact count: after a run, every idle family's
risk is brought to the last week with the exact Ornstein-Uhlenbeck transition (a fresh
stream), and the kernel's estimate of that same population, repeated, must centre on the
exact count (it is unbiased)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import small

from abm import ChildProtectionModel
from abm.core import indicators as I
from abm.core import state as S
from abm.mechanisms.population import harm_exposure

PROTECTIVE = (S.CPP, S.COURT, S.CARE)


def _realise_and_count(m, t, seed):
    """Bring every family's risk to week t (the exact transition) and count the week's
    exposure family by family: (idle families above the cut, protected below it)."""
    fam, p, n = m.fam, m.p, m.n_families
    dt = (t - fam.risk_t[:n]).astype(float)
    theta, vol = p.risk_reversion, p.risk_volatility
    decay = np.exp(-theta * dt)
    sd = vol * np.sqrt((1 - decay ** 2) / (2 * theta))
    base = fam.base[:n].astype(float)
    z = base + (fam.risk[:n] - base) * decay + sd * np.random.default_rng(seed).normal(size=n)
    state = fam.state[:n]
    is_open = np.isin(state, (S.EARLY_HELP, *S.SOCIAL_CARE_STATES))
    assert np.all(dt[is_open] == 0)  # casework advanced every open case in the last week
    fam.risk[:n] = np.where(dt > 0, z, fam.risk[:n])
    fam.risk_t[:n] = t
    protective = np.isin(state, PROTECTIVE)
    above = fam.risk[:n] > p.significant_harm_cut
    nc = fam.n_children[:n].astype(np.int64)
    return int(nc[above & (state == S.NONE)].sum()), int(nc[protective & ~above].sum())


@pytest.mark.parametrize("seed", [3, 11])
def test_exposure_is_an_unbiased_estimate_of_an_exact_count(seed):
    m = ChildProtectionModel(small(children=20000, years=1.0), rng=seed, agent_views=False)
    m.run()
    series = m.record.flow[: m.weeks_recorded, :, I.FL_UNPROTECTED_HARM_WEEKS].sum(axis=1)
    t = m._t - 1  # the week the last record was counted in
    exact_idle, exact_unnecessary = _realise_and_count(m, t, seed + 1000)
    assert exact_idle > 100
    # casework counted the open cases in the state the week began in: the last week's count
    # of protected children below the cut is the final state's, but for the week's moves
    last = m.record.flow[m.weeks_recorded - 1].sum(axis=0)
    assert exact_unnecessary > 0
    assert abs(last[I.FL_UNNECESSARY_INTERVENTION_WEEKS] - exact_unnecessary) <= (
        0.15 * exact_unnecessary + 3)
    # the kernel's estimate, repeated on the realised population, centres on the exact count
    mech = m.mechanisms["exposure"]
    rng = np.random.default_rng(seed + 2000)
    est = []
    for _ in range(300):
        m.las.flow[...] = 0
        harm_exposure(m.fam, m.las, mech.p, t, rng)
        assert m.las.flow[:, I.FL_UNNECESSARY_INTERVENTION_WEEKS].sum() == 0
        est.append(m.las.flow[:, I.FL_UNPROTECTED_HARM_WEEKS].sum())
    est = np.array(est, float)
    se = est.std(ddof=1) / math.sqrt(len(est))
    assert abs(est.mean() - exact_idle) < 4 * se + 1
    assert est.std() < 0.5 * exact_idle  # a usable weekly estimate
    # exposure dwarfs the events it leads to, and it is counted every week
    year = m.record.flow[: m.weeks_recorded].sum(axis=(0, 1))
    assert year[I.FL_UNPROTECTED_HARM_WEEKS] > 1000 * max(1, year[I.FL_HARM_MISSED])
    assert np.all(series > 0)
