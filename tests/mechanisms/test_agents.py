"""Mesa agents are views onto array rows and agree with the arrays."""

import numpy as np
from conftest import small

from abm import ChildProtectionModel, CourtAgent, FamilyAgent, ReferrerAgent, SocialWorkerAgent
from abm.core import indicators as I
from abm.core import state as S


def test_agent_views_agree_with_arrays():
    m = ChildProtectionModel(small(children=8000, years=0.5), rng=5)
    m.run_for(20)
    by = m.agents_by_type
    workers = by[SocialWorkerAgent]
    assert len(workers) == len(m.work.la)
    assert workers.agg("caseload", sum) == int(m.work.caseload.sum())
    assert len(workers.select(lambda a: a.is_vacant)) == int((m.work.status == S.VACANT).sum())
    fams = by[FamilyAgent]
    open_sc = np.isin(m.fam.state, S.SOCIAL_CARE_STATES)
    assert len(fams) == int(open_sc.sum())
    assert sorted(a.row for a in fams) == sorted(np.flatnonzero(open_sc).tolist())
    counts = {k: len(v) for k, v in fams.groupby("state_code").groups.items()}
    for s in S.SOCIAL_CARE_STATES:
        assert counts.get(s, 0) == m.las.stock_fam[:, s].sum()
    assert fams.agg("n_children", sum) == m.children_in_need()
    refs = by[ReferrerAgent]
    assert len(refs) == S.N_REFERRER_TYPES * len(m.las.children)
    assert refs.agg("contacts", sum) == int(m.record.flow[:20, :, I.FL_CONTACTS].sum())
    assert len(by[CourtAgent]) == len(m.courts.slots)
    # a view reads the arrays: change the array, the agent sees it
    a = next(iter(workers))
    m.work.caseload[a.row] += 7
    assert a.caseload == int(m.work.caseload[a.row])
    # model.agents holds every view
    assert len(m.agents) == len(workers) + len(fams) + len(refs) + len(by[CourtAgent])


def test_no_family_objects_at_national_scale():
    m = ChildProtectionModel(small(children=800_000, years=0.1, warmup=2), rng=1)
    assert m.n_families > 400_000
    assert FamilyAgent not in m.agents_by_type
    m.run_for(1)
    assert FamilyAgent not in m.agents_by_type
    assert len(m.agents_by_type[SocialWorkerAgent]) == len(m.work.la)


def test_datacollector_feeds_model_outputs():
    m = ChildProtectionModel(small(children=5000, years=0.3), rng=2)
    m.run_for(10)
    df = m.datacollector.get_model_vars_dataframe()
    assert len(df) == 10
    assert df["referrals"].sum() == m.record.flow[:10, :, I.FL_REFERRALS].sum()
    assert df["open_cases"].iloc[-1] == m.children_in_need()
