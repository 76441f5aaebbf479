"""Social workers: time use, satisfaction and stress, turnover, agency cover, recruitment,
and allocation of cases (brief mechanisms 3 and 5; issue: workforce).

Time is the scarce resource (§1.23-1.24, §2.24-2.25). Each case needs direct-work hours
by stage, and recording hours = direct hours x recording_ratio x prescription. When demand
exceeds the hours a worker has, the regime's rule decides what gives: under compliance
recording (and so deadlines) comes first and direct work is squeezed; under judgment direct
work is protected and recording (and so deadlines) slips.

Ripple effect (App2 ¶14-15): less direct work and less scope lower satisfaction; pressure
raises stress; both raise the quit hazard; leavers are replaced after a recruitment lag
that lengthens as the profession's status falls, often by newly qualified staff; agency
workers cover some vacancies, at higher cost, with shorter stays. Better-paying LAs
recruit faster.
"""

import math

from numba import njit

from abm.core import indicators as I
from abm.core.kernels import PREFETCH_AHEAD, geometric_weeks, prefetch
from abm.core.state import (
    AGENCY,
    CA,
    CARE,
    CIN,
    COURT,
    CPP,
    EARLY_HELP,
    IA,
    PERMANENT,
    VACANT,
)


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


@njit(cache=True, inline="always")
def worker_sigma(experience, p):
    """Noise of a worker's risk estimates before the per-case direct-time factor."""
    return (p.worker_sigma_base
            * (1.0 + p.sigma_inexperience * math.exp(-experience / p.experience_scale_years))
            * (1.0 + p.sigma_low_scope * (1.0 - p.scope_for_judgment))
            * (1.0 + p.sigma_low_supervision * (1.0 - p.supervision_quality)))


@njit(cache=True)
def time_use(work, p, D, R):
    """Split each worker's hours between direct work and recording, given the week's demand
    for each (``D``, ``R``: summed over its cases by :func:`allocate`); update satisfaction,
    stress and judgment accuracy. Returns nothing; writes the Workers table."""
    nw = work.la.shape[0]
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
            dg += spare * p.scope_for_judgment * p.spare_time_direct_share
        work.direct_ratio[w] = dg / D[w] if D[w] > 0 else 1.0
        work.record_ratio[w] = rg / R[w] if R[w] > 0 else 1.0
        work.direct_hours[w] = dg
        work.record_hours[w] = rg
        work.demand_hours[w] = D[w] + R[w]
        pressure = (D[w] + R[w]) / avail if avail > 0 else 10.0
        stress_target = max(0.0, pressure - 1.0)
        ds = dg / (dg + rg) if dg + rg > 0 else p.direct_share_norm
        sat_target = (p.satisfaction_direct_weight * (ds - p.direct_share_norm)
                      + p.satisfaction_scope_weight * (p.scope_for_judgment - 0.5)
                      - stress_target)
        work.satisfaction[w] += alpha * (sat_target - work.satisfaction[w])
        work.stress[w] += alpha * (stress_target - work.stress[w])
        work.sigma[w] = worker_sigma(work.experience[w], p)


@njit(cache=True)
def turnover_and_recruitment(work, las, p, t, status_level, rng):
    """Quits, agency cover and recruitment for every post. Draws a fixed number of random
    numbers per post per week so regimes keep common random numbers."""
    nw = work.la.shape[0]
    national = p.recruitment_weeks * math.exp(-p.status_recruit_slope * status_level)
    for w in range(nw):
        la = work.la[w]
        lag = national * math.exp(-p.pay_recruit_slope * las.pay[la])  # local pay
        u_quit = rng.random()
        u_agency = rng.random()
        u_nq = rng.random()
        e_draw = rng.exponential(5.0)
        st = work.status[w]
        if st != VACANT:
            work.experience[w] += 1.0 / 52.0
        if st == PERMANENT and p.mech_turnover:
            h = min(p.quit_hazard_max,
                    p.quit_hazard_base * math.exp(p.quit_stress_slope * work.stress[w]
                                                  - p.quit_satisfaction_slope * work.satisfaction[w]))
            if u_quit < h:
                work.status[w] = VACANT
                las.flow[la, I.FL_LEAVERS] += 1
                work.hire_due[w] = t + geometric_weeks(lag, rng)
                work.agency_due[w] = t + 2 if u_agency < p.agency_fill_share else -1
                continue
        elif st == AGENCY:
            if u_quit < 1.0 / p.agency_stay_weeks:
                work.status[w] = VACANT
                work.agency_due[w] = t + 2 if u_agency < p.agency_fill_share else -1
                if work.hire_due[w] < 0:
                    work.hire_due[w] = t + geometric_weeks(lag, rng)
                continue
        st = work.status[w]
        if st != PERMANENT:
            if work.hire_due[w] >= 0 and t >= work.hire_due[w]:
                work.status[w] = PERMANENT
                work.experience[w] = 0.0 if u_nq < p.newly_qualified_share else e_draw
                work.satisfaction[w] = 0.0
                work.stress[w] = 0.0
                work.hire_due[w] = -1
                work.agency_due[w] = -1
                work.changed[w] = t
                las.flow[la, I.FL_JOINERS] += 1
            elif st == VACANT and work.agency_due[w] >= 0 and t >= work.agency_due[w]:
                work.status[w] = AGENCY
                work.experience[w] = e_draw
                work.satisfaction[w] = 0.0
                work.stress[w] = 0.0
                work.agency_due[w] = -1
                work.changed[w] = t
                las.flow[la, I.FL_AGENCY_STARTS] += 1


@njit(cache=True)
def allocate(fam, work, las, open_list, p, t, D, R):
    """Allocate every social-care case without a worker in post to the least-loaded worker
    in its LA, and count the children whose social worker changed this week.

    Once a case's worker is settled it adds the hours the case needs this week to its
    worker's demand: direct hours to ``D[w]`` and recording hours to ``R[w]``, for
    :func:`time_use`. (Summing them here spares a second pass over the open cases, each at
    a scattered row of the family table.) A case left without a worker counts an
    unallocated case-week."""
    D[:] = 0.0
    R[:] = 0.0
    rec_mult = p.recording_ratio * p.prescription
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
