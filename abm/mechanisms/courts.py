"""Care proceedings: courts, children's guardians, hearings, experts, timetables, FDAC, and
court capacity that responds to listing pressure (brief mechanism 10; §2.30-2.36, Case
Study 3).

A care case opens when the LA applies (casework moves the family to COURT). Each week:

1. **Intake.** New applications get a case record: a complexity (gamma with mean 1 and shape
   ``case_complexity_shape``; 0 = every case average), how many effective hearings they need
   (a minimum plus Poisson with a mean scaled by the complexity: simple cases conclude early,
   complex ones need more hearings, and so have more chances to commission late experts)
   and how many expert assessments are commissioned at the start (Poisson, capped by the
   ``expert_cap`` lever). With ``fdac`` on, parents with a substance-misuse need may be
   engaged by the specialist team: fewer experts, and risk that falls by the final hearing,
   so more children go home.
1b. **Experts.** Expert assessments come from one national pool of experts that can start
   ``expert_reports_per_100k`` reports a week per 100,000 children served (scale-free, like
   the guardian service). A commissioned report starts at once if nothing is waiting and
   the week's capacity allows; otherwise it waits its turn, first come first served. Its
   report is in the expert's own time (``expert_weeks``) after it starts, so the delay is
   that time plus the queue wait.
2. **Guardians.** Every case needs a Cafcass children's guardian before it can progress:
   after its first hearing it is not listed again until one is allocated. Allocation
   takes an administrative time (``guardian_allocation_weeks``) even when guardians are
   free, so some cases are unallocated in ordinary times; beyond that, guardian capacity is
   limited and unallocated cases queue first come, first served.
3. **Hearings.** Cases whose next hearing is due compete for the court's hearing slots
   (cases past the timetable first, then by listing date). A hearing is ineffective
   (adjourned) with a chance that rises with listing pressure (hearings listed per slot
   above ``court_load_onset``, saturating) and
   with missing inputs: no guardian, or, at the issues-resolution and final hearings, an
   expert report not yet in. Judicial continuity (``judicial_continuity``, more hearings
   before the case's own judge) cuts the first two causes, not the missing inputs. A final hearing cannot go ahead without the expert reports. An effective hearing may commission a late expert
   (the cycle of multiple assessments), unless the case is past its timetable. Public
   anxiety makes practice defensive: more experts at the start and more late ones.
   Under overload more hearings are wasted, so closures fall while arrivals rise (§2.32).
4. **Outcomes** at the final hearing, from the court's assessment of risk: a placement
   order (adoption), a care order, a supervision order, or home with support. Duration is
   measured on concluded cases, as the MoJ statistic is.
"""

import math

import numpy as np
from numba import njit

from abm.core import indicators as I
from abm.core.kernels import PREFETCH_AHEAD, geometric_weeks, prefetch, sort_int64
from abm.core.mechanism import Mechanism
from abm.core.params import param_record
from abm.core.state import COURT
from abm.mechanisms.casework import GO_CARE, GO_CIN, GO_CPP, apply_move, move_params

#: The parameters of the courts' kernel (capacities are set from the table in Python).
CourtParams = param_record("CourtParams", """
    hearings_min hearings_mean experts_mean expert_cap expert_weeks expert_cost
    anxiety_expert_gain late_expert_probability fdac fdac_engagement fdac_risk_reduction
    timetable_weeks timetable_enforcement hearing_interval_min_weeks duty_allocation
    guardian_allocation_weeks judicial_continuity continuity_adjournment_reduction
    urgent_first_hearings case_complexity_shape
    hearing_interval_weeks adjourn_weeks
    final_hearing_slots_per_expert court_load_onset ineffective_base ineffective_load_slope
    ineffective_no_guardian ineffective_expert_missing court_sigma order_threshold
    placement_order_share supervision_share permanence_weeks parallel_planning care_weeks
    ca_target_weeks cin_review_weeks cpp_review_weeks plan_change_persistence""")

SUBSTANCE_MISUSE = 1  # need-domain bit 0

#: Why a case waits for its next listing (``CourtCases.wait_reason``): the interval the
#: judge planned, a relisting after an ineffective hearing, or expert reports not yet in.
PLANNED, ADJOURNED, REPORTS = 0, 1, 2
#: Components of a case's duration (``CourtCases.components`` columns, in the registry's
#: order ``indicators.COURT_COMPONENTS``)
(C_FIRST_HEARING, C_GUARDIAN, C_CASE_MANAGEMENT, C_EXPERTS, C_ADJOURNED,
 C_LISTING) = range(len(I.COURT_COMPONENTS))
#: ``timetable_weeks`` at or above this: no timetable for the child
NO_TIMETABLE = 1000.0


@njit(cache=True)
def planned_interval(n_hearings, p):
    """Weeks between a case's hearings, as the judge's timetable for the child sets them:
    the customary ``hearing_interval_weeks``, unless the timetable cannot hold the case's
    ``n_hearings`` at that spacing; then the spacing moves towards what the timetable allows
    by ``timetable_enforcement`` (0: not at all, 1: all the way), never below
    ``hearing_interval_min_weeks``."""
    natural = p.hearing_interval_weeks
    allowed = p.timetable_weeks / max(1, n_hearings - 1)
    if allowed >= natural:
        return int(math.ceil(natural))
    w = natural - p.timetable_enforcement * (natural - allowed)
    return int(math.ceil(max(p.hearing_interval_min_weeks, w)))


@njit(cache=True)
def report_weeks(weeks, n_hearings, interval, p):
    """An expert's weeks to report (``weeks`` as the expert would take them), held to the
    timetable's deadline, the issues-resolution hearing, by ``timetable_enforcement``."""
    if p.timetable_weeks >= NO_TIMETABLE:
        return weeks
    deadline = 1 + interval * max(1, n_hearings - 2)
    if weeks <= deadline:
        return weeks
    return max(1, int(round(weeks - p.timetable_enforcement * (weeks - deadline))))


@njit(cache=True, inline="always")
def start_report(las, courts, cases, p, k, la, since, t, rng):
    """An expert starts one of case ``k``'s reports in week ``t`` (commissioned in week
    ``since``): it is in after the expert's own time, held to the timetable's deadline."""
    courts.expert_credit[0] -= 1.0
    wk = report_weeks(geometric_weeks(p.expert_weeks, rng), cases.hearings_needed[k],
                      cases.interval[k], p)
    cases.expert_due[k] = max(cases.expert_due[k], t + wk)
    las.flow[la, I.FL_EXPERT_REPORTS_STARTED] += 1
    las.flow[la, I.FL_EXPERT_QUEUE_WEEKS_SUM] += t - since


@njit(cache=True, inline="always")
def commission_reports(las, courts, cases, p, k, la, n, t, rng):
    """Case ``k`` commissions ``n`` expert reports in week ``t``: each starts at once if no
    report is waiting and this week's expert capacity allows, else it joins the queue."""
    for _ in range(n):
        if courts.experts_waiting[0] == 0 and courts.expert_credit[0] >= 1.0:
            start_report(las, courts, cases, p, k, la, t, t, rng)
        else:
            cases.expert_queued[k] += 1
            cases.expert_queued_since[k] = t
            courts.experts_waiting[0] += 1


@njit(cache=True)
def serve_expert_queue(fam, las, courts, cases, p, act, t, rng):
    """Experts start the waiting reports, first come first served (by the week they were
    commissioned, then case row), while this week's capacity lasts."""
    if courts.experts_waiting[0] == 0:
        return
    M = cases.fam.shape[0]
    queue = np.empty(act.shape[0], np.int64)
    nq = 0
    for k in act:
        if cases.expert_queued[k] > 0:
            queue[nq] = np.int64(cases.expert_queued_since[k]) * M + k
            nq += 1
    queue = queue[:nq]
    sort_int64(queue)
    for q in range(nq):
        k = queue[q] % M
        la = fam.la[cases.fam[k]]
        while cases.expert_queued[k] > 0 and courts.expert_credit[0] >= 1.0:
            start_report(las, courts, cases, p, k, la, cases.expert_queued_since[k], t, rng)
            cases.expert_queued[k] -= 1
            courts.experts_waiting[0] -= 1
        if courts.expert_credit[0] < 1.0:
            return


@njit(cache=True, inline="always")
def open_case(fam, las, courts, cases, p, i, t, rng, anxiety=0.0):
    """Give a new application its case record. Returns False if the case table is full."""
    if cases.n_free[0] == 0:
        return False
    cases.n_free[0] -= 1
    k = cases.free[cases.n_free[0]]
    la = fam.la[i]
    cases.fam[k] = i
    cases.court[k] = las.court[la]
    cases.opened[k] = t
    cases.active[k] = 1
    cases.guardian[k] = 0
    cases.guardian_wait_from[k] = t
    # complexity: simple cases need fewer hearings, complex ones more
    shape = p.case_complexity_shape
    z = rng.gamma(shape, 1.0 / shape) if shape > 0 else 1.0
    cases.hearings_needed[k] = p.hearings_min + rng.poisson(
        max(0.0, p.hearings_mean - p.hearings_min) * z)
    cases.hearings_done[k] = 0
    cases.ineffective[k] = 0
    cases.next_hearing[k] = t + 1
    cases.wait_reason[k] = PLANNED
    cases.interval[k] = planned_interval(cases.hearings_needed[k], p)
    cases.components[k, :] = 0
    defensive = 1.0 + p.anxiety_expert_gain * anxiety  # more assessments when anxious
    n_exp = min(p.expert_cap, rng.poisson(p.experts_mean * defensive))
    engaged = p.fdac and (fam.needs[i] & SUBSTANCE_MISUSE) and rng.random() < p.fdac_engagement
    cases.fdac[k] = 1 if engaged else 0
    if engaged:
        n_exp = min(n_exp, 1)  # the FDAC team does the assessment work
        las.flow[la, I.FL_FDAC_ENGAGED] += 1
    cases.experts[k] = n_exp
    cases.expert_due[k] = t
    cases.expert_queued[k] = 0
    commission_reports(las, courts, cases, p, k, la, n_exp, t, rng)
    las.flow[la, I.FL_COURT_EXPERTS_COMMISSIONED] += n_exp
    las.flow[la, I.FL_COURT_EXPERT_COST] += int(n_exp * p.expert_cost)
    fam.court_case[i] = k
    return True


@njit(cache=True, inline="always")
def conclude(fam, work, las, courts, cases, open_list, p, k, t, rng, cohort, t0):
    """Final hearing held: record the case (also in the ``cohort`` record, at the row of the
    calendar week it was applied for; kernel week ``t0`` is calendar week 0) and move the
    family to its outcome."""
    i = cases.fam[k]
    la = fam.la[i]
    c = cases.court[k]
    flow = las.flow
    flow[la, I.FL_COURT_CONCLUDED] += 1
    flow[la, I.FL_COURT_DURATION_WEEKS_SUM] += t - fam.since[i]
    # the weeks in each component (weeks waiting for a case record count as first hearing)
    cases.components[k, C_FIRST_HEARING] += cases.opened[k] - fam.since[i]
    for j in range(cases.components.shape[1]):
        flow[la, I.FL_COURT_COMPONENTS + j] += cases.components[k, j]
    w = fam.since[i] - t0
    if 0 <= w < cohort.shape[0]:
        cohort[w, I.CO_CONCLUDED] += 1
        cohort[w, I.CO_DURATION_WEEKS_SUM] += t - fam.since[i]
    flow[la, I.FL_COURT_HEARINGS_SUM_CONCLUDED] += cases.hearings_done[k] + cases.ineffective[k]
    flow[la, I.FL_COURT_EXPERTS_SUM_CONCLUDED] += cases.experts[k]
    flow[la, I.FL_COURT_CONCLUDED_WITH_EXPERTS] += cases.experts[k] > 0
    flow[la, I.FL_COURT_CONCLUDED_WITHIN_40_WEEKS] += t - fam.since[i] <= 40
    if cases.guardian[k]:
        courts.guardians_used[c] -= 1
    if cases.fdac[k]:
        fam.risk[i] -= p.fdac_risk_reduction
    score = fam.risk[i] + p.court_sigma * rng.normal()
    u = rng.random()
    age = t - fam.since[i]
    if score > p.order_threshold:
        flow[la, I.FL_CARE_ORDERS] += 1
        go = GO_CARE
        if u < p.placement_order_share:
            fam.order[i] = 2
            flow[la, I.FL_OUTCOME_PLACEMENT_ORDER] += 1
            wait = p.permanence_weeks * (0.5 if p.parallel_planning else 1.0)
            perm = geometric_weeks(wait, rng) if wait > 0 else 0
            fam.due[i] = t + perm + geometric_weeks(p.care_weeks, rng)
            flow[la, I.FL_PERMANENCE_WEEKS_SUM] += age + perm
        else:
            fam.order[i] = 1
            flow[la, I.FL_OUTCOME_CARE_ORDER] += 1
            fam.due[i] = t + geometric_weeks(p.care_weeks, rng)
            flow[la, I.FL_PERMANENCE_WEEKS_SUM] += age
        flow[la, I.FL_PERMANENCES] += 1
    else:
        flow[la, I.FL_PERMANENCE_WEEKS_SUM] += age
        flow[la, I.FL_PERMANENCES] += 1
        if u < p.supervision_share:
            flow[la, I.FL_OUTCOME_SUPERVISION] += 1
            go = GO_CIN
        else:
            flow[la, I.FL_OUTCOME_HOME] += 1
            go = GO_CPP
    apply_move(fam, work, las, open_list, i, go, t, move_params(p))
    cases.active[k] = 0
    cases.fam[k] = -1
    cases.free[cases.n_free[0]] = k
    cases.n_free[0] += 1
    fam.court_case[i] = -1


@njit(cache=True)
def courts_step(fam, work, las, courts, cases, open_list, p, t, rng, anxiety, applied, n_applied,
                cohort, t0):
    """One week of every family court centre. ``applied[:n_applied]`` are the families whose
    LA applied for care proceedings this week (casework's return; ``n_applied`` < 0: not
    known, which makes the intake look through the open cases). Concluded cases are also
    counted in ``cohort`` at the row of their application's calendar week (``t0``: the
    kernel week of calendar week 0)."""
    C = courts.slots.shape[0]
    M = cases.fam.shape[0]
    flow = las.flow
    for c in range(C):
        courts.open_cases[c] = 0
        courts.unallocated[c] = 0
        courts.listed[c] = 0
        courts.held[c] = 0
        courts.ineffective[c] = 0
        courts.open_age_weeks_sum[c] = 0
        courts.experts_queued[c] = 0
    # the experts' capacity this week (unused capacity is lost, but for a fraction of a report)
    courts.expert_credit[0] = min(courts.expert_credit[0], 1.0) + courts.expert_capacity.sum()
    # 1. intake of every family in proceedings without a case record, in open-list order.
    #    These are this week's applications, unless a full case table left some waiting
    #    (families in proceedings less the records in use tells): then look through the
    #    open cases for them all.
    waiting = las.stock_fam[:, COURT].sum() - (M - cases.n_free[0])
    if 0 <= n_applied <= applied.shape[0] and waiting == n_applied:
        new = applied[:n_applied]
        order = np.empty(n_applied, np.int64)  # in open-list order (positions are unique)
        for q in range(n_applied):
            order[q] = np.int64(fam.open_pos[new[q]]) * n_applied + q
        sort_int64(order)
        intake = np.empty(n_applied, np.int64)
        for q in range(n_applied):
            intake[q] = new[order[q] % n_applied]
    else:
        n_open = open_list.n[0]
        intake = np.empty(n_open, np.int64)
        n_in = 0
        for kk in range(n_open):
            if kk + PREFETCH_AHEAD < n_open:
                prefetch(fam.state, open_list.idx[kk + PREFETCH_AHEAD])
            i = open_list.idx[kk]
            if fam.state[i] == COURT and fam.court_case[i] < 0:
                intake[n_in] = i
                n_in += 1
        intake = intake[:n_in]
    for i in intake:  # one call site: open_case is inlined, and each site costs compile time
        open_case(fam, las, courts, cases, p, i, t, rng, anxiety)
    # the active case rows, in row order (a few percent of the table; every later pass
    # visits only these)
    act = np.empty(M, np.int64)
    na = 0
    for k in range(M):
        if cases.active[k]:
            act[na] = k
            na += 1
    # 1b. experts start the reports that wait for them
    serve_expert_queue(fam, las, courts, cases, p, act[:na], t, rng)
    # 2. guardians from the national service (Cafcass), first come first served among the
    #    cases past the administrative allocation time
    used = courts.guardians_used.sum()
    capacity = courts.guardian_capacity.sum()
    admin = int(math.ceil(p.guardian_allocation_weeks))
    waiting = np.empty(na, np.int64)
    nw = 0
    for k in act[:na]:
        if not cases.guardian[k] and t - cases.opened[k] >= admin:
            waiting[nw] = np.int64(cases.opened[k]) * M + k
            nw += 1
    waiting = waiting[:nw]
    sort_int64(waiting)
    for q in range(nw):
        k = waiting[q] % M
        c = cases.court[k]
        if used + 1 <= capacity:
            used += 1
            courts.guardians_used[c] += 1
            cases.guardian[k] = 1
            la = fam.la[cases.fam[k]]
            flow[la, I.FL_GUARDIANS_ALLOCATED] += 1
            flow[la, I.FL_GUARDIAN_WAIT_WEEKS_SUM] += t - cases.guardian_wait_from[k]
    # 3. hearings
    listed = np.empty(na, np.int64)
    nl = 0
    for k in act[:na]:
        # beyond the first hearing, a case is listed only once it has a guardian
        if (cases.next_hearing[k] <= t
                and (cases.guardian[k] or cases.hearings_done[k] + cases.ineffective[k] == 0)):
            late = (t - cases.opened[k]) > p.timetable_weeks
            first = cases.hearings_done[k] + cases.ineffective[k] == 0
            # priority key: urgent first hearings (interim orders) if that lever is on, then
            # past-timetable cases, then the rest, each by listing week, then row; every
            # term is a multiple of M so that key % M recovers the row
            tier = 0 if (first and p.urgent_first_hearings) else (1 if late else 2)
            rank = np.int64(tier) * (np.int64(1) << 31) + np.int64(cases.next_hearing[k])
            listed[nl] = rank * M + k
            nl += 1
            courts.listed[cases.court[k]] += 1
    listed = listed[:nl]
    sort_int64(listed)
    for c in range(C):
        courts.credit[c] += courts.slots[c]
    for q in range(nl):
        k = listed[q] % M
        c = cases.court[k]
        final = cases.hearings_done[k] + 1 >= cases.hearings_needed[k]
        # a final hearing runs longer the more expert evidence it must hear
        cost = 1.0 + p.final_hearing_slots_per_expert * cases.experts[k] if final else 1.0
        if courts.credit[c] < cost:
            continue  # no room in this week's list: it stays listed
        courts.credit[c] -= cost
        courts.held[c] += 1
        i = cases.fam[k]
        la = fam.la[i]
        flow[la, I.FL_COURT_HEARINGS_HELD] += 1
        # listing pressure: hearings listed per slot, beyond the utilisation at which lists
        # start to overrun (court_load_onset; 1.0 = only when more are listed than slots)
        overload = (courts.listed[c] / courts.slots[c] - p.court_load_onset
                    if courts.slots[c] > 0 else 10.0)
        experts_in = t >= cases.expert_due[k] and cases.expert_queued[k] == 0
        u = rng.random()
        u_late = rng.random()
        ov = max(0.0, overload)
        pin = p.ineffective_base + p.ineffective_load_slope * ov / (1.0 + ov)
        # judicial continuity: a judge who knows the case loses fewer hearings to case
        # management and crowded lists (not to missing guardians or reports)
        pin *= 1.0 - p.judicial_continuity * p.continuity_adjournment_reduction
        if not cases.guardian[k] and not p.duty_allocation:
            pin += p.ineffective_no_guardian
        needs_reports = cases.hearings_done[k] + 2 >= cases.hearings_needed[k]  # IRH or final
        if needs_reports and not experts_in:
            pin += p.ineffective_expert_missing
        if (final and not experts_in) or u < min(0.95, pin):
            cases.ineffective[k] += 1
            courts.ineffective[c] += 1
            flow[la, I.FL_COURT_HEARINGS_INEFFECTIVE] += 1
            relist = t + int(math.ceil(p.adjourn_weeks))
            if final and not experts_in:
                relist = max(relist, cases.expert_due[k])
            cases.next_hearing[k] = relist
            cases.wait_reason[k] = REPORTS if needs_reports and not experts_in else ADJOURNED
            continue
        cases.hearings_done[k] += 1
        if final:
            conclude(fam, work, las, courts, cases, open_list, p, k, t, rng, cohort, t0)
            continue
        cases.next_hearing[k] = t + cases.interval[k]
        cases.wait_reason[k] = PLANNED
        on_timetable = (t - cases.opened[k]) <= p.timetable_weeks
        p_late = p.late_expert_probability * (1.0 + p.anxiety_expert_gain * anxiety)
        # (not while the case's earlier reports still wait for an expert)
        if (on_timetable and cases.experts[k] < p.expert_cap and u_late < p_late
                and cases.expert_queued[k] == 0):
            cases.experts[k] += 1
            commission_reports(las, courts, cases, p, k, la, 1, t, rng)
            flow[la, I.FL_COURT_EXPERTS_COMMISSIONED] += 1
            flow[la, I.FL_COURT_EXPERT_COST] += int(p.expert_cost)
    for c in range(C):
        # unused slots are lost, except what the longest final hearing needs
        courts.credit[c] = min(courts.credit[c], 1.0 + p.final_hearing_slots_per_expert * p.expert_cap)
    # 4. weekly court statistics (cases concluded this week are no longer active), and the
    #    component of its duration each open case spent the week in
    for k in act[:na]:
        if cases.active[k]:
            if cases.hearings_done[k] == 0:
                j = C_FIRST_HEARING
            elif not cases.guardian[k]:
                j = C_GUARDIAN
            elif cases.next_hearing[k] <= t:
                j = C_LISTING  # due, but not reached in this week's list
            elif cases.wait_reason[k] == REPORTS:
                j = C_EXPERTS
            elif cases.wait_reason[k] == ADJOURNED:
                j = C_ADJOURNED
            else:
                j = C_CASE_MANAGEMENT
            cases.components[k, j] += 1
            c = cases.court[k]
            courts.open_cases[c] += 1
            courts.open_age_weeks_sum[c] += t - fam.since[cases.fam[k]]
            if not cases.guardian[k]:
                courts.unallocated[c] += 1
            courts.experts_queued[c] += cases.expert_queued[k]


# ------------------------------------------------------------------ capacity
# When more hearings are listed than a court centre has slots, the courts find capacity:
# extra sitting days, deputy and part-time judges. They do so with a lag: the extra capacity
# moves towards ``court_capacity_response`` x the excess of listings over the base slots, as
# a first-order lag with time constant ``court_capacity_lag_weeks``. With a response of 0
# (the neutral setting) capacity is what ``hearing_slots_per_100k`` says; with a lag, a surge
# first crowds the lists (closures fall while arrivals rise) and then capacity catches up.
# One function serves the engine (arrays of court centres) and the reference (one court).
def respond(extra, listed, base_slots, gain: float, lag_weeks: float):
    """This week's extra capacity (a share of the base slots), from last week's ``extra``
    and this week's hearings ``listed`` against ``base_slots``."""
    pressure = np.where(base_slots > 0, listed / np.maximum(base_slots, 1e-12), 0.0)
    target = gain * np.maximum(0.0, pressure - 1.0)
    return extra + (target - extra) / lag_weeks


#: Before this calendar week the warm-up boosts court capacity, to clear the start-up wave.
BOOST_END_WEEK = -104


class Courts(Mechanism):
    """Every court centre's week, then the capacity it finds under listing pressure."""

    name = "courts"
    Params = CourtParams

    def __init__(self, model):
        #: guardian capacity the service has added under sustained demand, a share of its base
        self.guardian_extra = 0.0
        super().__init__(model)

    def configure(self, p) -> None:
        super().configure(p)
        self.apply_capacities()

    def boost(self) -> float:
        return self.model.p.warmup_court_boost if self.model.week < BOOST_END_WEEK else 1.0

    def base_slots(self) -> np.ndarray:
        """Hearing slots per week of each court centre before any capacity it has found."""
        courts = self.model.courts
        return self.model.p.hearing_slots_per_100k * (courts.children_served / 1e5) * self.boost()

    def apply_capacities(self) -> None:
        """Hearing slots, guardian and expert capacity, from the parameters."""
        p, courts = self.model.p, self.model.courts
        courts.slots[:] = self.base_slots() * (1.0 + courts.extra_capacity)
        courts.guardian_capacity[:] = self.base_guardians() * (1.0 + self.guardian_extra)
        courts.expert_capacity[:] = (p.expert_reports_per_100k * (courts.children_served / 1e5)
                                     * self.boost())

    def base_guardians(self) -> np.ndarray:
        """Cases the guardians serving each court centre's area can carry, before any staffing
        response."""
        p, courts = self.model.p, self.model.courts
        return (p.guardians_per_100k * (courts.children_served / 1e5) * p.guardian_caseload
                * self.boost())

    def step(self, d) -> None:
        m, cw = self.model, self.model.mechanisms["casework"]
        if m.week == BOOST_END_WEEK:
            self.apply_capacities()  # the warm-up boost ends
        anxiety = d.anxiety if m.p.mech_anxiety else 0.0
        self.call(courts_step, m.fam, m.work, m.las, m.courts, m.cases, m.open, self.p, m._t,
                  m.streams["court"], anxiety, cw.applied, cw.n_applied, m.record.cohort,
                  m._t - m.week)
        if m.p.court_capacity_response > 0:
            courts, base = m.courts, self.base_slots()
            courts.extra_capacity[:] = respond(courts.extra_capacity, courts.listed, base,
                                               m.p.court_capacity_response,
                                               m.p.court_capacity_lag_weeks)
            courts.slots[:] = base * (1.0 + courts.extra_capacity)
        if m.p.guardian_staffing_response > 0:
            # the guardian service answers sustained demand (cases holding or waiting for a
            # guardian) beyond its base capacity: recruitment, overtime, self-employed
            # guardians, with a lag
            courts, base = m.courts, self.base_guardians()
            demand = courts.guardians_used.sum() + courts.unallocated.sum()
            self.guardian_extra = float(respond(self.guardian_extra, demand, base.sum(),
                                                m.p.guardian_staffing_response,
                                                m.p.guardian_staffing_lag_weeks))
            courts.guardian_capacity[:] = base * (1.0 + self.guardian_extra)
