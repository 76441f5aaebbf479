"""The Mesa model: builds the state tables, steps the caseflow weekly, records outputs.

``ChildProtectionModel.step`` reads like the caseflow. Each line is one named mechanism,
implemented as a Numba kernel over the arrays in ``abm.core.state``, and can be switched off
with its ``mech_*`` parameter.
"""

from __future__ import annotations

import contextlib
import gc

import mesa
import numpy as np
from numba.core.typing.typeof import Purpose, typeof

from abm.core import indicators as I
from abm.core import state as S
from abm.core.calendar import Calendar
from abm.core.params import Params, make_params
from abm.core.record import WeeklyRecord
from abm.core.scenario import Scenario
from abm.mechanisms.casework import audit_open_cases, casework
from abm.mechanisms.court_capacity import respond
from abm.mechanisms.courts import courts_step
from abm.mechanisms.frontdoor import contacts_and_referrals
from abm.mechanisms.loops import LoopState, effective_scope, step_loops
from abm.mechanisms.population import harm_events, init_families
from abm.mechanisms.workforce import allocate, record_workforce, time_use, turnover_and_recruitment

#: One random stream per mechanism, spawned from one SeedSequence (common random numbers).
STREAMS = ("population", "risk", "harm", "contacts", "referrer", "screening", "casework",
           "court", "workforce")
HOUSEHOLD_SIZES = np.array([1, 2, 3, 4], np.int8)
HOUSEHOLD_P = np.array([0.45, 0.38, 0.12, 0.05])  # assumption: children per household
RESERVOIR_SIZE = 4096
AGENT_VIEW_MAX_FAMILIES = 400_000


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector for the block, then restore it as it was.

    Loading the kernels from the Numba cache allocates some 70,000 Python objects (types,
    signatures, libraries), and each threshold crossing makes the collector traverse the
    whole heap of Numba, Mesa and NumPy objects: about 0.3 s of a one-LA run's 0.9 s. The
    weekly step creates no reference cycles (only arrays and tuples freed by reference
    counting), so nothing accumulates while the collector waits; it runs as usual after.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class ChildProtectionModel(mesa.Model):
    """Agent-based model of children's social care and care proceedings in England.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (``abm.load_scenario`` or ``abm.small_la_scenario``).
    rng : int, optional
        Root seed. Every mechanism draws from its own stream spawned from
        ``SeedSequence(rng)``, so two scenarios run with the same seed share random numbers.
    agent_views : "auto", "all", "no_families" or False
        Mesa agent views. "all": every worker post, referrer, court and open-case family.
        "no_families": the same without families (national scale: no per-family Python
        objects). "auto" (default) picks "all" up to 400,000 families, else "no_families".
    """

    def __init__(self, scenario: Scenario, rng: int | None = None, *, agent_views="auto"):
        if rng is None:
            rng = int(np.random.SeedSequence().entropy % (2**63))
        if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0:
            raise ValueError(f"rng must be a non-negative integer seed, got {rng!r}")
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
        self.reporting = 0.0  # anxiety as felt in reporting habits (lagged; anxiety_contact_lag_weeks)
        self.status_level = 0.0
        self.turnover_annual = 0.10
        self.loops = LoopState(prescription=self.p.prescription, anchor=self.p.prescription)
        self._tracks: dict[int, list[tuple]] = {}
        self._entries: dict = {}  # kernel -> compiled entry point (see _kernel)
        self._entry_p = None
        with gc_paused():  # loading the kernels from the Numba cache (see gc_paused)
            self._build()
            self.week = -self.p.warmup_weeks  # calendar week index of the next step
            self._t = 0  # absolute week counter (warm-up included), the kernels' clock
            while self.week < 0:
                self._advance_week()
        if agent_views == "auto":
            agent_views = "all" if self.n_families <= AGENT_VIEW_MAX_FAMILIES else "no_families"
        if agent_views not in ("all", "no_families", True, False):
            raise ValueError(f"agent_views must be 'auto', 'all', 'no_families' or a bool, "
                             f"got {agent_views!r}")
        self.agent_views = "all" if agent_views is True else agent_views
        self._family_views: dict[int, object] = {}
        if self.agent_views:
            self._make_agent_views()
        self.datacollector = mesa.DataCollector(model_reporters={
            "referrals": lambda m: m.last("referrals"),
            "open_cases": lambda m: m.children_in_need(),
            "cp_plans": lambda m: int(m.las.stock_children[:, S.CPP].sum()),
            "court_open": lambda m: int(m.las.stock_fam[:, S.COURT].sum()),
            "guardian_queue": lambda m: int(m.courts.unallocated.sum()),
            "vacancy_rate": lambda m: m.vacancy_rate(),
            "anxiety": lambda m: m.anxiety(),
        })

    # ------------------------------------------------------------------ construction
    def _build(self) -> None:
        p, sc = self.p, self.spec
        rng = self.streams["population"]
        places = sc.places
        L = len(places)
        children = np.array([max(1, round(pl.children * sc.scale)) for pl in places], np.int64)
        sizes = []
        for n in children:
            draw = rng.choice(HOUSEHOLD_SIZES, size=int(n / 1.7) + 64, p=HOUSEHOLD_P)
            c = np.cumsum(draw)
            k = int(np.searchsorted(c, n))
            fam = draw[: k + 1].copy()
            fam[-1] -= c[k] - n  # last household takes the remainder so children sum exactly
            if fam[-1] <= 0:
                fam = fam[:-1]
            sizes.append(fam)
        n_fam = np.array([len(s) for s in sizes], np.int64)
        N = int(n_fam.sum())
        self.n_families = N
        fam = S.empty_families(N)
        fam.n_children[:] = np.concatenate(sizes)
        fam_end = np.cumsum(n_fam)
        fam_start = fam_end - n_fam
        court_codes = sorted({pl.court for pl in places})
        # In a 1-in-N sample of children, N court centres are pooled into one, so that each
        # simulated court still handles a real court's number of cases at once: queueing
        # delay depends on that number, so pooling keeps durations scale-free.
        pool = max(1, round(1.0 / sc.scale))
        court_index = {c: k // pool for k, c in enumerate(court_codes)}
        posts = np.maximum(1, np.round(p.workers_per_10k_children * children / 1e4)).astype(np.int64)
        w_end = np.cumsum(posts)
        w_start = w_end - posts
        B = p.risk_bins
        las = S.LAState(
            pay=rng.normal(0.0, p.local_pay_sd, L),
            children=children, families=n_fam, fam_start=fam_start, fam_end=fam_end,
            court=np.array([court_index[pl.court] for pl in places], np.int64),
            worker_start=w_start, worker_end=w_end,
            bin_start=np.zeros((L, B), np.int64), bin_end=np.zeros((L, B), np.int64),
            bin_base_max=np.zeros((L, B), np.float64),
            eh_places=np.zeros(L, np.int64), eh_used=np.zeros(L, np.int64),
            stock_fam=np.zeros((L, S.N_STATES), np.int64),
            stock_children=np.zeros((L, S.N_STATES), np.int64),
            trans=np.zeros((L, S.N_STATES, S.N_STATES), np.int64),
            flow=np.zeros((L, I.N_FLOWS), np.int64),
            decisions=np.zeros((L, S.N_DECISIONS, 4), np.int64),
            referrer_flow=np.zeros((L, S.N_REFERRER_TYPES, 3), np.int64),
            reunify=np.zeros((S.N_SKILL_BINS, 2), np.int64),
        )
        init_families(fam, las, p, rng)
        las.stock_fam[:, S.NONE] = n_fam
        las.stock_children[:, S.NONE] = children
        W = int(posts.sum())
        work = S.empty_workers(W)
        for la in range(L):
            work.la[w_start[la]:w_end[la]] = la
            work.team[w_start[la]:w_end[la]] = np.arange(posts[la]) // p.team_size
        work.status[:] = S.PERMANENT
        # experience at the start: exponential with a 9-year mean (assumption, near the
        # stationary mean the workforce settles to during the warm-up)
        work.experience[:] = rng.exponential(9.0, W).astype(np.float32)
        C = max(court_index.values()) + 1
        served = np.bincount(las.court, weights=children, minlength=C)
        z = lambda: np.zeros(C, np.int64)  # noqa: E731
        courts = S.Courts(slots=np.zeros(C), guardian_capacity=np.zeros(C), guardians_used=z(),
                          credit=np.zeros(C), extra_capacity=np.zeros(C), children_served=served, open_cases=z(),
                          unallocated=z(), listed=z(), held=z(), ineffective=z())
        self.cases = S.empty_court_cases(max(512, N // 40))
        self.fam, self.las, self.work, self.courts = fam, las, work, courts
        self.open = S.OpenList(idx=np.zeros(N, np.int32), n=np.zeros(1, np.int64))
        self.res = S.Reservoir(
            true_risk=np.zeros((S.N_DECISIONS, RESERVOIR_SIZE), np.float32),
            score=np.zeros((S.N_DECISIONS, RESERVOIR_SIZE), np.float32),
            threshold=np.zeros((S.N_DECISIONS, RESERVOIR_SIZE), np.float32),
            week=np.full((S.N_DECISIONS, RESERVOIR_SIZE), -1, np.int32),
            count=np.zeros(S.N_DECISIONS, np.int64),
            hist=np.zeros((S.N_DECISIONS, 2, S.SCORE_BINS), np.int64),
        )
        self._forced = np.zeros(max(1024, N // 1000), np.int64)
        # the families whose LA applied for care proceedings this week (casework -> courts)
        self._applied = np.zeros(max(256, N // 2000), np.int64)
        #: contact proposals the front door drew last week (thinning's candidate rows)
        self.contact_proposals = 0
        # each post's demand for direct and recording hours this week (allocate -> time_use)
        self._demand = np.zeros((2, len(self.work.la)))
        self.week = -p.warmup_weeks
        self._apply_capacities()
        self.record = WeeklyRecord(self.calendar.n_weeks, L, C)
        self.referrers_total = np.zeros((L, S.N_REFERRER_TYPES, 3), np.int64)

    def _apply_capacities(self) -> None:
        """Capacities that follow parameters (re-applied when an event changes them)."""
        p = self.p
        self.las.eh_places[:] = np.round(p.early_help_places * self.las.children / 1e4)
        served = self.courts.children_served / 1e5
        self.courts.slots[:] = self._base_slots() * (1.0 + self.courts.extra_capacity)
        self.courts.guardian_capacity[:] = (p.guardians_per_100k * served * p.guardian_caseload
                                            * self._court_boost())

    def _court_boost(self) -> float:
        return self.p.warmup_court_boost if self.week < -104 else 1.0  # clears the start-up wave

    def _base_slots(self) -> np.ndarray:
        """Hearing slots per week of each court centre before any capacity it has found."""
        return self.p.hearing_slots_per_100k * (self.courts.children_served / 1e5) * self._court_boost()

    # ------------------------------------------------------------------ time and events
    def _apply_events(self) -> None:
        while self._events and self.calendar.week_of(self._events[0].date) <= self.week:
            ev = self._events.pop(0)
            if ev.type == "media_shock":
                self.media_shock(ev.magnitude)
            elif ev.type == "regime_switch":
                base = make_params(dict(ev.regime_params), self.spec.overrides)
                self.p = base
                self.regime = ev.regime
            elif ev.type == "set_parameter":
                self.p = self.p._replace(**{ev.parameter: ev.value})
            elif ev.type == "scale_parameter":
                from abm.core.params import PARAMETERS, coerce_value
                v = getattr(self.p, ev.parameter) * ev.value
                v = coerce_value(PARAMETERS[ev.parameter], min(v, PARAMETERS[ev.parameter].hi),
                                 f"event on {ev.date}")
                self.p = self.p._replace(**{ev.parameter: v})
            self._policy_changed()

    def _policy_changed(self) -> None:
        """After a regime or parameter change: capacities, and the loops' anchor. A policy
        that sets prescription sets it now; the loops then act from there."""
        self._apply_capacities()
        if self.p.prescription != self.loops.anchor:
            self.loops.anchor = self.p.prescription
            self.loops.prescription = self.p.prescription

    def set_params(self, **values) -> None:
        """Change parameters from now on (validated; used by the app and experiments)."""
        from abm.core.params import validate_overrides
        self.p = self.p._replace(**validate_overrides(values, "set_params"))
        self._policy_changed()

    def media_shock(self, magnitude: float = 1.0) -> None:
        """A media shock now (the app's button); same effect as a dated event: public anxiety
        jumps and, with the anxiety mechanism on, open plans are audited."""
        self._shocks.append((self.week, float(magnitude)))
        if self.p.mech_anxiety and magnitude > 0:
            audit_open_cases(self.fam, self.open, self._t, self.p.shock_audit_weeks,
                             self.streams["casework"])

    def anxiety(self, week: int | None = None, halflife: float | None = None) -> float:
        """Public anxiety: the sum of past shocks, each decaying with the half-life (by
        default ``anxiety_halflife_weeks``)."""
        week = self.week if week is None else week
        hl = self.p.anxiety_halflife_weeks if halflife is None else halflife
        return float(sum(m * 0.5 ** ((week - w) / hl) for w, m in self._shocks if w <= week))

    # ------------------------------------------------------------------ the weekly step
    def step(self) -> None:
        """One week of the caseflow (Mesa calls this once per unit of time)."""
        if self.week >= self.calendar.n_weeks:
            self.running = False
            return
        self._advance_week()
        if self.agent_views == "all":
            self._sync_family_views()
        self.datacollector.collect(self)
        if self.week >= self.calendar.n_weeks:
            self.running = False

    def _advance_week(self) -> None:
        if self.week == -104:
            self._apply_capacities()  # the warm-up court boost ends two years before the start
        self._apply_events()
        anxiety = self.anxiety()
        # the loops set this week's prescription, and prescription erodes scope; publicity
        # raises the contact rate, with a lag (anxiety_contact_gain, anxiety_contact_lag_weeks)
        self.reporting += (anxiety - self.reporting) / self.p.anxiety_contact_lag_weeks
        contact_gain = 1.0 + self.p.anxiety_contact_gain * self.reporting if self.p.mech_anxiety else 1.0
        self.pk = self.p._replace(
            prescription=self.loops.prescription,
            scope_for_judgment=effective_scope(self.p, self.loops.prescription, self.loops.anchor),
            contact_rate=self.p.contact_rate * contact_gain)
        p, fam, las, work, t = self.pk, self.fam, self.las, self.work, self._t
        st = self.streams
        k = self._kernel
        record = self.week >= 0
        # defensive culture lowers every decision threshold; it fades with its own half-life
        shift = (p.anxiety_threshold_shift * self.anxiety(halflife=p.defensive_halflife_weeks)
                 if p.mech_anxiety else 0.0)
        for buf in (las.trans, las.flow, las.decisions, las.referrer_flow, las.reunify,
                    self.res.hist):
            buf[...] = 0

        # 1. rare severe harm, at a hazard rising with true risk
        n_forced = 0
        if p.mech_harm_events:
            _, n_forced = k(harm_events, fam, las, p, t, st["harm"], st["risk"], self._forced)
        # 2. contacts with universal services -> referral decision / early help -> screening
        _, self.contact_proposals = k(
            contacts_and_referrals, fam, las, self.open, p, t, shift, st["contacts"], st["risk"],
            st["referrer"], st["screening"], self.res, record, self._forced, n_forced)
        # 3. allocation of new and orphaned cases, with attention to caseload; each post's
        #    demand for hours follows
        D, R = self._demand
        k(allocate, fam, work, las, self.open, p, t, D, R)
        # 4. workload: each worker's hours split between direct work and recording
        k(time_use, work, p, D, R)
        # 5. casework: assessments, conference, plans, reviews, court decision, closure
        n_applied = k(casework, fam, work, las, self.open, p, t, shift, st["risk"],
                      st["casework"], self.res, record, self._applied)
        # 6. care proceedings: guardians, hearings, experts, outcomes
        k(courts_step, fam, work, las, self.courts, self.cases, self.open, p, t, st["court"],
          anxiety if p.mech_anxiety else 0.0, self._applied, n_applied)
        # 6b. the courts find capacity when their lists overflow, with a lag
        if p.court_capacity_response > 0:
            self._respond_court_capacity()
        # 7. the workforce: quits, agency cover, recruitment
        k(turnover_and_recruitment, work, las, p, t, self.status_level, st["workforce"])
        # 8. professional status follows turnover and the blame climate (ripple effect)
        self._update_status(anxiety)
        # 9. learning loops B1, B2 and R move prescription (Appendix 2)
        f = las.flow.sum(axis=0)
        shocks_now = sum(m for w, m in self._shocks if w == self.week)
        children = float(las.children.sum())
        errors = f[I.FL_HARM_KNOWN] + shocks_now * self.p.media_error_weight * children / 1e5
        step_loops(self.loops, self.p, int(f[I.FL_IA_ON_TIME] + f[I.FL_CA_ON_TIME]),
                   int(f[I.FL_IA_COMPLETED] + f[I.FL_CA_COMPLETED]), float(errors), children)
        if record:
            self._record(anxiety, shift)
        if self._tracks:
            self._record_tracks()
        self._t += 1
        self.week += 1

    def _kernel(self, kernel, *args):
        """Call a Numba kernel; after its first call, through its compiled entry point.

        Numba's dispatcher derives the type of every argument on every call, and for the
        parameter record (about 200 fields) that alone costs about 55 us, several times a
        week: at one LA that is most of the week. The entry point for the types of the first
        call skips it. Types can only change with the parameter record, so a new
        ``self.p`` (an event, ``set_params``) forgets the entry points.
        """
        if self._entry_p is not self.p:
            self._entries, self._entry_p = {}, self.p
        entry = self._entries.get(kernel)
        if entry is not None:
            return entry(*args)
        out = kernel(*args)
        overloads = getattr(kernel, "overloads", None)  # None: a plain Python stand-in (tests)
        if overloads is None:
            return out
        sig = tuple(typeof(a, Purpose.argument) for a in args)
        self._entries[kernel] = overloads.get(sig) and overloads[sig].entry_point
        if self._entries[kernel] is None:  # not found under these types: always dispatch
            self._entries[kernel] = kernel
        return out

    def _respond_court_capacity(self) -> None:
        p, courts, base = self.pk, self.courts, self._base_slots()
        courts.extra_capacity[:] = respond(courts.extra_capacity, courts.listed, base,
                                           p.court_capacity_response, p.court_capacity_lag_weeks)
        courts.slots[:] = base * (1.0 + courts.extra_capacity)

    def _update_status(self, anxiety: float) -> None:
        p, work, las = self.pk, self.work, self.las
        permanent = max(1, int((work.status == S.PERMANENT).sum()))
        leavers = int(las.flow[:, I.FL_LEAVERS].sum())
        self.turnover_annual += (leavers * 52.0 / permanent - self.turnover_annual) / 26.0
        if p.mech_status:
            target = (-p.status_turnover_slope * (self.turnover_annual - 0.10)
                      - p.status_blame_slope * anxiety)
            self.status_level += (target - self.status_level) / p.status_adapt_weeks

    def _record(self, anxiety: float, shift: float) -> None:
        w, las, rec, p = self.week, self.las, self.record, self.pk
        rec.flow[w] = las.flow
        rec.stock_fam[w] = las.stock_fam
        rec.stock_children[w] = las.stock_children
        rec.trans[w] = las.trans
        rec.decisions[w] = las.decisions
        rec.referrers[w] = las.referrer_flow
        rec.reunify[w] = las.reunify
        rec.score_hist[w] = self.res.hist
        self.referrers_total += las.referrer_flow
        self._kernel(record_workforce, self.work, max(0.0, p.worker_hours - p.other_hours),
                     p.agency_cost_ratio, p.worker_weekly_cost, p.worker_hours, rec.work[w],
                     rec.caseload_hist[w], rec.experience_hist[w])
        for k, s in enumerate(I.COURT):
            rec.court[w, :, k] = getattr(self.courts, s.name[len("court_"):])
        lp = self.loops
        values = {"anxiety": anxiety, "threshold_shift": shift,
                  "professional_status": self.status_level,
                  "turnover_annual_rate": self.turnover_annual, "prescription": lp.prescription,
                  "scope_for_judgment": p.scope_for_judgment, "compliance": lp.compliance,
                  "error_rate": lp.error_rate, "hidden_error_share": lp.hidden_share,
                  "loop_b1_pull": lp.pull_b1, "loop_b2_pull": lp.pull_b2, "loop_r_pull": lp.pull_r}
        rec.national[w] = [values[name] for name in I.NATIONAL_NAMES]

    # ------------------------------------------------------------------ convenience
    @property
    def weeks_recorded(self) -> int:
        """Calendar weeks stepped so far (the rows of the weekly record in use)."""
        return min(max(self.week, 0), self.calendar.n_weeks)

    def series(self, name: str, by_unit: bool = False) -> np.ndarray:
        """A registered series (``abm.core.indicators``), week by week so far: national, or
        with ``by_unit`` one column per LA or court centre."""
        return self.record.series(name, self.weeks_recorded, by_unit)

    def last(self, flow: str) -> int:
        """National value of a weekly flow in the last recorded week."""
        w = self.week - 1
        if w < 0:
            return 0
        return int(self.record.flow[w, :, I.FLOW_NAMES.index(flow)].sum())

    def children_in_need(self) -> int:
        return int(self.las.stock_children[:, list(S.SOCIAL_CARE_STATES)].sum())

    def vacancy_rate(self) -> float:
        return float((self.work.status == S.VACANT).mean())

    def run(self, progress=None) -> ChildProtectionModel:
        """Run to the end of the calendar; ``progress`` is called with (done, total)."""
        with gc_paused():
            while self.week < self.calendar.n_weeks:
                self.step()
                if progress is not None:
                    progress(self.week, self.calendar.n_weeks)
        return self

    def loop_activity(self) -> dict[str, float]:
        """Each learning loop's current pull on prescription (prescription units per year)."""
        lp = self.loops
        return {"B1": lp.pull_b1, "B2": lp.pull_b2, "R": lp.pull_r,
                "prescription": lp.prescription, "compliance": lp.compliance,
                "hidden_error_share": lp.hidden_share}

    # ------------------------------------------------------------------ one child's journey
    def track(self, row: int) -> None:
        """Follow family ``row`` from now on: every change of state is logged (the app's
        child-journey view)."""
        if not 0 <= row < self.n_families:
            raise ValueError(f"row {row} is not a family (0 .. {self.n_families - 1})")
        self._tracks.setdefault(int(row), [])
        self._log_track(int(row))

    def _log_track(self, row: int) -> None:
        fam = self.fam
        entry = (self.week, S.STATE_NAMES[fam.state[row]], int(fam.worker[row]),
                 round(float(fam.risk[row]), 3), int(fam.n_harm[row]))
        log = self._tracks[row]
        if not log or log[-1][1:3] != entry[1:3] or log[-1][4] != entry[4]:
            log.append(entry)

    def _record_tracks(self) -> None:
        for row in self._tracks:
            self._log_track(row)

    def journey(self, row: int) -> list[dict]:
        """The logged journey of a tracked family: week, date, state, worker, risk, harm."""
        out = []
        for week, state, worker, risk, harm in self._tracks.get(row, []):
            date = self.calendar.date(week) if week >= 0 else None
            out.append({"week": week, "date": date, "state": state, "worker": worker,
                        "true_risk": risk, "harm_events": harm})
        return out

    # ------------------------------------------------------------------ Mesa agent views
    def _make_agent_views(self) -> None:
        from abm.core.agents import CourtAgent, ReferrerAgent, SocialWorkerAgent
        for row in range(len(self.work.la)):
            SocialWorkerAgent(self, row)
        for la in range(len(self.las.children)):
            for r in range(S.N_REFERRER_TYPES):
                ReferrerAgent(self, la, r)
        for c in range(len(self.courts.slots)):
            CourtAgent(self, c)
        if self.agent_views == "all":
            self._sync_family_views()

    def _sync_family_views(self) -> None:
        from abm.core.agents import FamilyAgent
        rows = self.open.idx[: self.open.n[0]]
        open_rows = set(rows[self.fam.state[rows] != S.EARLY_HELP].tolist())
        current = self._family_views
        for row in [r for r in current if r not in open_rows]:
            current.pop(row).remove()
        for row in sorted(open_rows - current.keys()):
            current[row] = FamilyAgent(self, row)

    def describe(self) -> dict:
        return {
            "scenario": self.spec.name, "seed": self.seed, "regime": self.regime,
            "las": len(self.las.children), "children": int(self.las.children.sum()),
            "families": self.n_families, "posts": len(self.work.la),
            "courts": len(self.courts.slots), "weeks": self.calendar.n_weeks,
            "state_bytes": S.nbytes(self.fam) + S.nbytes(self.work),
        }

