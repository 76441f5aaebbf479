"""Contacts, referral decisions, early help and front-door screening (brief: Caseflow).

Contacts: universal services (police, schools, health, early years, other) meet families
at a rate rising with current risk, lambda(z) = c0 exp(gamma z), sampled by thinning within
risk bins. Each contact is a Taylor-Russell decision by the referrer: a noisy signal of
concern against a threshold that anxiety lowers (§2.9). Some police contacts are passed on
whatever their signal (every domestic-violence notification). A signal just under the
threshold gets early help instead, where the universal service has a place (§2.3-2.8).
Every referral is screened at the front door: no further action, or initial assessment.
"""

import math

import numpy as np
from numba import njit

from abm.core import indicators as I
from abm.core.kernels import PREFETCH_AHEAD, geometric_weeks, in_social_care, prefetch, randbelow
from abm.core.mechanism import Mechanism
from abm.core.params import param_record
from abm.core.state import (
    D_REFERRER,
    D_SCREEN,
    EARLY_HELP,
    IA,
    NONE,
)
from abm.mechanisms.population import BOUND_SD, advance_risk, ou_step, ou_table, stationary_sd
from abm.mechanisms.taylor_russell import decision_log, judge, score_decisions

#: The parameters of contacts, referral decisions, early help and screening.
FrontDoorParams = param_record("FrontDoorParams", """
    contact_rate contact_risk_slope risk_reversion risk_volatility
    police_share schools_share health_share early_years_share police_pass_all
    referrer_sigma referrer_threshold rereferral_window_weeks
    mech_early_help early_help_offset early_help_weeks
    screen_sigma screen_threshold integrated_front_door integrated_screen_sigma
    integrated_screen_threshold triage_unit triage_sigma triage_threshold
    ia_target_weeks significant_harm_cut""")


@njit(cache=True, inline="always")
def referrer_type(u, p):
    """Which universal service made the contact, from a uniform draw and the shares."""
    c = p.police_share
    if u < c:
        return 0
    c += p.schools_share
    if u < c:
        return 1
    c += p.health_share
    if u < c:
        return 2
    c += p.early_years_share
    if u < c:
        return 3
    return 4


@njit(cache=True)
def contacts_and_referrals(fam, las, open_list, p, drv, t, rng_contacts, rng_risk,
                           rng_referrer, rng_screen, res, record, forced_list, n_forced):
    """One week of the front door. Returns the number of referrals made and the number of
    contact proposals drawn (the rows thinning read, accepted or not).

    First the referrals forced by severe harm events (the front door cannot screen these
    out), then the contacts, LA by LA. Every referral is screened by one block of the loop,
    and every move (to an initial assessment or early help) is made by one block at the end
    of the visit: both are written out there rather than in helpers, because a helper given
    the tables' arrays takes and releases a reference to each of them on every call
    (docs/performance.md)."""
    n_las = las.fam_start.shape[0]
    nb = las.bin_start.shape[1]
    bound = BOUND_SD * stationary_sd(p.risk_reversion, p.risk_volatility)
    flow = las.flow
    shift = drv.threshold_shift  # defensive practice lowers every threshold
    contact_rate = p.contact_rate * drv.contact_gain  # publicity raises contacts, with a lag
    ref_thr = p.referrer_threshold - shift
    if p.integrated_front_door:  # Case Study 2: specialist, multidisciplinary screening
        screen_sigma, screen_thr = p.integrated_screen_sigma, p.integrated_screen_threshold
    else:
        screen_sigma, screen_thr = p.screen_sigma, p.screen_threshold
    referrals = 0
    proposals = 0
    # the columns state moves touch, bound once
    state, n_children, since, open_pos = fam.state, fam.n_children, fam.since, fam.open_pos
    stock_fam, stock_children, trans = las.stock_fam, las.stock_children, las.trans
    open_idx = open_list.idx
    # the OU transition over every possible elapsed time (risk clocks start at week 0)
    ou_decay, ou_sd = ou_table(p.risk_reversion, p.risk_volatility, t)
    # One LA at a time, every proposal's row is drawn first (bin by bin, lowest risk first),
    # so that each row can be prefetched a few proposals ahead: the rows are scattered over
    # a table of millions of families. cand_max is each proposal's bin bound.
    cand = np.empty(max(4096, n_forced), np.int64)
    cand_max = np.empty(cand.shape[0], np.float64)
    log = decision_log(2 * cand.shape[0])  # the decisions of a segment (core.judge)
    for seg in range(-1, n_las):  # segment -1: the forced referrals; then LA by LA
        forced = seg < 0
        m = 0
        if forced:
            cand[:n_forced] = forced_list[:n_forced]
            m = n_forced
        else:
            for b in range(nb):
                s, e = las.bin_start[seg, b], las.bin_end[seg, b]
                n = e - s
                if n == 0:
                    continue
                lam_max = contact_rate * math.exp(p.contact_risk_slope * (las.bin_base_max[seg, b] + bound))
                k = rng_contacts.poisson(n * lam_max)
                if m + k > cand.shape[0]:  # grow (np.concatenate compiles slowly)
                    grown = np.empty(2 * (m + k), np.int64)
                    grown[:m] = cand[:m]
                    cand = grown
                    grown_max = np.empty(2 * (m + k), np.float64)
                    grown_max[:m] = cand_max[:m]
                    cand_max = grown_max
                for _ in range(k):
                    cand[m] = s + randbelow(rng_contacts, n)
                    cand_max[m] = lam_max
                    m += 1
        if not forced:
            proposals += m
        if log.shape[0] < 2 * m:  # at most two decisions per proposal: referrer, screening
            log = decision_log(2 * m)
        nd = 0
        for j in range(m):
            i = cand[j]
            la = fam.la[i] if forced else seg
            to = -1  # the state the family moves to, if it does (the move ends the visit)
            refer = True
            if forced:
                if fam.state[i] != NONE and fam.state[i] != EARLY_HELP:
                    continue
            else:
                if j + PREFETCH_AHEAD < m:
                    ahead = cand[j + PREFETCH_AHEAD]
                    prefetch(fam.risk, ahead)  # the hot record (every proposal reads it)
                    prefetch(fam.last_closed, ahead)  # the cold one (a referral reads it)
                lam_max = cand_max[j]
                u_accept = rng_contacts.random()
                u_type = rng_contacts.random()
                u_pass = rng_contacts.random()
                # advance_risk, with the transition for the elapsed weeks looked up
                dt = t - fam.risk_t[i]
                if 0 < dt <= t:
                    z = ou_step(fam.base[i], fam.risk[i], ou_decay[dt], ou_sd[dt], rng_risk)
                    fam.risk[i] = z
                    fam.risk_t[i] = t
                else:
                    z = advance_risk(fam, i, t, p.risk_reversion, p.risk_volatility, rng_risk)
                lam = contact_rate * math.exp(p.contact_risk_slope * z)
                if u_accept * lam_max >= lam:
                    continue
                r = referrer_type(u_type, p)
                flow[la, I.FL_CONTACTS] += 1
                las.referrer_flow[la, r, 0] += 1
                if in_social_care(fam.state[i]):
                    flow[la, I.FL_CONTACTS_OPEN_CASE] += 1
                    continue
                if r == 0 and p.triage_unit:
                    # Case Study 1: the partnership triage unit decides every police report
                    flow[la, I.FL_POLICE_TRIAGED] += 1
                    positive, score = judge(z, p.triage_sigma, p.triage_threshold - shift,
                                            rng_referrer, log, nd, D_REFERRER, la)
                    nd += 1
                    if positive:
                        flow[la, I.FL_POLICE_TRIAGE_REFERRALS] += 1
                else:
                    positive, score = judge(z, p.referrer_sigma, ref_thr, rng_referrer, log, nd,
                                            D_REFERRER, la)
                    nd += 1
                    if r == 0 and u_pass < p.police_pass_all:
                        positive = True
                if not positive:
                    refer = False
                    if (p.mech_early_help and fam.state[i] == NONE
                            and score > ref_thr - p.early_help_offset
                            and las.eh_used[la] < las.eh_places[la]):
                        las.referrer_flow[la, r, 2] += 1
                        las.eh_used[la] += 1
                        to = EARLY_HELP
                        fam.due[i] = t + geometric_weeks(p.early_help_weeks, rng_contacts)
                        flow[la, I.FL_EARLY_HELP_STARTS] += 1
                else:
                    las.referrer_flow[la, r, 1] += 1
            if refer:
                # A referral of family i reaches children's social care and is screened.
                referrals += 1
                flow[la, I.FL_REFERRALS] += 1
                flow[la, I.FL_REFERRALS_CHILDREN] += fam.n_children[i]
                if t - fam.last_closed[i] <= p.rereferral_window_weeks:
                    flow[la, I.FL_REREFERRALS] += 1
                fam.n_referrals[i] += 1
                screened_in, _ = judge(fam.risk[i], screen_sigma, screen_thr - shift,
                                       rng_screen, log, nd, D_SCREEN, la)
                nd += 1
                if screened_in or forced:
                    if fam.state[i] == EARLY_HELP:
                        las.eh_used[la] -= 1
                    to = IA
                    fam.due[i] = t + int(math.ceil(p.ia_target_weeks))
                    fam.acc_direct[i] = 0.0
                    fam.acc_record[i] = 0.0
                    fam.work_need[i] = 0.0
                    fam.worker[i] = -1
                    fam.episode_start[i] = t
                    fam.help_start[i] = -1
                    flow[la, I.FL_IA_STARTS] += 1
                else:
                    flow[la, I.FL_SCREENED_OUT] += 1
                    # the integrated team signposts what it screens out to early help where
                    # it can
                    if (p.integrated_front_door and p.mech_early_help and fam.state[i] == NONE
                            and las.eh_used[la] < las.eh_places[la]):
                        las.eh_used[la] += 1
                        to = EARLY_HELP
                        fam.due[i] = t + int(p.early_help_weeks)
                        flow[la, I.FL_EARLY_HELP_STARTS] += 1
            if to >= 0:
                # The move, from no case or early help: core.move_rows' bookkeeping, written
                # out (a call taking its ten columns costs 100-300 ns a move in reference
                # counting; docs/performance.md, section 9). Written here, at the end of
                # the visit, once for every move the front door makes.
                old = state[i]
                nc = n_children[i]
                stock_fam[la, old] -= 1
                stock_fam[la, to] += 1
                stock_children[la, old] -= nc
                stock_children[la, to] += nc
                trans[la, old, to] += 1
                state[i] = to
                since[i] = t
                if open_pos[i] < 0:  # joins the open-case list
                    last = open_list.n[0]
                    open_idx[last] = i
                    open_pos[i] = last
                    open_list.n[0] = last + 1
        if record:  # the segment's decisions, in the order made
            score_decisions(log, np.int64(nd), p.significant_harm_cut, las.decisions, res, t)
    return referrals, proposals


class FrontDoor(Mechanism):
    """Contacts with universal services, the referrer's decision or early help, and the
    front door's screening (switch for early help: ``mech_early_help``). Its early-help
    places follow the parameters (``early_help_places`` per 10,000 children)."""

    name = "front_door"
    Params = FrontDoorParams

    def __init__(self, model):
        self.proposals = 0  # contact proposals drawn last week (thinning's candidate rows)
        super().__init__(model)

    def configure(self, p) -> None:
        super().configure(p)
        las = self.model.las
        las.eh_places[:] = np.round(p.early_help_places * las.children / 1e4)

    def step(self, d) -> None:
        m, harm = self.model, self.model.mechanisms["harm"]
        st = m.streams
        _, self.proposals = self.call(
            contacts_and_referrals, m.fam, m.las, m.open, self.p, d, m._t, st["contacts"],
            st["risk"], st["referrer"], st["screening"], m.res, m.week >= 0, harm.forced,
            harm.n_forced)
