"""Casework on every open case, week by week (brief: Caseflow; mechanisms 2, 3, 4, 6).

Initial assessment -> no further action, child-in-need services, or core assessment / s47
-> conference -> child protection plan -> reviews -> step down, closure, or the LA's
decision to apply for care proceedings. A plan has the life course of *Working Together*:
its first review conference within three months of the initial conference, later ones at
most six months apart; it ends at a review when the LA applies for care or when risk has
fallen (a step down to child-in-need services, or closure), and its length is counted in
the DfE's bands (:func:`plan_ended`), a family's second or later plan as a repeat plan.
Every judgment is a Taylor-Russell decision
(``abm.mechanisms.taylor_russell``) whose accuracy comes from the worker (experience,
supervision, scope) and from the direct time the case actually received.

Timescales (mechanism 4; Introduction, §2.39): each assessment needs an amount of work,
drawn in its first week (:func:`assessment_work`: families differ in how much there is to
find out), and completes once that work is done (:func:`assessment_done`); it is on time if
that is by its timescale (``due``). A week of work at full pace is a week in which the worker
gave the case all the recording time it needed; an overloaded worker gives a share of it
(``Workers.record_ratio``). Under compliance recording comes first, so assessments slip only
when recording alone overflows the week; under judgment direct work is protected and the
recording, so the deadline, slips. Help while a case is open lowers the
family's risk by an amount set by the direct time given and by the match between needs and
the variety of response (``abm.mechanisms.requisite_variety``).

Each open case's week counts towards the exposure to harm (children above the significant-harm
cut without a protective service, children under one below it), in the state it began the
week in, with its risk after the week's help.

Casework decides each case's week, then applies the moves decided (:func:`apply_moves`) in
the order decided; the courts' outcomes reuse them (:func:`apply_move`).
"""

import math

import numpy as np
from numba import njit

from abm.core import indicators as I
from abm.core.kernels import PREFETCH_AHEAD, prefetch
from abm.core.mechanism import Mechanism
from abm.core.params import param_record
from abm.core.state import (
    CA,
    CARE,
    CIN,
    COURT,
    CPP,
    D_CA,
    D_CONFERENCE,
    D_COURT,
    D_IA,
    EARLY_HELP,
    IA,
    N_SKILL_BINS,
    NONE,
)
from abm.mechanisms.population import advance_risk, ou_step, ou_transition
from abm.mechanisms.requisite_variety import response_match
from abm.mechanisms.taylor_russell import (
    case_sigma,
    decision_log,
    duty_sigma,
    judge,
    score_decisions,
    skill_index,
)
from abm.mechanisms.workload import case_direct_demand

#: The parameters of assessments, conferences, plans, reviews, help and the LA's decision
#: to apply for care proceedings.
CaseworkParams = param_record("CaseworkParams", """
    risk_reversion risk_volatility significant_harm_cut
    ia_target_weeks ca_target_weeks ia_work_weeks ca_work_weeks assessment_work_cv
    direct_hours_assessment direct_hours_cin direct_hours_cpp direct_hours_court
    ia_threshold_s47 ia_threshold_cin ca_threshold_conference conference_sigma
    conference_threshold close_threshold cin_min_weeks cin_review_weeks cpp_review_weeks
    cpp_review_interval_weeks cpp_step_down_threshold cpp_first_review_threshold
    court_threshold la_court_sigma court_delay_norm_weeks reunify_threshold care_weeks
    help_efficacy early_help_efficacy_factor service_range mech_requisite_variety
    worker_sigma_base sigma_inexperience sigma_low_scope sigma_low_supervision
    sigma_low_direct_time plan_change_persistence""")


@njit(cache=True, inline="always")
def move_params(p):
    """What :func:`apply_moves` needs of the parameters: the weeks to a new core assessment's
    due date and to the first review of a child-in-need case and of a plan, and the share of
    a plan's achieved change that persists (``plan_change_persistence``)."""
    return (int(math.ceil(p.ca_target_weeks)), int(math.ceil(p.cin_review_weeks)),
            int(math.ceil(p.cpp_review_weeks)), p.plan_change_persistence)


@njit(cache=True, inline="always")
def assessment_work(mean_weeks, cv, rng):
    """The work a new assessment needs, in weeks at full pace: lognormal with mean
    ``mean_weeks`` and coefficient of variation ``cv``."""
    s2 = math.log(1.0 + cv * cv)
    return mean_weeks * math.exp(math.sqrt(s2) * rng.normal() - 0.5 * s2)


@njit(cache=True, inline="always")
def assessment_done(acc_record, need, t, since):
    """Is the assessment complete this week? ``acc_record`` is its work done so far in weeks
    at full pace, this week's included; ``need`` the work it needs; ``since`` the week it
    began. A year is the backstop.

    Takes scalars, for the reason given in :func:`case_sigma`."""
    return acc_record >= need or t - since > 52


@njit(cache=True)
def casework(fam, work, las, open_list, p, drv, t, rng_risk, rng_dec, res, record, applied):
    """Advance every open case by one week: casework decides each case's week (its risk,
    the help it gets, assessments, decisions, reviews), then the moves decided are applied
    in the order decided (``transitions.apply_moves``) and the decisions are scored
    (``core.score_decisions``). The loop hands no helper a table or an array it does not
    need: see docs/performance.md, sections 8 and 9.

    Returns the number of applications for care proceedings made, whose families it lists in
    ``applied`` (as many as fit) for the courts' intake."""
    cut = p.significant_harm_cut
    shift = drv.threshold_shift  # defensive practice lowers every threshold
    scope = drv.scope_for_judgment
    flow = las.flow
    n_open = open_list.n[0]
    moves = np.empty((n_open, 2), np.int64)  # family, GO_* code: at most one per case
    nm = 0
    log = decision_log(2 * n_open)  # at most two decisions per case: assessment, conference
    nd = 0
    n_applied = 0
    # requisite variety for each of the 64 need patterns, computed once
    match = np.empty(64)
    for needs in range(64):
        match[needs] = response_match(needs, p, scope)
    # every open case steps every week: the one-week OU transition, computed once
    decay1, sd1 = ou_transition(p.risk_reversion, p.risk_volatility, 1)
    duty = duty_sigma(p, scope)
    k = n_open - 1
    while k >= 0:  # downward, as the moves applied after the loop remove cases by swapping
        if k >= PREFETCH_AHEAD:  # (inline: a call passing the tables costs more than a miss)
            ahead = open_list.idx[k - PREFETCH_AHEAD]
            prefetch(fam.state, ahead)  # the hot record (every visit reads it)
            prefetch(fam.acc_direct, ahead)  # the cold one (assessments and moves read it)
        i = open_list.idx[k]
        k -= 1
        s = fam.state[i]
        la = fam.la[i]
        dt = t - fam.risk_t[i]
        if dt == 1:  # stepped last week: advance_risk's one-week transition
            z = ou_step(fam.base[i], fam.risk[i], decay1, sd1, rng_risk)
            fam.risk[i] = z
            fam.risk_t[i] = t
        elif dt <= 0:  # already advanced this week (a referral this week)
            z = fam.risk[i]
        else:
            z = advance_risk(fam, np.int64(i), t, p.risk_reversion, p.risk_volatility, rng_risk)
        w = fam.worker[i]
        ratio = work.direct_ratio[w] if w >= 0 else 0.0
        dq = min(1.0, ratio)  # judgment needs the direct time the case needs
        help_dose = min(1.5, ratio)  # help can gain from extra direct work
        # drift and delay: weeks past a timescale, beyond the court yardstick, or unallocated
        if s != EARLY_HELP:
            late = ((s == IA and t - fam.since[i] > math.ceil(p.ia_target_weeks))
                    or (s == CA and t - fam.since[i] > math.ceil(p.ca_target_weeks))
                    or (s == COURT and t - fam.since[i] > p.court_delay_norm_weeks)
                    or w < 0)
            if late:
                flow[la, I.FL_DELAY_WEEKS] += fam.n_children[i]
        # help received this week lowers current risk
        if s == CIN or s == CPP or s == CARE or s == EARLY_HELP:
            eff = p.help_efficacy * match[fam.needs[i]]
            if s == EARLY_HELP:
                eff *= p.early_help_efficacy_factor
            else:
                eff *= help_dose
            fam.risk[i] = z - eff
            z = fam.risk[i]
        # the week's exposure to harm (population.harm_exposure counts the idle families)
        protective = s == CPP or s == COURT or s == CARE
        if z > cut:
            if not protective:
                flow[la, I.FL_UNPROTECTED_HARM_WEEKS] += fam.n_children[i]
        elif protective:
            flow[la, I.FL_UNNECESSARY_INTERVENTION_WEEKS] += fam.n_children[i]
        if s == IA or s == CA:
            if fam.work_need[i] <= 0.0:  # its first week: how much work it needs
                fam.work_need[i] = assessment_work(
                    p.ia_work_weeks if s == IA else p.ca_work_weeks, p.assessment_work_cv,
                    rng_dec)
            if w >= 0:  # this week's work on the assessment: direct hours, and recording
                fam.acc_direct[i] += case_direct_demand(s, p) * min(1.0, ratio)
                fam.acc_record[i] += work.record_ratio[w]  # at the pace the worker's week allows
        go = 0  # the move decided this week (transitions.GO_*), none by default
        if s == EARLY_HELP:
            if t >= fam.due[i]:
                go = GO_EH_END
        elif s == IA:
            if not assessment_done(fam.acc_record[i], fam.work_need[i], t, fam.since[i]):
                continue
            flow[la, I.FL_IA_COMPLETED] += 1
            if t <= fam.due[i]:  # within its timescale
                flow[la, I.FL_IA_ON_TIME] += 1
            req = p.ia_target_weeks * p.direct_hours_assessment  # the direct work it should get
            dqa = min(1.0, fam.acc_direct[i] / req) if req > 0 else 1.0
            sig = case_sigma(work.sigma[w] if w >= 0 else duty, dqa, p)
            s47, score = judge(z, sig, p.ia_threshold_s47 - shift, rng_dec, log, nd, D_IA, la)
            nd += 1
            if s47:
                if z <= cut:
                    flow[la, I.FL_UNNECESSARY_INVESTIGATIONS] += 1
                go = GO_CA
            elif score > p.ia_threshold_cin - shift:
                go = GO_CIN
            else:
                go = GO_CLOSE
        elif s == CA:
            if not assessment_done(fam.acc_record[i], fam.work_need[i], t, fam.since[i]):
                continue
            flow[la, I.FL_CA_COMPLETED] += 1
            if t <= fam.due[i]:  # within its timescale
                flow[la, I.FL_CA_ON_TIME] += 1
            req = p.ca_target_weeks * p.direct_hours_assessment  # the direct work it should get
            dqa = min(1.0, fam.acc_direct[i] / req) if req > 0 else 1.0
            sig = case_sigma(work.sigma[w] if w >= 0 else duty, dqa, p)
            conf, score = judge(z, sig, p.ca_threshold_conference - shift, rng_dec, log, nd,
                                D_CA, la)
            nd += 1
            if conf:
                flow[la, I.FL_CONFERENCES] += 1
                plan, _ = judge(z, p.conference_sigma, p.conference_threshold - shift, rng_dec,
                                log, nd, D_CONFERENCE, la)
                nd += 1
                go = GO_CPP if plan else GO_CIN
            elif score > p.ia_threshold_cin - shift:
                go = GO_CIN
            else:
                go = GO_CLOSE
        elif s == CIN:
            if t < fam.due[i]:
                continue
            routine = fam.routine_due[i]  # after an audit review, the routine one stands
            fam.routine_due[i] = -1
            sig = case_sigma(work.sigma[w] if w >= 0 else duty, dq, p)
            score = z + sig * rng_dec.normal()
            if score > p.ia_threshold_s47 - shift:
                go = GO_CA  # concern has grown: back to a core assessment / s47 enquiry
            elif score < p.close_threshold - shift and t - fam.since[i] >= p.cin_min_weeks:
                go = GO_CLOSE
            elif routine > t:
                fam.due[i] = routine
            else:
                fam.due[i] = t + int(math.ceil(p.cin_review_weeks))
        elif s == CPP:
            if t < fam.due[i]:
                continue
            routine = fam.routine_due[i]
            fam.routine_due[i] = -1
            sig = case_sigma(work.sigma[w] if w >= 0 else duty, dq, p)
            # the decision to apply feels defensive practice with its lag (court_shift)
            apply, score = judge(z, p.la_court_sigma + 0.5 * sig,
                                 p.court_threshold - drv.court_shift, rng_dec, log, nd, D_COURT,
                                 la)
            nd += 1
            # the review conference ends the plan if risk has fallen; at the first review
            # only in exceptional circumstances (a lower bar)
            first = t - fam.since[i] <= math.ceil(p.cpp_review_weeks)
            end = p.cpp_first_review_threshold if first else p.cpp_step_down_threshold
            if apply:
                go = GO_COURT
            elif score < end - shift:
                # step down to child-in-need services, or close if risk has fallen that far
                go = GO_CLOSE if score < p.close_threshold - shift else GO_CIN
            elif routine > t:
                fam.due[i] = routine
            else:  # the plan continues to its next review conference
                fam.due[i] = t + int(math.ceil(p.cpp_review_interval_weeks))
        elif s == CARE:
            if t < fam.due[i]:
                continue
            if fam.order[i] == 1:
                # review of a care order: reunification is a judgment under uncertainty
                sig = case_sigma(work.sigma[w] if w >= 0 else duty, dq, p)
                if z + sig * rng_dec.normal() < p.reunify_threshold - shift:
                    b = int(skill_index(sig, p) * N_SKILL_BINS)
                    fam.returned[i] = t
                    fam.return_bin[i] = b
                    las.reunify[b, 0] += 1
                    flow[la, I.FL_REUNIFICATION_ATTEMPTS] += 1
                    fam.order[i] = 0
                    go = GO_CIN  # home, with support
                else:
                    fam.order[i] = 3  # stays in long-term care
                    fam.due[i] = t + int(math.ceil(p.care_weeks))
            else:
                fam.order[i] = 0  # adoption or leaving care: permanence outside the family
                go = GO_CLOSE
        if go != 0:
            moves[nm, 0] = i
            moves[nm, 1] = go
            nm += 1
            if go == GO_COURT:
                if n_applied < applied.shape[0]:
                    applied[n_applied] = i
                n_applied += 1
    apply_moves(fam, work, las, open_list, moves, nm, t, move_params(p))
    if record:
        score_decisions(log, np.int64(nd), cut, las.decisions, res, t)
    return n_applied


#: The moves: a core assessment / s47 enquiry starts; child-in-need services; a child
#: protection plan; the LA applies for care proceedings; the case closes; early help ends;
#: the court makes a care or placement order.
GO_CA, GO_CIN, GO_CPP, GO_COURT, GO_CLOSE, GO_EH_END, GO_CARE = 1, 2, 3, 4, 5, 6, 7


@njit(cache=True, inline="always")
def plan_band(weeks):
    """The DfE length band (``indicators.CPP_DURATION_BANDS``) of a plan that lasted
    ``weeks`` whole weeks."""
    b = 0
    while weeks > I.CPP_BAND_MAX_WEEKS[b]:
        b += 1
    return b


@njit(cache=True, inline="always")
def plan_ended(flow, la, nc, weeks):
    """Count a plan that ended after ``weeks`` weeks, for its ``nc`` children: plans ended,
    their weeks, and the DfE length band."""
    flow[la, I.FL_CP_PLANS_ENDED] += nc
    flow[la, I.FL_CP_PLAN_DURATION_WEEKS_SUM] += weeks * nc
    flow[la, I.FL_CPP_DURATION_BANDS + plan_band(weeks)] += nc


@njit(cache=True, inline="always")
def lasting_change(fam, i, persistence):
    """A plan that ends because risk has fallen leaves a share ``persistence`` of the fall
    below the family's long-run level in that level: the family's circumstances have changed
    for good that far (a parent's treatment, a violent partner gone), and its risk now
    reverts to the lower level. The level only falls, so the risk bins' bounds still hold
    (``population.init_la_families``); :class:`population.Renewal` restores a household's
    own level when a new household takes its place."""
    gain = fam.base[i] - fam.risk[i]
    if gain > 0.0:
        fam.base[i] -= persistence * gain


@njit(cache=True)
def apply_moves(fam, work, las, open_list, moves, n, t, mp):
    """Apply the first ``n`` moves of ``moves`` (rows of family, GO_* code) at week ``t``;
    ``mp`` = :func:`move_params`.

    The bookkeeping of each move is :func:`core.move_rows`' written out once in the loop
    rather than called: a call taking its ten columns costs 100-300 ns a move in reference
    counting, the lines themselves about 10 ns (docs/performance.md)."""
    flow = las.flow
    ca_weeks, cin_weeks, cpp_weeks, persistence = mp
    state, la_of, n_children, since = fam.state, fam.la, fam.n_children, fam.since
    stock_fam, stock_children, trans = las.stock_fam, las.stock_children, las.trans
    open_pos, idx, n_open = fam.open_pos, open_list.idx, open_list.n
    for j in range(n):
        i = moves[j, 0]
        go = moves[j, 1]
        la = la_of[i]
        if go == GO_CA:
            new = CA
        elif go == GO_CIN:
            new = CIN
        elif go == GO_CPP:
            new = CPP
        elif go == GO_COURT:
            new = COURT
        elif go == GO_CARE:
            new = CARE
        else:  # GO_CLOSE, GO_EH_END
            new = NONE
        # before the move
        if (go == GO_CA or go == GO_COURT) and fam.returned[i] >= 0:
            # a new s47 enquiry or care application within 52 weeks of going home from care
            # is a reunification breakdown, scored against the skill of who decided it
            if t - fam.returned[i] <= 52:
                las.reunify[fam.return_bin[i], 1] += 1
                flow[la, I.FL_REUNIFICATION_BREAKDOWNS] += 1
            fam.returned[i] = -1
        elif go == GO_CLOSE:
            w = fam.worker[i]
            if w >= 0:
                work.caseload[w] -= 1
                fam.worker[i] = -1
            fam.last_closed[i] = t
            fam.episode_start[i] = -1
            fam.help_start[i] = -1
            flow[la, I.FL_CLOSURES] += 1
        elif go == GO_EH_END:
            las.eh_used[la] -= 1
            flow[la, I.FL_EARLY_HELP_ENDS] += 1
        if state[i] == CPP:  # the plan ends (stepped down, closed, or escalated)
            plan_ended(flow, la, n_children[i], t - since[i])
            if go == GO_CIN or go == GO_CLOSE:  # risk has fallen: part of the change lasts
                lasting_change(fam, i, persistence)
        # the move (core.move_rows): stocks, transitions, state; a closed case leaves the
        # open list, the last entry taking its place (every other move is between open states)
        old = state[i]
        nc = n_children[i]
        stock_fam[la, old] -= 1
        stock_fam[la, new] += 1
        stock_children[la, old] -= nc
        stock_children[la, new] += nc
        trans[la, old, new] += 1
        state[i] = new
        since[i] = t
        if new == NONE:
            pos = open_pos[i]
            last = n_open[0] - 1
            k = idx[last]
            idx[pos] = k
            open_pos[k] = pos
            open_pos[i] = -1
            n_open[0] = last
        # after it
        if go == GO_CA:
            fam.due[i] = t + ca_weeks
            fam.acc_direct[i] = 0.0
            fam.acc_record[i] = 0.0
            fam.work_need[i] = 0.0
            flow[la, I.FL_CA_STARTS] += 1
            flow[la, I.FL_CA_STARTS_CHILDREN] += nc
        elif go == GO_COURT:
            fam.court_case[i] = -1  # the court opens its case record
            flow[la, I.FL_COURT_APPLICATIONS] += 1
            flow[la, I.FL_COURT_APPLICATIONS_CHILDREN] += nc
        elif go == GO_CIN or go == GO_CPP:
            if go == GO_CIN:
                fam.due[i] = t + cin_weeks
                flow[la, I.FL_CIN_STARTS] += 1
            else:
                fam.due[i] = t + cpp_weeks
                flow[la, I.FL_CPP_STARTS] += 1
                flow[la, I.FL_CPP_STARTS_CHILDREN] += nc
                if fam.n_plans[i] > 0:  # a repeat plan: the family had one before
                    flow[la, I.FL_CPP_REPEAT_STARTS_CHILDREN] += nc
                fam.n_plans[i] += 1
            if fam.help_start[i] < 0 and fam.episode_start[i] >= 0:
                # first help of the episode: the child's journey from referral to help ends
                fam.help_start[i] = t
                flow[la, I.FL_JOURNEY_WEEKS_SUM] += t - fam.episode_start[i]
                flow[la, I.FL_JOURNEYS] += 1


@njit(cache=True)
def apply_move(fam, work, las, open_list, i, go, t, mp):
    """One move (GO_* code ``go``) of family ``i`` at week ``t``, now."""
    moves = np.empty((1, 2), np.int64)
    moves[0, 0] = i
    moves[0, 1] = go
    apply_moves(fam, work, las, open_list, moves, np.int64(1), t, mp)


class Casework(Mechanism):
    """Every open case's week. Lists the families whose LA applied for care proceedings
    this week in ``applied[:n_applied]`` for the courts' intake."""

    name = "casework"
    Params = CaseworkParams

    def __init__(self, model):
        self.applied = np.zeros(max(256, model.n_families // 2000), np.int64)
        self.n_applied = 0
        super().__init__(model)

    def step(self, d) -> None:
        m = self.model
        self.n_applied = self.call(casework, m.fam, m.work, m.las, m.open, self.p, d, m._t,
                                   m.streams["risk"], m.streams["casework"], m.res,
                                   m.week >= 0, self.applied)
