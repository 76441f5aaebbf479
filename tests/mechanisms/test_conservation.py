"""Conservation: every family is in exactly one caseflow state every week, and every
stock equals its opening stock plus inflows minus outflows, for every state and week."""

import datetime as dt

import numpy as np
from conftest import small

from abm import ChildProtectionModel
from abm.core import indicators as I
from abm.core import state as S
from abm.core.kernels import recount_stocks


def _check_week(m):
    fam, las = m.fam, m.las
    L = len(las.children)
    recount = recount_stocks(fam, L, S.N_STATES)
    assert np.array_equal(recount, las.stock_fam)
    assert recount.sum() == m.n_families
    children = np.zeros((L, S.N_STATES), np.int64)
    np.add.at(children, (fam.la, fam.state), fam.n_children)
    assert np.array_equal(children, las.stock_children)
    assert children.sum() == las.children.sum()
    # the open-case list holds exactly the families not in NONE, each once
    n = m.open.n[0]
    rows = m.open.idx[:n]
    assert len(set(rows.tolist())) == n
    assert set(rows.tolist()) == set(np.flatnonzero(fam.state != S.NONE).tolist())
    assert np.array_equal(fam.open_pos[rows], np.arange(n))
    # early-help places used match families in early help, and never exceed the places
    # (the front door admits a family only while eh_used < eh_places; the places are set
    # by FrontDoor.configure, which the shock's re-configure sets to the same number)
    eh = np.bincount(fam.la[fam.state == S.EARLY_HELP], minlength=L)
    assert np.array_equal(eh, las.eh_used)
    assert (las.eh_used <= las.eh_places).all()
    return int((las.eh_used == las.eh_places).sum())  # LAs whose places are all taken


def test_every_family_in_one_state_every_week():
    m = ChildProtectionModel(small(children=6000, years=1.0, shock=(dt.date(2008, 9, 1), 1.0)),
                             rng=3, agent_views=False)
    places = m.las.eh_places.copy()
    _check_week(m)
    weeks_full = 0
    while m.week < m.calendar.n_weeks:
        m.step()
        weeks_full += _check_week(m)
    assert np.array_equal(m.las.eh_places, places) and places.sum() > 0
    assert weeks_full > 0  # the cap was reached (26 of the 104 weeks), so the bound was tested


def test_stock_flow_identity_every_state_every_week():
    m = ChildProtectionModel(small(children=10000, years=1.5), rng=4, agent_views=False)
    m.run()
    stock, trans = m.record.stock_fam.astype(np.int64), m.record.trans.astype(np.int64)
    # trans[t, la, old, new]: inflow to s sums trans[..., :, s]; outflow sums trans[..., s, :]
    diag = np.einsum("tlss->tls", trans)
    inflow = trans.sum(axis=2) - diag
    outflow = trans.sum(axis=3) - diag
    T = stock.shape[0]
    moved = 0
    for t in range(1, T):
        assert np.array_equal(stock[t], stock[t - 1] + inflow[t] - outflow[t]), f"week {t}"
        moved += int(outflow[t].sum())
    assert moved > 500  # the identity was exercised by real traffic
    # flows in the FLOWS table agree with transitions where they name one
    f = m.record.flow
    assert f[:, :, I.FL_IA_STARTS].sum() == trans[:, :, [S.NONE, S.EARLY_HELP], S.IA].sum()
    assert f[:, :, I.FL_CARE_ORDERS].sum() == trans[:, :, S.COURT, S.CARE].sum()
    assert f[:, :, I.FL_COURT_APPLICATIONS].sum() == trans[:, :, S.CPP, S.COURT].sum()
