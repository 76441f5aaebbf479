"""The plain-Mesa reference model: the same week as ``ChildProtectionModel._advance_week``,
written as ordinary agent methods (see ``docs/reference.md``).

It supports one local authority (``abm.small_la_scenario(...)`` or a scenario file with
``places = { children = N }``) and records the same weekly outputs, under the same names and
in the same weekly record (``abm.core.record.WeeklyRecord``), as the engine, so
``abm.outputs.tables`` (``summary``, ``tidy``, ``decision_table``) reads either model.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import mesa
import numpy as np
from mesa.agentset import AgentSet

from abm.core import indicators as I
from abm.core import state as S
from abm.core.calendar import Calendar
from abm.core.model import HOUSEHOLD_P, HOUSEHOLD_SIZES, STREAMS
from abm.core.params import PARAMETERS, Params, coerce_value, make_params, validate_overrides
from abm.core.record import CASELOAD_BINS, EXPERIENCE_BINS, WeeklyRecord
from abm.core.scenario import Scenario
from abm.mechanisms.loops import LoopState, effective_scope, step_loops
from abm.reference.agents import Court, Family, LocalAuthority, Referrer, SocialWorker

#: Weeks before the calendar start at which the warm-up court boost ends (as the engine).
BOOST_END_WEEK = -104


def stationary_sd(p) -> float:
    """The spread of a family's risk around its long-run level, in the stationary law of the
    Ornstein-Uhlenbeck process (``population.stationary_sd``)."""
    if p.risk_reversion > 0:
        return p.risk_volatility / math.sqrt(2.0 * p.risk_reversion)
    return p.risk_volatility * 10.0


class ReferenceModel(mesa.Model):
    """Plain-Mesa reference implementation of the child protection model, one LA.

    Parameters
    ----------
    scenario : Scenario
        A validated single-LA scenario. Multi-LA scenarios are refused.
    rng : int, optional
        Root seed. As in the engine, every mechanism draws from its own
        ``numpy.random.Generator``, spawned from ``SeedSequence(rng)`` under the engine's
        stream names; Mesa's own ``self.rng``/``self.random`` (used by ``shuffle_do``) is
        seeded with the same integer. Draws happen in a different order from the engine's,
        so the two models agree in distribution, not run by run.

    The weekly step (``advance_week``), in the engine's order (ODD section 3):
    renewal -> harm -> front door -> allocate -> time use -> idle exposure -> casework ->
    courts -> turnover -> status -> loops -> record.
    """

    def __init__(self, scenario: Scenario, rng: int | None = None):
        if rng is None:
            rng = int(np.random.SeedSequence().entropy % (2**63))
        if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0:
            raise ValueError(f"rng must be a non-negative integer seed, got {rng!r}")
        if len(scenario.places) != 1:
            codes = ", ".join(pl.code for pl in scenario.places[:3])
            more = ", ..." if len(scenario.places) > 3 else ""
            raise ValueError(
                f"ReferenceModel supports a single-LA scenario only; scenario "
                f"'{scenario.name}' has places = {len(scenario.places)} LAs ({codes}{more}); "
                f"valid: exactly 1 (e.g. abm.small_la_scenario(children=5000) or "
                f"places = {{ children = N }} in a scenario file)")
        super().__init__(rng=int(rng))
        self.seed = int(rng)
        self.spec = scenario
        self.calendar = Calendar(scenario.start, scenario.end)
        self.p: Params = scenario.params()
        self.regime = scenario.regime
        seqs = np.random.SeedSequence(self.seed).spawn(len(STREAMS))
        self.streams = {name: np.random.default_rng(sq) for name, sq in zip(STREAMS, seqs, strict=True)}
        self._events = list(scenario.events)
        self._shocks: list[tuple[int, float]] = []
        self.reporting = 0.0  # anxiety as felt in reporting habits (lagged)
        self.court_shift = 0.0  # the threshold shift as felt in care applications (lagged)
        self.status_level = 0.0
        self.turnover_annual = 0.10
        self.loops = LoopState(prescription=self.p.prescription, anchor=self.p.prescription)
        self.forced_referrals: list[Family] = []
        self._build()
        self.week = -self.p.warmup_weeks  # calendar week of the next step
        self._t = 0  # absolute weeks advanced, warm-up included (the engine's kernel clock)
        self._apply_capacities()
        while self.week < 0:
            self.advance_week()
        self.datacollector = mesa.DataCollector(model_reporters={
            "referrals": lambda m: m.last("referrals"),
            "open_cases": lambda m: m.children_in_need(),
            "cp_plans": lambda m: m.la.stock_children[S.CPP],
            "court_open": lambda m: m.la.stock_fam[S.COURT],
            "guardian_queue": lambda m: m.court.unallocated,
            "vacancy_rate": lambda m: m.vacancy_rate(),
            "anxiety": lambda m: m.anxiety(),
        })

    # ------------------------------------------------------------------ construction
    def _build(self) -> None:
        """Households, risk and needs, posts, referrers and the court (ODD section 5)."""
        p, sc = self.p, self.spec
        rng = self.streams["population"]
        place = sc.places[0]
        children = max(1, round(place.children * sc.scale))
        la = LocalAuthority(self, place.code, children, pay=float(rng.normal(0.0, p.local_pay_sd)))
        self.la = la
        # households of 1-4 children; the last takes the remainder so children sum exactly
        sizes = []
        remaining = children
        while remaining > 0:
            size = min(int(rng.choice(HOUSEHOLD_SIZES, p=HOUSEHOLD_P)), remaining)
            sizes.append(size)
            remaining -= size
        stat_sd = stationary_sd(p)
        # long-run risks are sorted, as in the engine, so families can be cut into risk bins
        bases = sorted(rng.normal(0.0, p.risk_baseline_sd) for _ in sizes)
        for size, base in zip(sizes, bases, strict=True):
            risk = base + stat_sd * rng.standard_normal()  # a draw from the stationary law
            pr = 1.0 / (1.0 + math.exp(-(p.need_prevalence_logit + p.need_risk_slope * base)))
            needs = sum(1 << d for d in range(6) if rng.random() < pr)
            la.families.append(Family(self, la, size, float(base), float(risk), needs))
        self.n_families = len(la.families)
        la.stock_fam[S.NONE] = self.n_families
        la.stock_children[S.NONE] = children
        # The engine samples contacts risk bin by risk bin (lowest risk first), in random
        # order within a bin; early-help places go first come, first served in that order.
        n, nb = self.n_families, p.risk_bins
        for b in range(nb):
            for family in la.families[n * b // nb: n * (b + 1) // nb]:
                family.risk_bin = b
        posts = max(1, round(p.workers_per_10k_children * children / 1e4))
        for row in range(posts):
            la.workers.append(SocialWorker(self, la, row // p.team_size, float(rng.exponential(9.0))))
        la.referrers = [Referrer(self, la, kind) for kind in range(S.N_REFERRER_TYPES)]
        self.court = Court(self, [la], max_cases=max(512, self.n_families // 40))
        la.court = self.court
        T = self.calendar.n_weeks
        self.record = WeeklyRecord(T, 1, 1)  # the engine's weekly record: one LA, one court

    @property
    def las(self):
        """What ``abm.outputs.tables`` reads of the engine's LA table: children per LA."""
        return SimpleNamespace(children=np.array([self.la.children], np.int64))

    def _apply_capacities(self) -> None:
        """Early-help places and court capacity from the parameters (re-applied when an event
        changes them); the warm-up court boost until week -104 (ODD section 5, 7.16)."""
        p, la, court = self.p, self.la, self.court
        la.eh_places = round(p.early_help_places * la.children / 1e4)
        served = court.children_served / 1e5
        boost = p.warmup_court_boost if self.week < BOOST_END_WEEK else 1.0
        court.base_slots = p.hearing_slots_per_100k * served * boost
        court.slots = court.base_slots * (1.0 + court.extra_capacity)
        court.base_guardian_capacity = p.guardians_per_100k * served * p.guardian_caseload * boost
        court.guardian_capacity = court.base_guardian_capacity * (1.0 + court.guardian_extra)
        court.expert_capacity = p.expert_reports_per_100k * served * boost

    # ------------------------------------------------------------------ events and anxiety
    def _apply_events(self) -> None:
        """Scenario events dated in or before this week (ODD section 3, step 1)."""
        while self._events and self.calendar.week_of(self._events[0].date) <= self.week:
            ev = self._events.pop(0)
            if ev.type == "media_shock":
                self.media_shock(ev.magnitude)
            elif ev.type == "regime_switch":
                self.p = make_params(dict(ev.regime_params), self.spec.overrides)
                self.regime = ev.regime
            elif ev.type == "set_parameter":
                self.p = self.p._replace(**{ev.parameter: ev.value})
            elif ev.type == "scale_parameter":
                spec = PARAMETERS[ev.parameter]
                v = getattr(self.p, ev.parameter) * ev.value  # checked with the scenario
                self.p = self.p._replace(**{ev.parameter: coerce_value(spec, v, f"event on {ev.date}")})
            self._policy_changed()

    def _policy_changed(self) -> None:
        self._apply_capacities()
        if self.p.prescription != self.loops.anchor:
            self.loops.anchor = self.p.prescription
            self.loops.prescription = self.p.prescription

    def set_params(self, **values) -> None:
        """Change parameters for the weeks still to run (validated)."""
        self.p = self.p._replace(**validate_overrides(values, "set_params"))
        self._policy_changed()

    def media_shock(self, magnitude: float = 1.0) -> None:
        """A media shock in the current week: anxiety jumps and, with the anxiety mechanism on,
        every open CP plan and CIN case gets an added review within ``shock_audit_weeks``, its
        routine review standing (ODD 7.7; ``anxiety.audit_open_cases``)."""
        self._shocks.append((self.week, float(magnitude)))
        weeks = self.p.shock_audit_weeks
        if self.p.mech_anxiety and magnitude > 0 and weeks > 0:
            rng = self.streams["casework"]
            for family in self.la.open_cases:
                if family.state in (S.CPP, S.CIN):  # an added review; the routine one stands
                    due = self._t + 1 + int(rng.random() * weeks)
                    if due < family.due:
                        if family.routine_due < 0:
                            family.routine_due = family.due
                        family.due = due

    def anxiety(self, week: int | None = None, halflife: float | None = None) -> float:
        """Public anxiety: past shocks, each decaying with the half-life (ODD 7.7); with
        ``halflife``, the defensive culture that follows them."""
        week = self.week if week is None else week
        hl = self.p.anxiety_halflife_weeks if halflife is None else halflife
        return float(sum(m * 0.5 ** ((week - w) / hl) for w, m in self._shocks if w <= week))

    # ------------------------------------------------------------------ the weekly step
    @property
    def t(self) -> int:
        """The weekly clock the agents use: absolute weeks since the start of the warm-up."""
        return self._t

    def step(self) -> None:
        """One week (Mesa calls this once per unit of time)."""
        if self.week >= self.calendar.n_weeks:
            self.running = False
            return
        self.advance_week()
        self.datacollector.collect(self)
        if self.week >= self.calendar.n_weeks:
            self.running = False

    def run(self) -> ReferenceModel:
        """Run to the end of the calendar."""
        while self.week < self.calendar.n_weeks:
            self.step()
        return self

    def advance_week(self) -> None:
        """One week, in the order of ``ChildProtectionModel._advance_week`` (ODD section 3)."""
        if self.week == BOOST_END_WEEK:
            self._apply_capacities()  # the warm-up court boost ends
        self._apply_events()
        anxiety = self.anxiety()
        # the loops set this week's prescription, and prescription erodes scope (7.15);
        # publicity raises the contact rate through a first-order lag (7.7)
        self.reporting += (anxiety - self.reporting) / self.p.anxiety_contact_lag_weeks
        contact_gain = (1.0 + self.p.anxiety_contact_gain * self.reporting if self.p.mech_anxiety
                        else 1.0)
        self.pk = self.p._replace(
            prescription=self.loops.prescription,
            scope_for_judgment=effective_scope(self.p, self.loops.prescription, self.loops.anchor),
            contact_rate=self.p.contact_rate * contact_gain)
        p = self.pk
        self.recording = self.week >= 0
        self.shift = (p.anxiety_threshold_shift * self.anxiety(halflife=p.defensive_halflife_weeks)
                      if p.mech_anxiety else 0.0)
        self.court_shift += (self.shift - self.court_shift) / p.anxiety_court_lag_weeks
        self.court_anxiety = anxiety if p.mech_anxiety else 0.0
        theta = p.risk_reversion  # the one-week Ornstein-Uhlenbeck transition (7.1)
        self.ou_decay = math.exp(-theta) if theta > 0 else 1.0
        self.ou_sd = (p.risk_volatility * math.sqrt((1.0 - self.ou_decay ** 2) / (2.0 * theta))
                      if theta > 0 else p.risk_volatility)
        la = self.la
        la.start_week()
        families = self.agents_by_type[Family]
        workers = self.agents_by_type[SocialWorker]

        # 0. households with no open case leave, and new ones take their places (7.1)
        self._renew_households()
        # 1. each family's week: risk moves, rare severe harm at a hazard rising with risk,
        #    contacts of concern at a rate rising with risk (7.1-7.3)
        self.forced_referrals = []
        self.contacted = [[] for _ in range(p.risk_bins)]
        families.do("step")
        # 2. the front door: forced referrals first, then the contacts, risk bin by risk bin
        #    (lowest first) and in random order within a bin, as the engine samples them;
        #    early-help places go first come, first served (7.3-7.5)
        for family in self.forced_referrals:
            if family.state in (S.NONE, S.EARLY_HELP):
                la.receive_referral(family, forced=True)
        for families_in_bin in self.contacted:
            AgentSet(families_in_bin, random=self.random).shuffle_do("meet_universal_services")
        # 3. allocation of new and orphaned cases to the least-loaded worker (7.8)
        la.allocate()
        # 4. time use: hours split between direct work and recording (7.9)
        la.count_unallocated_cases()
        la.update_cover_gap()
        workers.do("use_time")
        # 4b. the exposure to harm of the families with no open case, every one counted (the
        #     engine estimates it from a sample); casework counts the open cases (7.2)
        self._count_idle_exposure()
        # 5. casework on every open case (7.10-7.12, 7.17)
        for family in list(la.open_cases):
            family.casework()
        # 6. care proceedings (7.16)
        self.agents_by_type[Court].do("step")
        # 6b. the courts find capacity when their lists overflow, with a lag (7.16)
        if p.court_capacity_response > 0:
            self.court.find_capacity(p)
        if p.guardian_staffing_response > 0:
            self.court.find_guardians(p)
        # 7. the workforce: quits, agency cover, recruitment (7.13-7.14)
        self.recruitment_lag = p.recruitment_weeks * math.exp(-p.status_recruit_slope * self.status_level)
        workers.do("turnover")
        # 8. professional status follows turnover and blame (7.14)
        self._update_status(anxiety)
        # 9. the learning loops move prescription (7.15)
        f = la.flow
        shocks_now = sum(m for w, m in self._shocks if w == self.week)
        errors = f[I.FL_HARM_KNOWN] + shocks_now * self.p.media_error_weight * la.children / 1e5
        step_loops(self.loops, self.p, f[I.FL_IA_ON_TIME] + f[I.FL_CA_ON_TIME],
                   f[I.FL_IA_COMPLETED] + f[I.FL_CA_COMPLETED], float(errors), float(la.children))
        if self.recording:
            self._record(anxiety)
        self._t += 1
        self.week += 1

    def _renew_households(self) -> None:
        """Each household with no open case is renewed at ``household_renewal_rate`` a year:
        rows drawn uniformly, as the engine draws them (``population.renew_households``)."""
        p = self.pk
        q = p.household_renewal_rate * 7.0 / 365.25
        if q <= 0.0:
            return
        rng = self.streams["renewal"]
        families = self.la.families
        stat_sd = stationary_sd(p)
        for _ in range(rng.binomial(len(families), q)):
            family = families[int(rng.integers(len(families)))]
            if family.state == S.NONE:
                family.renew(stat_sd, rng)

    def _count_idle_exposure(self) -> None:
        """Children of the families with no open case whose risk is above the
        significant-harm cut, every family counted (``population.harm_exposure``, which
        estimates the same count from a sample of each risk bin)."""
        cut, flow = self.pk.significant_harm_cut, self.la.flow
        for family in self.agents_by_type[Family]:
            if family.state == S.NONE and family.risk > cut:
                flow[I.FL_UNPROTECTED_HARM_WEEKS] += family.n_children

    def _update_status(self, anxiety: float) -> None:
        """National turnover EMA (26 weeks) and professional status (7.14;
        ``Ripple.step``)."""
        p = self.pk
        permanent = max(1, sum(1 for w in self.la.workers if w.status == S.PERMANENT))
        leavers = self.la.flow[I.FL_LEAVERS]
        self.turnover_annual += (leavers * 52.0 / permanent - self.turnover_annual) / 26.0
        if p.mech_status:
            target = (-p.status_turnover_slope * (self.turnover_annual - 0.10)
                      - p.status_blame_slope * anxiety)
            self.status_level += (target - self.status_level) / p.status_adapt_weeks

    def _record(self, anxiety: float) -> None:
        """This week's outputs into the engine's weekly record (``ChildProtectionModel._record``)."""
        w, la, rec, p = self.week, self.la, self.record, self.pk
        rec.flow[w, 0] = la.flow
        rec.stock_fam[w, 0] = la.stock_fam
        rec.stock_children[w, 0] = la.stock_children
        rec.trans[w, 0] = la.trans
        rec.decisions[w, 0] = la.decisions
        rec.referrers[w, 0] = [r.weekly for r in la.referrers]
        rec.reunify[w] = la.reunify
        rec.score_hist[w] = la.score_hist
        for r in la.referrers:
            r.total = [a + b for a, b in zip(r.total, r.weekly, strict=True)]
        avail = max(0.0, p.worker_hours - p.other_hours)
        work = np.zeros(I.N_WORK)
        for wk in la.workers:
            filled = wk.filled
            cost = (p.agency_cost_ratio if wk.status == S.AGENCY else 1.0) * filled * p.worker_weekly_cost
            values = {"posts": 1.0, "permanent": wk.status == S.PERMANENT,
                      "agency": wk.status == S.AGENCY, "vacant": not filled,
                      "caseload": wk.caseload * filled, "direct_hours": wk.direct_hours,
                      "record_hours": wk.record_hours, "demand_hours": wk.demand_hours,
                      "available_hours": filled * avail, "experience_sum": wk.experience * filled,
                      "satisfaction_sum": wk.satisfaction * filled,
                      "stress_sum": wk.stress * filled, "cost": cost,
                      "contracted_hours": filled * p.worker_hours}
            work += [values[name[len("work_"):]] for name in I.WORK_NAMES]
            if filled:
                rec.caseload_hist[w, min(wk.caseload, CASELOAD_BINS - 1)] += 1
                rec.experience_hist[w, min(int(wk.experience), EXPERIENCE_BINS - 1)] += 1
        rec.work[w, 0] = work
        court = self.court
        rec.court[w, 0] = [getattr(court, field) for field in I.COURT_FIELDS]
        lp = self.loops
        values = {"anxiety": anxiety, "threshold_shift": self.shift,
                  "professional_status": self.status_level,
                  "turnover_annual_rate": self.turnover_annual, "prescription": lp.prescription,
                  "scope_for_judgment": p.scope_for_judgment, "compliance": lp.compliance,
                  "error_rate": lp.error_rate, "hidden_error_share": lp.hidden_share,
                  "loop_b1_pull": lp.pull_b1, "loop_b2_pull": lp.pull_b2, "loop_r_pull": lp.pull_r}
        rec.national[w] = [values[name] for name in I.NATIONAL_NAMES]

    # ------------------------------------------------------------------ convenience
    def last(self, flow: str) -> int:
        """Value of a weekly flow in the last recorded week."""
        w = self.week - 1
        return int(self.record.flow[w, 0, I.FLOW_NAMES.index(flow)]) if w >= 0 else 0

    @property
    def weeks_recorded(self) -> int:
        """Calendar weeks stepped so far (the rows of the weekly record in use)."""
        return min(max(self.week, 0), self.calendar.n_weeks)

    def children_in_need(self) -> int:
        return sum(self.la.stock_children[s] for s in S.SOCIAL_CARE_STATES)

    def vacancy_rate(self) -> float:
        workers = self.la.workers
        return sum(1 for w in workers if w.status == S.VACANT) / len(workers)

    def describe(self) -> dict:
        return {"scenario": self.spec.name, "seed": self.seed, "regime": self.regime,
                "implementation": "reference (plain Mesa)", "las": 1,
                "children": self.la.children, "families": self.n_families,
                "posts": len(self.la.workers), "courts": 1, "weeks": self.calendar.n_weeks}


def family_weeks(model) -> int:
    """Families x weeks advanced so far, warm-up included, for the engine
    (``ChildProtectionModel``) or the reference: the unit of work for throughput
    (family-weeks per second). Both models run their warm-up in the constructor, so time
    construction plus ``run()`` against this count."""
    return int(model.n_families) * int(model._t)
