"""Workload and time: allocation of cases, and each worker's week (brief mechanism 3,
§1.23-1.24, §2.24-2.25).

Time is the scarce resource. Each case needs direct-work hours by stage, and recording
hours = direct hours x recording_ratio x the prescription in force. Every open case without
a worker in post is allocated to the least-loaded worker of its LA (:func:`allocate`), which
also sums each post's demand for hours. When demand exceeds the hours a worker has, the
regime's rule decides what gives (:func:`time_use`, switch ``mech_workload_squeeze``): under
compliance recording (and so deadlines) comes first and direct work is squeezed; under
judgment direct work is protected and recording (and so deadlines) slips. Spare hours go
partly to more direct work, as scope allows. Satisfaction and stress follow the week
(the ripple effect, ``abm.mechanisms.ripple``, reads them), and so does each worker's
judgment accuracy (``taylor_russell.worker_sigma``). Stress has two sources: hours
demanded beyond the hours a worker has, and the strain of the LA's cover gap (posts vacant
or held by agency staff, :func:`cover_gap`: the cases, hand-overs and changes of worker the
stayers absorb), weighted by ``ripple_gain``: the loop vacancies -> stress -> quits ->
vacancies (App2 ¶14; 0 cuts it). :func:`record_workforce` sums the
week's workforce record.
"""

import numpy as np
from numba import njit

from abm.core import indicators as I
from abm.core.kernels import PREFETCH_AHEAD, prefetch
from abm.core.mechanism import Mechanism
from abm.core.params import param_record
from abm.core.state import AGENCY, CA, CARE, CIN, COURT, CPP, EARLY_HELP, IA, PERMANENT, VACANT
from abm.mechanisms.taylor_russell import worker_sigma

#: The parameters of allocation and time use.
WorkloadParams = param_record("WorkloadParams", """
    direct_hours_assessment direct_hours_cin direct_hours_cpp direct_hours_court
    recording_ratio worker_hours other_hours mech_workload_squeeze compliance_priority
    judgment_min_recording_share spare_time_direct_share satisfaction_adapt_weeks
    satisfaction_direct_weight satisfaction_scope_weight direct_share_norm
    worker_sigma_base sigma_inexperience experience_scale_years sigma_low_scope
    sigma_low_supervision supervision_quality ripple_gain""")


@njit(cache=True, inline="always")
def case_direct_demand(state, p):
    """Direct-work hours per week a case needs in this caseflow state."""
    if state == IA or state == CA:
        return p.direct_hours_assessment
    if state == CIN or state == CARE:
        return p.direct_hours_cin
    if state == CPP:
        return p.direct_hours_cpp
    if state == COURT:
        return p.direct_hours_court
    return 0.0


@njit(cache=True)
def allocate(fam, work, las, open_list, p, drv, t, D, R):
    """Allocate every social-care case without a worker in post to the least-loaded worker
    in its LA, and count the children whose social worker changed this week.

    Once a case's worker is settled it adds the hours the case needs this week to its
    worker's demand: direct hours to ``D[w]`` and recording hours to ``R[w]``, for
    :func:`time_use`. (Summing them here spares a second pass over the open cases, each at
    a scattered row of the family table.) A case left without a worker counts an
    unallocated case-week."""
    D[:] = 0.0
    R[:] = 0.0
    rec_mult = p.recording_ratio * drv.prescription  # the prescription in force
    n_open = open_list.n[0]
    for k in range(n_open):
        if k + PREFETCH_AHEAD < n_open:
            prefetch(fam.state, open_list.idx[k + PREFETCH_AHEAD])
        i = open_list.idx[k]
        s = fam.state[i]
        if s == EARLY_HELP:
            continue
        w = fam.worker[i]
        la = fam.la[i]
        if w >= 0 and work.status[w] != VACANT:
            # a new person took this post at the end of last week (turnover runs after
            # allocation): the child has a new social worker
            if work.changed[w] == t - 1:
                fam.n_worker_changes[i] += 1
                las.flow[la, I.FL_WORKER_CHANGES] += 1
        else:
            best = -1
            best_load = 1 << 30
            for w2 in range(las.worker_start[la], las.worker_end[la]):
                if work.status[w2] != VACANT and work.caseload[w2] < best_load:
                    best = w2
                    best_load = work.caseload[w2]
            if w >= 0:
                work.caseload[w] -= 1
                fam.worker[i] = -1
            if best >= 0:
                if w >= 0:
                    fam.n_worker_changes[i] += 1
                    las.flow[la, I.FL_WORKER_CHANGES] += 1
                fam.worker[i] = best
                work.caseload[best] += 1
            w = best
        if w < 0:
            las.flow[la, I.FL_UNALLOCATED_CASE_WEEKS] += 1
            continue
        d = case_direct_demand(s, p)
        D[w] += d
        R[w] += d * rec_mult


@njit(cache=True)
def cover_gap(work):
    """Per LA, the share of its posts without a permanent holder: vacant, or covered by an
    agency worker (the workforce surveys' vacancy rate)."""
    n_la = 0
    for w in range(work.la.shape[0]):
        n_la = max(n_la, work.la[w] + 1)
    posts = np.zeros(n_la)
    gap = np.zeros(n_la)
    for w in range(work.la.shape[0]):
        posts[work.la[w]] += 1.0
        if work.status[w] != PERMANENT:
            gap[work.la[w]] += 1.0
    for la in range(n_la):
        if posts[la] > 0:
            gap[la] /= posts[la]
    return gap


@njit(cache=True)
def time_use(work, p, drv, D, R):
    """Split each worker's hours between direct work and recording, given the week's demand
    for each (``D``, ``R``: summed over its cases by :func:`allocate`); update satisfaction,
    stress and judgment accuracy. Returns nothing; writes the Workers table.

    Stress follows overload (demanded hours beyond those available) plus ``ripple_gain``
    times the LA's cover gap (:func:`cover_gap`)."""
    nw = work.la.shape[0]
    gap = cover_gap(work)
    avail = max(0.0, p.worker_hours - p.other_hours)
    alpha = 1.0 / p.satisfaction_adapt_weeks
    for w in range(nw):
        if work.status[w] == VACANT:
            work.direct_hours[w] = 0.0
            work.record_hours[w] = 0.0
            work.demand_hours[w] = 0.0
            continue
        if not p.mech_workload_squeeze:
            dg, rg = D[w], R[w]
        elif p.compliance_priority:
            rg = min(R[w], avail)
            dg = min(D[w], avail - rg)
        else:
            dg = min(D[w], avail * (1.0 - p.judgment_min_recording_share))
            rg = min(R[w], avail - dg)
        # judgment space: spare hours go partly to extra direct work with families
        spare = max(0.0, avail - dg - rg)
        if D[w] > 0 and dg >= D[w]:
            dg += spare * drv.scope_for_judgment * p.spare_time_direct_share
        work.direct_ratio[w] = dg / D[w] if D[w] > 0 else 1.0
        work.record_ratio[w] = rg / R[w] if R[w] > 0 else 1.0
        work.direct_hours[w] = dg
        work.record_hours[w] = rg
        work.demand_hours[w] = D[w] + R[w]
        pressure = (D[w] + R[w]) / avail if avail > 0 else 10.0
        stress_target = max(0.0, pressure - 1.0) + p.ripple_gain * gap[work.la[w]]
        ds = dg / (dg + rg) if dg + rg > 0 else p.direct_share_norm
        sat_target = (p.satisfaction_direct_weight * (ds - p.direct_share_norm)
                      + p.satisfaction_scope_weight * (drv.scope_for_judgment - 0.5)
                      - stress_target)
        work.satisfaction[w] += alpha * (sat_target - work.satisfaction[w])
        work.stress[w] += alpha * (stress_target - work.stress[w])
        work.sigma[w] = worker_sigma(work.experience[w], p, drv.scope_for_judgment)


@njit(cache=True)
def record_workforce(work, avail, agency_cost_ratio, weekly_cost, worker_hours, out,
                     caseload_hist, experience_hist):
    """The week's workforce record: per LA (``out[la, W_*]``, the registry's workforce series) the posts,
    permanent, agency and vacant posts, and the filled posts' caseload, hours, experience,
    satisfaction, stress, cost and contracted hours; and the filled posts' caseload and
    experience histograms (the last bin holds everything above it). Sums in post order."""
    out[:] = 0.0
    caseload_hist[:] = 0
    experience_hist[:] = 0
    nc, ne = caseload_hist.shape[0], experience_hist.shape[0]
    for w in range(work.la.shape[0]):
        la = work.la[w]
        st = work.status[w]
        f = 0.0 if st == VACANT else 1.0
        out[la, I.W_POSTS] += 1.0
        out[la, I.W_PERMANENT] += 1.0 if st == PERMANENT else 0.0
        out[la, I.W_AGENCY] += 1.0 if st == AGENCY else 0.0
        out[la, I.W_VACANT] += 1.0 - f
        out[la, I.W_CASELOAD] += work.caseload[w] * f
        out[la, I.W_DIRECT_HOURS] += work.direct_hours[w]
        out[la, I.W_RECORD_HOURS] += work.record_hours[w]
        out[la, I.W_DEMAND_HOURS] += work.demand_hours[w]
        out[la, I.W_AVAILABLE_HOURS] += f * avail
        out[la, I.W_EXPERIENCE_SUM] += work.experience[w] * f
        out[la, I.W_SATISFACTION_SUM] += work.satisfaction[w] * f
        out[la, I.W_STRESS_SUM] += work.stress[w] * f
        out[la, I.W_COST] += (agency_cost_ratio if st == AGENCY else 1.0) * f * weekly_cost
        out[la, I.W_CONTRACTED_HOURS] += f * worker_hours
        if st != VACANT:
            caseload_hist[min(work.caseload[w], nc - 1)] += 1
            experience_hist[min(int(work.experience[w]), ne - 1)] += 1


class Workload(Mechanism):
    """Allocation, then each worker's hours (steps 3 and 4 of the week)."""

    name = "workload"
    Params = WorkloadParams

    def __init__(self, model):
        # each post's demand for direct and recording hours this week (allocate -> time_use)
        self.demand = np.zeros((2, len(model.work.la)))
        super().__init__(model)

    def step(self, d) -> None:
        m = self.model
        D, R = self.demand
        self.call(allocate, m.fam, m.work, m.las, m.open, self.p, d, m._t, D, R)
        self.call(time_use, m.work, self.p, d, D, R)
