"""Casework on every open case, week by week (brief: Caseflow; mechanisms 2, 3, 4, 6).

Initial assessment -> no further action, child-in-need services, or core assessment / s47
-> conference -> child protection plan -> reviews -> step down, closure, or the LA's
decision to apply for care proceedings. Every judgment is a Taylor-Russell decision whose
accuracy comes from the worker (experience, supervision, scope) and from the direct time
the case actually received.

Timescales (Introduction, §2.39): an assessment is due at its target. Under compliance the
recording is done first, so it completes on time whatever direct work it got; under
judgment it completes only once its recording is done, so it may slip, but its direct work
was protected. Help while a case is open lowers the family's risk by an amount set by the
direct time given and by the match between needs and the variety of response
(requisite variety, App2 ¶16).
"""

import math

import numpy as np
from numba import njit

from abm.core import indicators as I
from abm.core.kernels import (
    PREFETCH_AHEAD,
    advance_risk,
    decision_log,
    judge,
    ou_step,
    ou_transition,
    popcount6,
    prefetch,
    score_decisions,
)
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
)
from abm.mechanisms.transitions import (
    GO_CA,
    GO_CIN,
    GO_CLOSE,
    GO_COURT,
    GO_CPP,
    GO_EH_END,
    apply_moves,
)
from abm.mechanisms.workforce import case_direct_demand


@njit(cache=True)
def response_match(needs, p):
    """Requisite variety: share of the family's need domains the response can meet."""
    if not p.mech_requisite_variety:
        return 1.0
    k = popcount6(needs)
    if k == 0:
        return 1.0
    variety = p.service_range * (0.4 + 0.6 * p.scope_for_judgment)
    return min(1.0, variety / k)


@njit(cache=True, inline="always")
def duty_sigma(p):
    """Estimate noise of a duty manager deciding a case with no worker in post."""
    return p.worker_sigma_base * (1.0 + p.sigma_inexperience) * (1.0 + p.sigma_low_scope * (1.0 - p.scope_for_judgment))


@njit(cache=True, inline="always")
def case_sigma(base, dq, p):
    """Estimate noise for a decision on a case: ``base``, its worker's (or the duty
    manager's, :func:`duty_sigma`), widened by the direct time ``dq`` (0 to 1) it missed.

    Takes scalars: a helper given the family and worker tables takes and releases a
    reference to each of their arrays on every call (docs/performance.md, section 8)."""
    return base * (1.0 + p.sigma_low_direct_time * (1.0 - dq))


@njit(cache=True, inline="always")
def assessment_done(acc_record, t, due, since, required_direct, p):
    """Is the assessment complete this week? ``acc_record`` is its recording hours so far,
    this week's included; ``due`` and ``since`` its due week and the week it began.

    Takes scalars, for the reason given in :func:`case_sigma`."""
    if t < due:
        return False
    if not p.mech_workload_squeeze:
        return True
    # It completes once its recording is done. Compliance puts recording first, so
    # deadlines hold unless recording alone overflows the week; judgment protects direct
    # work, so recording (and the deadline) is what slips. A year is the backstop.
    required_record = required_direct * p.recording_ratio * p.prescription
    return acc_record >= 0.999 * required_record or t - since > 52


@njit(cache=True)
def skill_index(sig, p):
    """A worker's judgment skill on this case: 0 for a newly qualified worker with no direct
    time, no scope and no supervision, to just under 1 for an experienced worker with full
    direct time, full scope and good supervision."""
    floor = p.worker_sigma_base
    worst = ((1.0 + p.sigma_inexperience) * (1.0 + p.sigma_low_direct_time)
             * (1.0 + p.sigma_low_scope) * (1.0 + p.sigma_low_supervision))
    x = 1.0 - (sig / floor - 1.0) / (worst - 1.0) if worst > 1.0 else 1.0
    return min(0.999, max(0.0, x))


@njit(cache=True)
def casework(fam, work, las, open_list, p, t, shift, rng_risk, rng_dec, res, record, applied):
    """Advance every open case by one week: casework decides each case's week (its risk,
    the help it gets, assessments, decisions, reviews), then the moves decided are applied
    in the order decided (``transitions.apply_moves``) and the decisions are scored
    (``core.score_decisions``). The loop hands no helper a table or an array it does not
    need: see docs/performance.md, sections 8 and 9.

    Returns the number of applications for care proceedings made, whose families it lists in
    ``applied`` (as many as fit) for the courts' intake."""
    cut = p.significant_harm_cut
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
        match[needs] = response_match(needs, p)
    # every open case steps every week: the one-week OU transition, computed once
    decay1, sd1 = ou_transition(p.risk_reversion, p.risk_volatility, 1)
    duty = duty_sigma(p)
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
            z = advance_risk(fam, i, t, p, rng_risk)
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
        if (s == IA or s == CA) and w >= 0:  # this week's hours on the assessment
            d = case_direct_demand(s, p)
            fam.acc_direct[i] += d * min(1.0, ratio)
            fam.acc_record[i] += d * p.recording_ratio * p.prescription * work.record_ratio[w]
        go = 0  # the move decided this week (transitions.GO_*), none by default
        if s == EARLY_HELP:
            if t >= fam.due[i]:
                go = GO_EH_END
        elif s == IA:
            req = p.ia_target_weeks * p.direct_hours_assessment
            if not assessment_done(fam.acc_record[i], t, fam.due[i], fam.since[i], req, p):
                continue
            flow[la, I.FL_IA_COMPLETED] += 1
            if t - fam.since[i] <= math.ceil(p.ia_target_weeks):
                flow[la, I.FL_IA_ON_TIME] += 1
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
            req = p.ca_target_weeks * p.direct_hours_assessment
            if not assessment_done(fam.acc_record[i], t, fam.due[i], fam.since[i], req, p):
                continue
            flow[la, I.FL_CA_COMPLETED] += 1
            if t - fam.since[i] <= math.ceil(p.ca_target_weeks):
                flow[la, I.FL_CA_ON_TIME] += 1
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
            sig = case_sigma(work.sigma[w] if w >= 0 else duty, dq, p)
            score = z + sig * rng_dec.normal()
            if score > p.ia_threshold_s47 - shift:
                go = GO_CA  # concern has grown: back to a core assessment / s47 enquiry
            elif score < p.close_threshold - shift and t - fam.since[i] >= p.cin_min_weeks:
                go = GO_CLOSE
            else:
                fam.due[i] = t + int(math.ceil(p.cin_review_weeks))
        elif s == CPP:
            if t < fam.due[i]:
                continue
            sig = case_sigma(work.sigma[w] if w >= 0 else duty, dq, p)
            apply, score = judge(z, p.la_court_sigma + 0.5 * sig, p.court_threshold - shift,
                                 rng_dec, log, nd, D_COURT, la)
            nd += 1
            if apply:
                go = GO_COURT
            elif score < p.conference_threshold - shift:
                go = GO_CIN  # step down to child-in-need services
            else:
                fam.due[i] = t + int(math.ceil(p.cpp_review_weeks)) * 2
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
    apply_moves(fam, work, las, open_list, p, moves, nm, t)
    if record:
        score_decisions(log, nd, cut, las.decisions, res, t)
    return n_applied


@njit(cache=True)
def audit_open_cases(fam, open_list, t, weeks, rng):
    """After a media shock, bring forward the review of every open CP plan and child-in-need
    case to a week drawn uniformly within ``weeks``. Returns the number of cases audited."""
    n = 0
    if weeks <= 0:
        return 0
    for k in range(open_list.n[0]):
        i = open_list.idx[k]
        s = fam.state[i]
        if s == CPP or s == CIN:
            due = t + 1 + int(rng.random() * weeks)
            if due < fam.due[i]:
                fam.due[i] = due
            n += 1
    return n

