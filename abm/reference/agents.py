"""Plain-Mesa agents of the reference implementation: state as Python attributes, behaviour as
ordinary Python methods.

The docstrings (or the comment heading a group of methods) say which engine kernel
(``abm/mechanisms/*.py``, ``abm/core/kernels.py``) and which ODD submodel (``docs/ODD.md``
section 7.x) each method mirrors. The code follows the kernels line by line where
the order of operations matters, and is written to be read as the executable specification.
Nothing here uses Numba or vectorised NumPy: NumPy only supplies the random streams.

The agents:

* :class:`Family` - a household: latent risk, needs and its caseflow state.
* :class:`Referrer` - one universal service (police, schools, health, early years, other)
  in an LA: it decides whether a contact of concern becomes a referral or early help.
* :class:`LocalAuthority` - the LA's front door (screening), its early-help places, the
  allocation of cases to workers and the LA's weekly counters.
* :class:`SocialWorker` - a social-work post: permanent, agency or vacant, with its cases.
* :class:`Court` - a family court centre with its children's guardians and hearing slots;
  each care case is a :class:`CareCase` record held by the court.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mesa

from abm.core import indicators as I
from abm.core import state as S
from abm.core.state import (
    AGENCY,
    CA,
    CARE,
    CIN,
    COURT,
    CPP,
    EARLY_HELP,
    IA,
    NONE,
    PERMANENT,
    VACANT,
)
from abm.mechanisms.courts import (
    ADJOURNED,
    C_ADJOURNED,
    C_CASE_MANAGEMENT,
    C_EXPERTS,
    C_FIRST_HEARING,
    C_GUARDIAN,
    C_LISTING,
    PLANNED,
    REPORTS,
    planned_interval,
    report_weeks,
    respond,
)

POLICE = 0  # referrer type 0 (abm.core.state.REFERRER_TYPES)
SUBSTANCE_MISUSE = 1  # need-domain bit 0 (FDAC eligibility)


# ---------------------------------------------------------------------------------- helpers
def geometric_weeks(mean: float, rng) -> int:
    """Whole weeks (>= 1) with the given mean: a geometric waiting time
    (``kernels.geometric_weeks``, ``abm/core/kernels.py``)."""
    if mean <= 1.0:
        return 1
    return 1 + int(rng.exponential(mean - 1.0) + 0.5)


def in_social_care(state: int) -> bool:
    """An open children's social care case: IA, CA, CIN, CPP, COURT or CARE."""
    return IA <= state <= CARE


def case_direct_demand(state: int, p) -> float:
    """Direct-work hours per week a case needs in this state (ODD 7.9;
    ``workload.case_direct_demand``)."""
    if state == IA or state == CA:
        return p.direct_hours_assessment
    if state == CIN or state == CARE:
        return p.direct_hours_cin
    if state == CPP:
        return p.direct_hours_cpp
    if state == COURT:
        return p.direct_hours_court
    return 0.0


def worker_sigma(experience: float, p) -> float:
    """Noise of a worker's risk estimates before the per-case direct-time factor (ODD 7.6;
    ``taylor_russell.worker_sigma``)."""
    return (p.worker_sigma_base
            * (1.0 + p.sigma_inexperience * math.exp(-experience / p.experience_scale_years))
            * (1.0 + p.sigma_low_scope * (1.0 - p.scope_for_judgment))
            * (1.0 + p.sigma_low_supervision * (1.0 - p.supervision_quality)))


def response_match(needs: int, p) -> float:
    """Requisite variety: share of the family's need domains the response can meet
    (ODD 7.12; ``requisite_variety.response_match``)."""
    if not p.mech_requisite_variety:
        return 1.0
    k = bin(needs).count("1")
    if k == 0:
        return 1.0
    variety = p.service_range * (0.4 + 0.6 * p.scope_for_judgment)
    return min(1.0, variety / k)


def skill_index(sig: float, p) -> float:
    """Judgment skill on a case, 0 (worst) to just under 1 (ODD 7.6;
    ``taylor_russell.skill_index``)."""
    floor = p.worker_sigma_base
    worst = ((1.0 + p.sigma_inexperience) * (1.0 + p.sigma_low_direct_time)
             * (1.0 + p.sigma_low_scope) * (1.0 + p.sigma_low_supervision))
    x = 1.0 - (sig / floor - 1.0) / (worst - 1.0) if worst > 1.0 else 1.0
    return min(0.999, max(0.0, x))


def referrer_type(u: float, p) -> int:
    """Which universal service made a contact, from a uniform draw and the shares (ODD 7.3)."""
    shares = (p.police_share, p.schools_share, p.health_share, p.early_years_share)
    c = 0.0
    for kind, share in enumerate(shares):
        c += share
        if u < c:
            return kind
    return len(shares)  # "other"


# ---------------------------------------------------------------------------------- families
class Family(mesa.Agent):
    """A household (all its children share one caseflow state; ODD 2.1-2.2).

    Attributes mirror the engine's ``Families`` table (``abm/core/state.py``); ``worker`` is a
    :class:`SocialWorker` (or None) and ``court_case`` a :class:`CareCase` (or None).
    """

    def __init__(self, model, la: LocalAuthority, n_children: int, base: float, risk: float,
                 needs: int):
        super().__init__(model)
        self.la = la
        self.n_children = n_children
        self.base = base  # long-run latent risk b (lasting change after a plan lowers it)
        self.base_origin = base  # a new household's long-run risk in this place (renewal)
        self.risk = risk  # current latent risk z, valid for the current week
        self.needs = needs  # bitmask of 6 need domains
        self.state = NONE
        self.since = 0  # week the current state began
        self.due = 0  # week of the next scheduled event in this state
        self.routine_due = -1  # the routine review an audit review came before (-1: none)
        self.worker: SocialWorker | None = None
        self.acc_direct = 0.0  # direct hours received in the current assessment
        self.acc_record = 0.0  # recording done in the current assessment, weeks at full pace
        self.work_need = 0.0  # the work it needs, weeks at full pace (0: not drawn yet)
        self.last_closed = -1_000_000
        self.episode_start = -1
        self.help_start = -1
        self.n_worker_changes = 0
        self.n_referrals = 0
        self.n_harm = 0
        self.n_plans = 0  # plans this household started (a later one is a repeat plan)
        self.court_case: CareCase | None = None
        self.order = 0  # 0 none, 1 care order awaiting review, 2 placement order, 3 kept in care
        self.returned = -1  # week the child went home from care (within the 52-week window)
        self.return_bin = 0  # skill decile of the worker who decided the return
        self.risk_bin = 0  # the engine's risk bin (order of contact processing)
        self.contacts_this_week = 0

    # ---- state changes (ODD 7.0; casework.apply_moves, kernels.move)
    def move_to(self, new_state: int) -> None:
        """The only way a state changes: keeps the LA's stocks, transitions and open cases."""
        la, t = self.la, self.model.t
        old = self.state
        if old == CPP:  # the plan ends: its length, in the DfE's bands (7.11)
            weeks = t - self.since
            la.flow[I.FL_CP_PLANS_ENDED] += self.n_children
            la.flow[I.FL_CP_PLAN_DURATION_WEEKS_SUM] += weeks * self.n_children
            band = next(b for b, w in enumerate(I.CPP_BAND_MAX_WEEKS) if weeks <= w)
            la.flow[I.FL_CPP_DURATION_BANDS + band] += self.n_children
        la.stock_fam[old] -= 1
        la.stock_fam[new_state] += 1
        la.stock_children[old] -= self.n_children
        la.stock_children[new_state] += self.n_children
        la.trans[old][new_state] += 1
        self.state = new_state
        self.since = t
        if new_state == NONE:
            la.open_cases.pop(self, None)
        else:
            la.open_cases[self] = None

    def renew(self, stat_sd: float, rng) -> None:
        """A new household, with no history, takes this one's place in the risk distribution
        (``population.renew_households``)."""
        self.base = self.base_origin
        self.risk = self.base_origin + stat_sd * rng.normal()
        self.last_closed = -1_000_000
        self.returned = -1
        self.n_worker_changes = 0
        self.n_referrals = 0
        self.n_harm = 0
        self.n_plans = 0

    def lasting_change(self, persistence: float) -> None:
        """A plan ending because risk has fallen leaves that share of the fall below the
        long-run level in the level (``casework.lasting_change``)."""
        gain = self.base - self.risk
        if gain > 0.0:
            self.base -= persistence * gain

    def start_help(self) -> None:
        """First help of the episode: the child's journey from referral to help ends (7.17)."""
        if self.help_start < 0 and self.episode_start >= 0:
            t = self.model.t
            self.help_start = t
            self.la.flow[I.FL_JOURNEY_WEEKS_SUM] += t - self.episode_start
            self.la.flow[I.FL_JOURNEYS] += 1

    def close_case(self) -> None:
        """Closure: the worker is freed, the closure week kept for re-referrals (7.11)."""
        if self.worker is not None:
            self.worker.cases.pop(self)
            self.worker = None
        self.last_closed = self.model.t
        self.episode_start = -1
        self.help_start = -1
        self.la.flow[I.FL_CLOSURES] += 1
        self.move_to(NONE)

    def to_child_in_need(self) -> None:
        self.move_to(CIN)
        self.due = self.model.t + math.ceil(self.model.pk.cin_review_weeks)
        self.la.flow[I.FL_CIN_STARTS] += 1
        self.start_help()

    def to_cp_plan(self) -> None:
        self.move_to(CPP)
        self.due = self.model.t + math.ceil(self.model.pk.cpp_review_weeks)
        self.la.flow[I.FL_CPP_STARTS] += 1
        self.la.flow[I.FL_CPP_STARTS_CHILDREN] += self.n_children
        if self.n_plans > 0:  # a repeat plan
            self.la.flow[I.FL_CPP_REPEAT_STARTS_CHILDREN] += self.n_children
        self.n_plans += 1
        self.start_help()

    def to_core_assessment(self) -> None:
        """Start a core assessment / s47 enquiry (from an IA or a CIN review)."""
        self.reunification_breakdown_check()
        self.move_to(CA)
        self.due = self.model.t + math.ceil(self.model.pk.ca_target_weeks)
        self.acc_direct = 0.0
        self.acc_record = 0.0
        self.work_need = 0.0
        self.la.flow[I.FL_CA_STARTS] += 1
        self.la.flow[I.FL_CA_STARTS_CHILDREN] += self.n_children

    def reunification_breakdown_check(self) -> None:
        """A new s47 enquiry or care application within 52 weeks of going home from care is a
        breakdown, counted against the deciding worker's skill decile (7.17)."""
        if self.returned >= 0:
            if self.model.t - self.returned <= 52:
                self.la.reunify[self.return_bin][1] += 1
                self.la.flow[I.FL_REUNIFICATION_BREAKDOWNS] += 1
            self.returned = -1

    # ---- step 1: risk, severe harm and contacts (ODD 7.1-7.3; population.harm_events and
    # advance_risk, frontdoor.contacts_and_referrals)
    def step(self) -> None:
        """The family's week: its latent risk moves by one week of the Ornstein-Uhlenbeck
        process; it suffers Poisson(h(z)) severe harm events, h(z) = h0 exp(beta z); and it
        has Poisson(lambda(z)) contacts of concern with universal services,
        lambda(z) = c0 exp(gamma z), which the referrers handle in step 2
        (:meth:`meet_universal_services`).

        The engine advances risk lazily and samples harm and contacts by thinning within
        risk bins; here every family simply steps every week with the exact one-week
        transition and Poisson counts, which have the same distribution. The number of
        contacts depends only on this week's risk, so it is drawn here; what each contact
        leads to is decided in step 2, after the forced referrals. A harm event the services
        missed (no open social-care case) queues a forced referral."""
        m = self.model
        p = m.pk
        streams = m.streams
        z = self.base + (self.risk - self.base) * m.ou_decay + m.ou_sd * streams["risk"].standard_normal()
        self.risk = z
        if p.mech_harm_events:
            for _ in range(streams["harm"].poisson(p.harm_hazard_base * math.exp(p.harm_hazard_slope * z))):
                self.suffer_harm()
        self.contacts_this_week = streams["contacts"].poisson(
            p.contact_rate * math.exp(p.contact_risk_slope * z))
        if self.contacts_this_week:
            m.contacted[self.risk_bin].append(self)

    def suffer_harm(self) -> None:
        """A severe harm event: known if the family has an open social-care case, else
        missed, and then a forced referral the front door cannot screen out (ODD 7.2)."""
        self.n_harm += 1
        self.la.flow[I.FL_HARM_EVENTS] += 1
        if in_social_care(self.state):
            self.la.flow[I.FL_HARM_KNOWN] += 1
        else:
            self.la.flow[I.FL_HARM_MISSED] += 1
            self.model.forced_referrals.append(self)

    # ---- step 2: contacts with universal services (ODD 7.3; frontdoor.contacts_and_referrals)
    def meet_universal_services(self) -> None:
        """This week's contacts of concern, one by one: each comes from a referrer type
        drawn from the shares, and that referrer decides what happens."""
        rng = self.model.streams["contacts"]
        p = self.model.pk
        for _ in range(self.contacts_this_week):
            kind = referrer_type(rng.random(), p)
            self.la.referrers[kind].receive_contact(self)

    # ---- step 5: casework on an open case (ODD 7.10-7.12, 7.17; casework.casework)
    def casework(self) -> None:
        """One week of casework on this open case: drift and delay, help, then the state's
        assessment, review or decision when it is due."""
        m = self.model
        p, t, shift = m.pk, m.t, m.shift
        s = self.state
        w = self.worker
        ratio = w.direct_ratio if w is not None else 0.0
        if s != EARLY_HELP and self._is_late(s, w):
            self.la.flow[I.FL_DELAY_WEEKS] += self.n_children
        # help received this week lowers current risk (7.12)
        if s in (CIN, CPP, CARE, EARLY_HELP):
            efficacy = p.help_efficacy * response_match(self.needs, p)
            efficacy *= p.early_help_efficacy_factor if s == EARLY_HELP else min(1.5, ratio)
            self.risk -= efficacy
        # the week's exposure to harm, in the state the week began in (7.2)
        protective = s in (CPP, COURT, CARE)
        if self.risk > p.significant_harm_cut:
            if not protective:
                self.la.flow[I.FL_UNPROTECTED_HARM_WEEKS] += self.n_children
        elif protective:
            self.la.flow[I.FL_UNNECESSARY_INTERVENTION_WEEKS] += self.n_children
        if s == EARLY_HELP:
            if t >= self.due:  # the episode ends, the place is freed (7.4)
                self.la.eh_used -= 1
                self.la.flow[I.FL_EARLY_HELP_ENDS] += 1
                self.move_to(NONE)
        elif s == IA:
            self._initial_assessment(p, t, shift)
        elif s == CA:
            self._core_assessment(p, t, shift)
        elif s == CIN and t >= self.due:
            self._child_in_need_review(p, t, shift, min(1.0, ratio))
        elif s == CPP and t >= self.due:
            self._plan_review(p, t, shift, min(1.0, ratio))
        elif s == CARE and t >= self.due:
            self._care_review(p, t, shift, min(1.0, ratio))

    def _is_late(self, s: int, w) -> bool:
        """Drift and delay this week: past a timescale, long in court, or unallocated (7.17)."""
        p, age = self.model.pk, self.model.t - self.since
        return ((s == IA and age > math.ceil(p.ia_target_weeks))
                or (s == CA and age > math.ceil(p.ca_target_weeks))
                or (s == COURT and age > p.court_delay_norm_weeks)
                or w is None)

    def case_sigma(self, direct_quality: float) -> float:
        """Noise of a decision on this case: the worker's, widened by missing direct time; a
        duty manager's (newly qualified, no direct time) if no worker is in post (7.6)."""
        p = self.model.pk
        if self.worker is not None:
            base = self.worker.sigma
        else:
            base = (p.worker_sigma_base * (1.0 + p.sigma_inexperience)
                    * (1.0 + p.sigma_low_scope * (1.0 - p.scope_for_judgment)))
        return base * (1.0 + p.sigma_low_direct_time * (1.0 - direct_quality))

    def _assessment_done(self, mean_work: float) -> bool:
        """This week's work on the assessment; is it complete? (7.10) Its work need is
        drawn in its first week (lognormal, mean ``mean_work`` weeks at full pace); a week
        adds its worker's record ratio (the share of the recording time needed it got)."""
        p, t = self.model.pk, self.model.t
        if self.work_need <= 0.0:
            s2 = math.log(1.0 + p.assessment_work_cv ** 2)
            z = self.model.streams["casework"].standard_normal()
            self.work_need = mean_work * math.exp(math.sqrt(s2) * z - 0.5 * s2)
        w = self.worker
        if w is not None:
            self.acc_direct += case_direct_demand(self.state, p) * min(1.0, w.direct_ratio)
            self.acc_record += w.record_ratio
        return self.acc_record >= self.work_need or t - self.since > 52

    def _initial_assessment(self, p, t: int, shift: float) -> None:
        la = self.la
        if not self._assessment_done(p.ia_work_weeks):
            return
        la.flow[I.FL_IA_COMPLETED] += 1
        if t <= self.due:  # within its timescale
            la.flow[I.FL_IA_ON_TIME] += 1
        required = p.ia_target_weeks * p.direct_hours_assessment  # the direct work it should get
        dq = min(1.0, self.acc_direct / required) if required > 0 else 1.0
        s47, score = la.judge(S.D_IA, self.risk, self.case_sigma(dq),
                              p.ia_threshold_s47 - shift, self.model.streams["casework"])
        if s47:
            if self.risk <= p.significant_harm_cut:
                la.flow[I.FL_UNNECESSARY_INVESTIGATIONS] += 1
            self.to_core_assessment()
        elif score > p.ia_threshold_cin - shift:
            self.to_child_in_need()
        else:
            self.close_case()

    def _core_assessment(self, p, t: int, shift: float) -> None:
        la = self.la
        rng = self.model.streams["casework"]
        if not self._assessment_done(p.ca_work_weeks):
            return
        la.flow[I.FL_CA_COMPLETED] += 1
        if t <= self.due:  # within its timescale
            la.flow[I.FL_CA_ON_TIME] += 1
        required = p.ca_target_weeks * p.direct_hours_assessment  # the direct work it should get
        dq = min(1.0, self.acc_direct / required) if required > 0 else 1.0
        conference, score = la.judge(S.D_CA, self.risk, self.case_sigma(dq),
                                     p.ca_threshold_conference - shift, rng)
        if conference:  # the child protection conference decides with its own noise
            la.flow[I.FL_CONFERENCES] += 1
            plan, _ = la.judge(S.D_CONFERENCE, self.risk, p.conference_sigma,
                               p.conference_threshold - shift, rng)
            if plan:
                self.to_cp_plan()
            else:
                self.to_child_in_need()
        elif score > p.ia_threshold_cin - shift:
            self.to_child_in_need()
        else:
            self.close_case()

    def _child_in_need_review(self, p, t: int, shift: float, dq: float) -> None:
        """CIN review (7.11): escalate to a core assessment, close, or review again."""
        routine, self.routine_due = self.routine_due, -1  # after an audit, the routine one
        score = self.risk + self.case_sigma(dq) * self.model.streams["casework"].standard_normal()
        if score > p.ia_threshold_s47 - shift:
            self.to_core_assessment()
        elif score < p.close_threshold - shift and t - self.since >= p.cin_min_weeks:
            self.close_case()
        elif routine > t:
            self.due = routine
        else:
            self.due = t + math.ceil(p.cin_review_weeks)

    def _plan_review(self, p, t: int, shift: float, dq: float) -> None:
        """CP plan review conference (7.11): the LA's decision to apply for care proceedings;
        otherwise the plan ends if risk has fallen (closure, or a step down to child-in-need
        services), or continues to its next review."""
        la = self.la
        routine, self.routine_due = self.routine_due, -1  # after an audit, the routine one
        apply, score = la.judge(S.D_COURT, self.risk, p.la_court_sigma + 0.5 * self.case_sigma(dq),
                                p.court_threshold - self.model.court_shift,  # lagged
                                self.model.streams["casework"])
        # the plan ends if risk has fallen; at the first review only exceptionally
        first = t - self.since <= math.ceil(p.cpp_review_weeks)
        end = p.cpp_first_review_threshold if first else p.cpp_step_down_threshold
        if apply:
            self.reunification_breakdown_check()
            self.move_to(COURT)  # the court opens its case record this week
            self.court_case = None
            la.flow[I.FL_COURT_APPLICATIONS] += 1
            la.flow[I.FL_COURT_APPLICATIONS_CHILDREN] += self.n_children
        elif score < end - shift:
            self.lasting_change(p.plan_change_persistence)
            if score < p.close_threshold - shift:
                self.close_case()  # risk has fallen so far that the case closes
            else:
                self.to_child_in_need()  # step down
        elif routine > t:
            self.due = routine
        else:
            self.due = t + math.ceil(p.cpp_review_interval_weeks)

    def _care_review(self, p, t: int, shift: float, dq: float) -> None:
        """Review of a looked-after child (7.11, 7.17): reunification or permanence."""
        la = self.la
        if self.order == 1:  # a care order: going home is a judgment under uncertainty
            sig = self.case_sigma(dq)
            if self.risk + sig * self.model.streams["casework"].standard_normal() < p.reunify_threshold - shift:
                decile = int(skill_index(sig, p) * S.N_SKILL_BINS)
                self.returned = t
                self.return_bin = decile
                la.reunify[decile][0] += 1
                la.flow[I.FL_REUNIFICATION_ATTEMPTS] += 1
                self.order = 0
                self.to_child_in_need()  # home, with support
            else:
                self.order = 3  # stays in long-term care
                self.due = t + math.ceil(p.care_weeks)
        else:
            self.order = 0  # adoption or leaving care
            self.close_case()


# ---------------------------------------------------------------------------------- referrers
class Referrer(mesa.Agent):
    """A universal service of one type in one LA (ODD 7.3-7.4; ``contacts_and_referrals``).

    It counts its contacts, referrals and early-help offers, weekly and in total."""

    def __init__(self, model, la: LocalAuthority, kind: int):
        super().__init__(model)
        self.la = la
        self.kind_code = kind
        self.weekly = [0, 0, 0]  # contacts, referrals, early-help offers this week
        self.total = [0, 0, 0]

    @property
    def kind(self) -> str:
        return S.REFERRER_TYPES[self.kind_code]

    def receive_contact(self, family: Family) -> None:
        """A contact of concern: count it; if the family has no open case, decide (a
        Taylor-Russell decision), then refer, offer early help, or do nothing."""
        m, la = self.model, self.la
        p, shift = m.pk, m.shift
        la.flow[I.FL_CONTACTS] += 1
        self.weekly[0] += 1
        if in_social_care(family.state):
            la.flow[I.FL_CONTACTS_OPEN_CASE] += 1
            return
        rng = m.streams["referrer"]
        threshold = p.referrer_threshold - shift
        if self.kind_code == POLICE and p.triage_unit:
            # Case Study 1: the partnership triage unit decides every police report
            la.flow[I.FL_POLICE_TRIAGED] += 1
            refer, score = la.judge(S.D_REFERRER, family.risk, p.triage_sigma,
                                    p.triage_threshold - shift, rng)
            if refer:
                la.flow[I.FL_POLICE_TRIAGE_REFERRALS] += 1
        else:
            refer, score = la.judge(S.D_REFERRER, family.risk, p.referrer_sigma, threshold, rng)
            # some police reports are passed on whatever their signal (domestic violence)
            if self.kind_code == POLICE and m.streams["contacts"].random() < p.police_pass_all:
                refer = True
        if refer:
            self.weekly[1] += 1
            la.receive_referral(family, forced=False)
        elif (p.mech_early_help and family.state == NONE
              and score > threshold - p.early_help_offset and la.eh_used < la.eh_places):
            self.weekly[2] += 1
            la.start_early_help(family, geometric_weeks(p.early_help_weeks, m.streams["contacts"]))


# ---------------------------------------------------------------------------------- the LA
class LocalAuthority(mesa.Agent):
    """A local authority's children's social care: front door, early-help places, the
    allocation of cases to its workers, and its weekly counters (the engine's ``LAState``).

    Weekly counters are plain lists indexed by the constants of ``abm/core/state.py``
    (``flow[I.FL_REFERRALS]``, ...), so the model records them under the engine's names."""

    def __init__(self, model, code: str, children: int, pay: float):
        super().__init__(model)
        self.code = code
        self.children = children
        self.pay = pay  # local pay index (log), sets the recruitment lag (7.14)
        self.families: list[Family] = []
        self.workers: list[SocialWorker] = []
        self.referrers: list[Referrer] = []
        self.court: Court | None = None
        self.open_cases: dict[Family, None] = {}  # insertion-ordered set of families not in NONE
        self.cover_gap = 0.0  # share of posts vacant or agency-held, set before time use
        self.eh_places = 0
        self.eh_used = 0
        self.stock_fam = [0] * S.N_STATES
        self.stock_children = [0] * S.N_STATES
        self.start_week()

    def start_week(self) -> None:
        """Zero the weekly counters (ODD 3, step 3)."""
        self.flow = [0] * I.N_FLOWS
        self.trans = [[0] * S.N_STATES for _ in range(S.N_STATES)]
        self.decisions = [[0] * 4 for _ in range(S.N_DECISIONS)]
        self.score_hist = [[[0] * S.SCORE_BINS, [0] * S.SCORE_BINS] for _ in range(S.N_DECISIONS)]
        self.reunify = [[0, 0] for _ in range(S.N_SKILL_BINS)]
        for r in self.referrers:
            r.weekly = [0, 0, 0]

    def judge(self, decision: int, true_risk: float, sigma: float, threshold: float, rng):
        """A Taylor-Russell decision (ODD 7.6; ``taylor_russell.judge`` and
        ``taylor_russell.score_decisions``): a noisy estimate of true risk against a
        threshold, scored against the truth (TP/FP/TN/FN) in recorded weeks. Returns
        (positive, score)."""
        score = true_risk + sigma * rng.standard_normal()
        positive = score > threshold
        if self.model.recording:
            truly = true_risk > self.model.pk.significant_harm_cut
            cell = (S.TP if truly else S.FP) if positive else (S.FN if truly else S.TN)
            self.decisions[decision][cell] += 1
            b = int((score - S.SCORE_LO) / (S.SCORE_HI - S.SCORE_LO) * S.SCORE_BINS)
            self.score_hist[decision][1 if truly else 0][min(S.SCORE_BINS - 1, max(0, b))] += 1
        return positive, score

    def start_early_help(self, family: Family, weeks: int) -> None:
        """Take an early-help place (ODD 7.4)."""
        self.eh_used += 1
        family.move_to(EARLY_HELP)
        family.due = self.model.t + weeks
        self.flow[I.FL_EARLY_HELP_STARTS] += 1

    def receive_referral(self, family: Family, forced: bool) -> None:
        """The front door (ODD 7.5; the screening in ``frontdoor.contacts_and_referrals``):
        count the referral, screen it, and open an initial assessment or take no further
        action.
        A referral forced by severe harm cannot be screened out."""
        m = self.model
        p, t, shift = m.pk, m.t, m.shift
        self.flow[I.FL_REFERRALS] += 1
        self.flow[I.FL_REFERRALS_CHILDREN] += family.n_children
        if t - family.last_closed <= p.rereferral_window_weeks:
            self.flow[I.FL_REREFERRALS] += 1
        family.n_referrals += 1
        if p.integrated_front_door:  # Case Study 2: specialist, multidisciplinary screening
            sigma, threshold = p.integrated_screen_sigma, p.integrated_screen_threshold
        else:
            sigma, threshold = p.screen_sigma, p.screen_threshold
        screened_in, _ = self.judge(S.D_SCREEN, family.risk, sigma, threshold - shift,
                                    m.streams["screening"])
        if screened_in or forced:
            if family.state == EARLY_HELP:
                self.eh_used -= 1
            family.move_to(IA)
            family.due = t + math.ceil(p.ia_target_weeks)
            family.acc_direct = 0.0
            family.acc_record = 0.0
            family.work_need = 0.0
            family.worker = None
            family.episode_start = t
            family.help_start = -1
            self.flow[I.FL_IA_STARTS] += 1
        else:
            self.flow[I.FL_SCREENED_OUT] += 1
            # the integrated team signposts what it screens out to early help where it can
            if (p.integrated_front_door and p.mech_early_help and family.state == NONE
                    and self.eh_used < self.eh_places):
                self.start_early_help(family, int(p.early_help_weeks))

    def allocate(self) -> None:
        """Allocate every social-care case without a worker in post to the least-loaded
        filled post of the LA (ties: the first post), and count changes of social worker
        (ODD 7.8; ``workload.allocate``)."""
        t = self.model.t
        for family in self.open_cases:
            if family.state == EARLY_HELP:
                continue
            old = family.worker
            if old is not None and old.status != VACANT:
                # a new person took this post at the end of last week: a new social worker
                if old.changed == t - 1:
                    family.n_worker_changes += 1
                    self.flow[I.FL_WORKER_CHANGES] += 1
                continue
            best = None
            for w in self.workers:
                if w.status != VACANT and (best is None or w.caseload < best.caseload):
                    best = w
            if old is not None:
                old.cases.pop(family)
                family.worker = None
            if best is None:
                continue  # every post in the LA is vacant: the case waits
            if old is not None:
                family.n_worker_changes += 1
                self.flow[I.FL_WORKER_CHANGES] += 1
            family.worker = best
            best.cases[family] = None

    def update_cover_gap(self) -> None:
        """The share of the LA's posts without a permanent holder, vacant or covered by
        agency staff, which strains every worker in post (7.13; ``workload.cover_gap``)."""
        self.cover_gap = sum(w.status != PERMANENT for w in self.workers) / len(self.workers)

    def count_unallocated_cases(self) -> None:
        """Case-weeks without a worker in post (counted by ``workload.allocate`` in the
        engine)."""
        for family in self.open_cases:
            if family.state != EARLY_HELP and family.worker is None:
                self.flow[I.FL_UNALLOCATED_CASE_WEEKS] += 1


# ---------------------------------------------------------------------------------- workers
class SocialWorker(mesa.Agent):
    """A social-work post in an LA team: permanent, agency, or vacant (the engine's
    ``Workers`` row). ``cases`` is an insertion-ordered set of the families it holds."""

    def __init__(self, model, la: LocalAuthority, team: int, experience: float):
        super().__init__(model)
        self.la = la
        self.team = team
        self.status = PERMANENT
        self.experience = experience  # years
        self.cases: dict[Family, None] = {}
        self.direct_ratio = 1.0
        self.record_ratio = 1.0
        self.direct_hours = 0.0
        self.record_hours = 0.0
        self.demand_hours = 0.0
        self.satisfaction = 0.0
        self.stress = 0.0
        self.hire_due = -1
        self.agency_due = -1
        self.changed = -1  # week a new person took the post
        self.sigma = 1.0

    @property
    def caseload(self) -> int:
        return len(self.cases)

    @property
    def filled(self) -> bool:
        return self.status != VACANT

    def use_time(self) -> None:
        """Split this week's hours between direct work and recording by the squeeze rule;
        update satisfaction, stress and judgment noise (ODD 7.9, 7.13;
        ``workload.time_use``)."""
        p = self.model.pk
        if self.status == VACANT:
            self.direct_hours = self.record_hours = self.demand_hours = 0.0
            return
        direct_need = 0.0
        record_need = 0.0
        for family in self.cases:
            d = case_direct_demand(family.state, p)
            direct_need += d
            record_need += d * p.recording_ratio * p.prescription
        avail = max(0.0, p.worker_hours - p.other_hours)
        if not p.mech_workload_squeeze:
            direct, record = direct_need, record_need
        elif p.compliance_priority:  # recording (and so deadlines) first
            record = min(record_need, avail)
            direct = min(direct_need, avail - record)
        else:  # judgment: direct work protected, up to a floor kept for recording
            direct = min(direct_need, avail * (1.0 - p.judgment_min_recording_share))
            record = min(record_need, avail - direct)
        spare = max(0.0, avail - direct - record)
        if direct_need > 0 and direct >= direct_need:  # judgment space: extra direct work
            direct += spare * p.scope_for_judgment * p.spare_time_direct_share
        self.direct_ratio = direct / direct_need if direct_need > 0 else 1.0
        self.record_ratio = record / record_need if record_need > 0 else 1.0
        self.direct_hours = direct
        self.record_hours = record
        self.demand_hours = direct_need + record_need
        pressure = (direct_need + record_need) / avail if avail > 0 else 10.0
        # overload, plus the strain of the LA's cover gap: the ripple loop (7.13)
        stress_target = max(0.0, pressure - 1.0) + p.ripple_gain * self.la.cover_gap
        direct_share = direct / (direct + record) if direct + record > 0 else p.direct_share_norm
        sat_target = (p.satisfaction_direct_weight * (direct_share - p.direct_share_norm)
                      + p.satisfaction_scope_weight * (p.scope_for_judgment - 0.5)
                      - stress_target)
        alpha = 1.0 / p.satisfaction_adapt_weeks
        self.satisfaction += alpha * (sat_target - self.satisfaction)
        self.stress += alpha * (stress_target - self.stress)
        self.sigma = worker_sigma(self.experience, p)

    def turnover(self) -> None:
        """Quits, agency cover and recruitment for this post (ODD 7.13-7.14;
        ``ripple.turnover_and_recruitment``)."""
        m = self.model
        p, t, rng = m.pk, m.t, m.streams["workforce"]
        la = self.la
        lag = m.recruitment_lag * math.exp(-p.pay_recruit_slope * la.pay)  # local pay
        if self.status != VACANT:
            self.experience += 1.0 / 52.0
        if self.status == PERMANENT and p.mech_turnover:
            hazard = min(p.quit_hazard_max,
                         p.quit_hazard_base * math.exp(p.quit_stress_slope * self.stress
                                                       - p.quit_satisfaction_slope * self.satisfaction))
            if rng.random() < hazard:
                self.status = VACANT
                la.flow[I.FL_LEAVERS] += 1
                self.hire_due = t + geometric_weeks(lag, rng)
                self.agency_due = t + 2 if rng.random() < p.agency_fill_share else -1
                return
        elif self.status == AGENCY:
            if rng.random() < 1.0 / p.agency_stay_weeks:  # the agency worker moves on
                self.status = VACANT
                self.agency_due = t + 2 if rng.random() < p.agency_fill_share else -1
                if self.hire_due < 0:
                    self.hire_due = t + geometric_weeks(lag, rng)
                return
        if self.status == PERMANENT:
            return
        if self.hire_due >= 0 and t >= self.hire_due:  # a permanent recruit starts
            self.status = PERMANENT
            self.experience = 0.0 if rng.random() < p.newly_qualified_share else rng.exponential(5.0)
            self._new_person(t)
            self.hire_due = -1
            la.flow[I.FL_JOINERS] += 1
        elif self.status == VACANT and self.agency_due >= 0 and t >= self.agency_due:
            self.status = AGENCY
            self.experience = rng.exponential(5.0)
            self._new_person(t)
            la.flow[I.FL_AGENCY_STARTS] += 1

    def _new_person(self, t: int) -> None:
        self.satisfaction = 0.0
        self.stress = 0.0
        self.agency_due = -1
        self.changed = t


# ---------------------------------------------------------------------------------- courts
@dataclass(eq=False)
class CareCase:
    """The court's record of one set of care proceedings (the engine's ``CourtCases`` row)."""

    family: Family
    number: int  # order of opening, the tie-break where the engine uses the table row
    opened: int
    hearings_needed: int
    experts: int
    expert_due: int
    fdac: bool
    next_hearing: int
    interval: int  # weeks between hearings, as the judge's timetable sets them
    guardian: bool = False
    guardian_wait_from: int = 0
    hearings_done: int = 0
    ineffective: int = 0
    wait_reason: int = PLANNED  # why it waits for its next listing
    expert_queued: int = 0  # expert reports commissioned but not yet started
    expert_queued_since: int = 0  # week those reports were commissioned
    components: list[int] = field(default_factory=lambda: [0] * len(I.COURT_COMPONENTS))


class Court(mesa.Agent):
    """A family court centre: its hearing slots, its children's guardians (a capacity of
    cases), and the care cases before it (ODD 7.16; ``courts.courts_step``)."""

    def __init__(self, model, las: list[LocalAuthority], max_cases: int):
        super().__init__(model)
        self.las = las
        self.children_served = float(sum(la.children for la in las))
        self.max_cases = max_cases  # the engine's case-table size; beyond it, cases wait
        self.base_slots = 0.0  # hearing slots a week before any capacity found (7.16)
        self.extra_capacity = 0.0  # capacity found under listing pressure, a share of base_slots
        self.slots = 0.0
        self.guardian_capacity = 0.0
        self.base_guardian_capacity = 0.0  # before the staffing response
        self.guardian_extra = 0.0  # capacity the guardian service added, a share of the base
        self.guardians_used = 0
        self.credit = 0.0
        self.expert_capacity = 0.0  # expert reports the experts serving the area start a week
        self.expert_credit = 0.0  # fractional expert starts carried to next week
        self.experts_waiting = 0  # expert reports waiting for an expert
        self.experts_queued = 0  # the same, read at the week's end
        self.cases: list[CareCase] = []
        self.opened_total = 0
        self.open_cases = self.unallocated = self.listed = self.held = self.ineffective = 0
        self.open_age_weeks_sum = 0

    def step(self) -> None:
        """One week of care proceedings: intake, guardians, hearings, statistics."""
        self.listed = self.held = self.ineffective = 0
        # the experts' capacity this week (unused capacity is lost, but for a fraction)
        self.expert_credit = min(self.expert_credit, 1.0) + self.expert_capacity
        self.take_in_applications()
        self.serve_expert_queue()
        self.allocate_guardians()
        self.hold_hearings()
        self.open_cases = len(self.cases)
        t = self.model.t
        for case in self.cases:  # the component of its duration each case spent the week in
            case.components[self.component(case, t)] += 1
        self.open_age_weeks_sum = sum(t - case.family.since for case in self.cases)
        self.unallocated = sum(1 for case in self.cases if not case.guardian)
        self.experts_queued = sum(case.expert_queued for case in self.cases)

    @staticmethod
    def component(case: CareCase, t: int) -> int:
        """Which component of its duration an open case spends week ``t`` in."""
        if case.hearings_done == 0:
            return C_FIRST_HEARING
        if not case.guardian:
            return C_GUARDIAN
        if case.next_hearing <= t:
            return C_LISTING  # due, but not reached in this week's list
        if case.wait_reason == REPORTS:
            return C_EXPERTS
        return C_ADJOURNED if case.wait_reason == ADJOURNED else C_CASE_MANAGEMENT

    def find_capacity(self, p) -> None:
        """6b. When more hearings are listed than base slots, the courts find capacity with a
        lag (7.16; ``courts.respond``, shared with the engine's ``Courts.step``)."""
        self.extra_capacity = float(respond(self.extra_capacity, self.listed, self.base_slots,
                                            p.court_capacity_response, p.court_capacity_lag_weeks))
        self.slots = self.base_slots * (1.0 + self.extra_capacity)

    def find_guardians(self, p) -> None:
        """6c. The guardian service answers sustained demand beyond its base capacity, with a
        lag (7.16; ``respond``, shared with the engine)."""
        demand = self.guardians_used + self.unallocated
        self.guardian_extra = float(respond(self.guardian_extra, demand,
                                            self.base_guardian_capacity,
                                            p.guardian_staffing_response,
                                            p.guardian_staffing_lag_weeks))
        self.guardian_capacity = self.base_guardian_capacity * (1.0 + self.guardian_extra)

    def start_report(self, case: CareCase, since: int) -> None:
        """An expert starts one of the case's reports (commissioned in week ``since``): it is
        in after the expert's own time, held to the timetable's deadline (1b)."""
        m = self.model
        p, t, rng = m.pk, m.t, m.streams["court"]
        self.expert_credit -= 1.0
        weeks = report_weeks.py_func(geometric_weeks(p.expert_weeks, rng),
                                     case.hearings_needed, case.interval, p)
        case.expert_due = max(case.expert_due, t + weeks)
        case.family.la.flow[I.FL_EXPERT_REPORTS_STARTED] += 1
        case.family.la.flow[I.FL_EXPERT_QUEUE_WEEKS_SUM] += t - since

    def commission_reports(self, case: CareCase, n: int) -> None:
        """Each report starts at once if none waits and the week's capacity allows, else it
        joins the national expert queue (1b)."""
        t = self.model.t
        for _ in range(n):
            if self.experts_waiting == 0 and self.expert_credit >= 1.0:
                self.start_report(case, t)
            else:
                case.expert_queued += 1
                case.expert_queued_since = t
                self.experts_waiting += 1

    def serve_expert_queue(self) -> None:
        """1b. Experts start the waiting reports, first come first served, while this week's
        capacity lasts."""
        waiting = sorted((c for c in self.cases if c.expert_queued > 0),
                         key=lambda c: (c.expert_queued_since, c.number))
        for case in waiting:
            while case.expert_queued > 0 and self.expert_credit >= 1.0:
                self.start_report(case, case.expert_queued_since)
                case.expert_queued -= 1
                self.experts_waiting -= 1
            if self.expert_credit < 1.0:
                return

    def take_in_applications(self) -> None:
        """1. Intake: each new application gets a case record (``open_case``)."""
        m = self.model
        p, t, rng = m.pk, m.t, m.streams["court"]
        for la in self.las:
            for family in la.open_cases:
                if family.state != COURT or family.court_case is not None:
                    continue
                if len(self.cases) >= self.max_cases:
                    continue  # the case table is full: the application waits
                # complexity: simple cases need fewer hearings, complex ones more
                shape = p.case_complexity_shape
                z = rng.gamma(shape, 1.0 / shape) if shape > 0 else 1.0
                hearings_needed = p.hearings_min + rng.poisson(
                    max(0.0, p.hearings_mean - p.hearings_min) * z)
                interval = planned_interval.py_func(hearings_needed, p)
                defensive = 1.0 + p.anxiety_expert_gain * m.court_anxiety
                n_experts = min(p.expert_cap, rng.poisson(p.experts_mean * defensive))
                fdac = bool(p.fdac and (family.needs & SUBSTANCE_MISUSE)
                            and rng.random() < p.fdac_engagement)
                if fdac:
                    n_experts = min(n_experts, 1)  # the FDAC team does the assessment work
                    la.flow[I.FL_FDAC_ENGAGED] += 1
                case = CareCase(
                    family=family, number=self.opened_total, opened=t,
                    hearings_needed=hearings_needed, interval=interval,
                    experts=n_experts, expert_due=t, fdac=fdac, next_hearing=t + 1,
                    guardian_wait_from=t)
                self.opened_total += 1
                self.commission_reports(case, n_experts)
                la.flow[I.FL_COURT_EXPERTS_COMMISSIONED] += n_experts
                la.flow[I.FL_COURT_EXPERT_COST] += int(n_experts * p.expert_cost)
                family.court_case = case
                self.cases.append(case)

    def allocate_guardians(self) -> None:
        """2. Children's guardians, first come first served among the cases past the
        administrative allocation time, up to capacity."""
        t = self.model.t
        admin = math.ceil(self.model.p.guardian_allocation_weeks)
        waiting = sorted((c for c in self.cases if not c.guardian and t - c.opened >= admin),
                         key=lambda c: (c.opened, c.number))
        for case in waiting:
            if self.guardians_used + 1 <= self.guardian_capacity:
                self.guardians_used += 1
                case.guardian = True
                la = case.family.la
                la.flow[I.FL_GUARDIANS_ALLOCATED] += 1
                la.flow[I.FL_GUARDIAN_WAIT_WEEKS_SUM] += t - case.guardian_wait_from

    def hold_hearings(self) -> None:
        """3. Hearings: listed cases compete for slots (urgent first hearings first if that
        lever is on, then past-timetable cases, then by listing week); a final hearing takes
        one slot plus ``final_hearing_slots_per_expert`` per expert; a hearing may be
        ineffective; a final hearing concludes
        the case."""
        m = self.model
        p, t, rng = m.pk, m.t, m.streams["court"]
        # beyond the first hearing, a case is listed only once it has a guardian
        listed = [c for c in self.cases if c.next_hearing <= t
                  and (c.guardian or c.hearings_done + c.ineffective == 0)]
        self.listed = len(listed)

        def tier(c):
            if p.urgent_first_hearings and c.hearings_done + c.ineffective == 0:
                return 0
            return 1 if t - c.opened > p.timetable_weeks else 2
        listed.sort(key=lambda c: (tier(c), c.next_hearing, c.number))
        self.credit += self.slots
        for case in listed:
            final = case.hearings_done + 1 >= case.hearings_needed
            # a final hearing runs longer the more expert evidence it must hear
            cost = 1.0 + p.final_hearing_slots_per_expert * case.experts if final else 1.0
            if self.credit < cost:
                continue  # no room in this week's list: it stays listed
            self.credit -= cost
            self.held += 1
            la = case.family.la
            la.flow[I.FL_COURT_HEARINGS_HELD] += 1
            # listing pressure: hearings listed per slot beyond the onset of overrunning lists
            overload = (max(0.0, self.listed / self.slots - p.court_load_onset) if self.slots > 0
                        else 10.0)
            experts_in = t >= case.expert_due and case.expert_queued == 0
            p_ineffective = p.ineffective_base + p.ineffective_load_slope * overload / (1.0 + overload)
            # judicial continuity cuts adjournments for case management and crowded lists
            p_ineffective *= 1.0 - p.judicial_continuity * p.continuity_adjournment_reduction
            if not case.guardian and not p.duty_allocation:
                p_ineffective += p.ineffective_no_guardian
            if case.hearings_done + 2 >= case.hearings_needed and not experts_in:
                p_ineffective += p.ineffective_expert_missing  # issues-resolution or final
            u_ineffective = rng.random()
            u_late_expert = rng.random()
            if (final and not experts_in) or u_ineffective < min(0.95, p_ineffective):
                case.ineffective += 1
                self.ineffective += 1
                la.flow[I.FL_COURT_HEARINGS_INEFFECTIVE] += 1
                relist = t + math.ceil(p.adjourn_weeks)
                if final and not experts_in:
                    relist = max(relist, case.expert_due)
                case.next_hearing = relist
                needs_reports = case.hearings_done + 2 >= case.hearings_needed
                case.wait_reason = REPORTS if needs_reports and not experts_in else ADJOURNED
                continue
            case.hearings_done += 1
            if final:
                self.conclude(case)
                continue
            case.next_hearing = t + case.interval
            case.wait_reason = PLANNED
            p_late = p.late_expert_probability * (1.0 + p.anxiety_expert_gain * m.court_anxiety)
            if (t - case.opened <= p.timetable_weeks and case.experts < p.expert_cap
                    and u_late_expert < p_late  # the cycle of multiple assessments
                    and case.expert_queued == 0):  # not while earlier reports wait
                case.experts += 1
                self.commission_reports(case, 1)
                la.flow[I.FL_COURT_EXPERTS_COMMISSIONED] += 1
                la.flow[I.FL_COURT_EXPERT_COST] += int(p.expert_cost)
        # unused slots are lost, except what the longest final hearing needs
        self.credit = min(self.credit, 1.0 + p.final_hearing_slots_per_expert * p.expert_cap)

    def conclude(self, case: CareCase) -> None:
        """4. The final hearing: record the concluded case and decide its outcome
        (``conclude``)."""
        m = self.model
        p, t, rng = m.pk, m.t, m.streams["court"]
        family = case.family
        flow = family.la.flow
        age = t - family.since  # weeks since the application
        flow[I.FL_COURT_CONCLUDED] += 1
        flow[I.FL_COURT_DURATION_WEEKS_SUM] += age
        case.components[C_FIRST_HEARING] += case.opened - family.since  # waiting for a record
        for j, weeks in enumerate(case.components):
            flow[I.FL_COURT_COMPONENTS + j] += weeks
        week_applied = family.since - (t - m.week)  # calendar week of the application
        if 0 <= week_applied < m.record.cohort.shape[0]:
            m.record.cohort[week_applied, I.CO_CONCLUDED] += 1
            m.record.cohort[week_applied, I.CO_DURATION_WEEKS_SUM] += age
        flow[I.FL_COURT_HEARINGS_SUM_CONCLUDED] += case.hearings_done + case.ineffective
        flow[I.FL_COURT_EXPERTS_SUM_CONCLUDED] += case.experts
        flow[I.FL_COURT_CONCLUDED_WITH_EXPERTS] += case.experts > 0
        flow[I.FL_COURT_CONCLUDED_WITHIN_40_WEEKS] += age <= 40
        if case.guardian:
            self.guardians_used -= 1
        if case.fdac:
            family.risk -= p.fdac_risk_reduction  # treatment has taken hold
        score = family.risk + p.court_sigma * rng.standard_normal()
        u = rng.random()
        flow[I.FL_PERMANENCES] += 1
        if score > p.order_threshold:
            flow[I.FL_CARE_ORDERS] += 1
            family.move_to(CARE)
            if u < p.placement_order_share:
                family.order = 2
                flow[I.FL_OUTCOME_PLACEMENT_ORDER] += 1
                wait = p.permanence_weeks * (0.5 if p.parallel_planning else 1.0)
                permanence = geometric_weeks(wait, rng) if wait > 0 else 0
                family.due = t + permanence + geometric_weeks(p.care_weeks, rng)
                flow[I.FL_PERMANENCE_WEEKS_SUM] += age + permanence
            else:
                family.order = 1
                flow[I.FL_OUTCOME_CARE_ORDER] += 1
                family.due = t + geometric_weeks(p.care_weeks, rng)
                flow[I.FL_PERMANENCE_WEEKS_SUM] += age
        else:
            flow[I.FL_PERMANENCE_WEEKS_SUM] += age
            if u < p.supervision_share:
                flow[I.FL_OUTCOME_SUPERVISION] += 1
                family.to_child_in_need()
            else:
                flow[I.FL_OUTCOME_HOME] += 1
                family.to_cp_plan()
        self.cases.remove(case)
        family.court_case = None
