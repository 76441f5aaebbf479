"""The Mesa model: builds the state tables, steps the caseflow weekly, records outputs.

The week is an ordered loop over the mechanisms (``abm/mechanisms``), in the order of the
caseflow (:data:`CASEFLOW`): each owns its parameter record, its Numba kernels over the
arrays in ``abm.core.state`` and its driver state, and can be switched off with its
``mech_*`` parameter. What varies week to week (anxiety, the prescription in force, the
profession's status) reaches the kernels as one :class:`abm.core.params.Drivers` record,
set at the start of the week; the parameters themselves change only when a dated event or
the app changes a policy.
"""

from __future__ import annotations

import contextlib
import gc

import mesa
import numpy as np

from abm.core import indicators as I
from abm.core import state as S
from abm.core.calendar import Calendar
from abm.core.params import Drivers, Params, make_params
from abm.core.record import WeeklyRecord
from abm.core.scenario import Scenario
from abm.mechanisms.anxiety import Anxiety
from abm.mechanisms.casework import Casework
from abm.mechanisms.courts import Courts
from abm.mechanisms.frontdoor import FrontDoor
from abm.mechanisms.loops import LearningLoops
from abm.mechanisms.population import HarmEvents, HarmExposure, Renewal, init_families
from abm.mechanisms.ripple import Ripple
from abm.mechanisms.workload import Workload, record_workforce

#: The week, in the order of the caseflow: anxiety (drivers only: it has no weekly step),
#: severe harm, the front door (contacts, referrals, early help, screening), allocation and
#: each worker's time, the exposure to harm of the families with no open case, casework on
#: every open case (its exposure too), care proceedings, the workforce's quits and
#: recruitment and the profession's status (the ripple effect), and the learning loops acting
#: on prescription.
CASEFLOW = (Anxiety, Renewal, HarmEvents, FrontDoor, Workload, HarmExposure, Casework, Courts, Ripple,
            LearningLoops)

#: One random stream per mechanism, spawned from one SeedSequence (common random numbers).
STREAMS = ("population", "risk", "harm", "contacts", "referrer", "screening", "casework",
           "court", "workforce", "exposure", "renewal")
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



def run_seed(rng: int | None) -> int:
    """A run's seed: ``rng`` checked (a non-negative integer), or a fresh one when None."""
    if rng is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0:
        raise ValueError(f"rng must be a non-negative integer seed, got {rng!r}")
    return int(rng)

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
    compile_first : bool
        With an empty kernel cache, compile the kernels in two processes at once before
        building (``abm.core.warmup``); default True.
    """

    def __init__(self, scenario: Scenario, rng: int | None = None, *, agent_views="auto",
                 compile_first: bool = True):
        seed = run_seed(rng)
        super().__init__(rng=seed)
        self.seed = seed
        self.spec = scenario
        self.calendar = Calendar(scenario.start, scenario.end)
        self.p: Params = scenario.params()
        self.regime = scenario.regime
        seqs = np.random.SeedSequence(self.seed).spawn(len(STREAMS))
        self.streams = {name: np.random.default_rng(sq) for name, sq in zip(STREAMS, seqs, strict=True)}
        self._events = list(scenario.events)
        self._tracks: dict[int, list[tuple]] = {}
        if compile_first:  # an empty kernel cache is filled by two processes at once
            from abm.core.warmup import ensure_compiled
            ensure_compiled()
        self.week = -self.p.warmup_weeks  # calendar week index of the next step
        self._t = 0  # absolute week counter (warm-up included), the kernels' clock
        with gc_paused():  # loading the kernels from the Numba cache (see gc_paused)
            self._build()
            self.mechanisms = {}
            for mechanism in CASEFLOW:
                self.mechanisms[mechanism.name] = mechanism(self)
            self.drivers: Drivers | None = None  # this week's, once a week has begun
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
                          unallocated=z(), listed=z(), held=z(), ineffective=z(),
                          open_age_weeks_sum=z(), expert_capacity=np.zeros(C),
                          experts_queued=z(), expert_credit=np.zeros(1),
                          experts_waiting=np.zeros(1, np.int64))
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
        self.record = WeeklyRecord(self.calendar.n_weeks, L, C)
        self.referrers_total = np.zeros((L, S.N_REFERRER_TYPES, 3), np.int64)

    # ------------------------------------------------------------------ time and events
    def _apply_events(self) -> None:
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
                from abm.core.params import PARAMETERS, coerce_value
                v = getattr(self.p, ev.parameter) * ev.value  # checked when the scenario
                v = coerce_value(PARAMETERS[ev.parameter], v,  # was read; never capped here
                                 f"event on {ev.date}")
                self.p = self.p._replace(**{ev.parameter: v})
            self._policy_changed()

    def _policy_changed(self) -> None:
        """After a regime or parameter change, every mechanism rebuilds its parameter
        record and what follows from the parameters (capacities, the loops' anchor)."""
        for mechanism in self.mechanisms.values():
            mechanism.configure(self.p)

    def set_params(self, **values) -> None:
        """Change parameters from now on (validated; used by the app and experiments)."""
        from abm.core.params import validate_overrides
        self.p = self.p._replace(**validate_overrides(values, "set_params"))
        self._policy_changed()

    def media_shock(self, magnitude: float = 1.0) -> None:
        """A media shock now (the app's button); same effect as a dated event: public anxiety
        jumps and, with the anxiety mechanism on, open plans are audited."""
        self.mechanisms["anxiety"].shock(magnitude)

    def anxiety(self, week: int | None = None, halflife: float | None = None) -> float:
        """Public anxiety: the sum of past shocks, each decaying with the half-life (by
        default ``anxiety_halflife_weeks``)."""
        week = self.week if week is None else week
        hl = self.p.anxiety_halflife_weeks if halflife is None else halflife
        return self.mechanisms["anxiety"].level(week, hl)

    @property
    def shocks(self) -> list[tuple[int, float]]:
        """The media shocks so far: (calendar week, magnitude)."""
        return self.mechanisms["anxiety"].shocks

    @property
    def loops(self):
        """The learning loops' state (prescription, compliance, each loop's pull)."""
        return self.mechanisms["loops"].state

    @property
    def status_level(self) -> float:
        return self.mechanisms["ripple"].status_level

    @property
    def turnover_annual(self) -> float:
        return self.mechanisms["ripple"].turnover_annual

    @property
    def contact_proposals(self) -> int:
        """Contact proposals the front door drew last week (thinning's candidate rows)."""
        return self.mechanisms["front_door"].proposals

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
        self._apply_events()
        self.drivers = d = self._week_drivers()
        for buf in (self.las.trans, self.las.flow, self.las.decisions, self.las.referrer_flow,
                    self.las.reunify, self.res.hist):
            buf[...] = 0
        for mechanism in self.mechanisms.values():
            mechanism.step(d)
        if self.week >= 0:
            self._record(d)
        if self._tracks:
            self._record_tracks()
        self._t += 1
        self.week += 1

    def _week_drivers(self) -> Drivers:
        """This week's drivers, from the mechanisms that own them."""
        anxiety, shift, gain, court_shift = self.mechanisms["anxiety"].week_drivers()
        prescription, scope = self.mechanisms["loops"].in_force()
        return Drivers(anxiety=anxiety, threshold_shift=shift, contact_gain=gain,
                       prescription=prescription, scope_for_judgment=scope,
                       status_level=self.mechanisms["ripple"].status_level,
                       court_shift=court_shift)

    def _record(self, d: Drivers) -> None:
        w, las, rec, p = self.week, self.las, self.record, self.p
        rec.flow[w] = las.flow
        rec.stock_fam[w] = las.stock_fam
        rec.stock_children[w] = las.stock_children
        rec.trans[w] = las.trans
        rec.decisions[w] = las.decisions
        rec.referrers[w] = las.referrer_flow
        rec.reunify[w] = las.reunify
        rec.score_hist[w] = self.res.hist
        self.referrers_total += las.referrer_flow
        self.mechanisms["workload"].call(
            record_workforce, self.work, max(0.0, p.worker_hours - p.other_hours),
            p.agency_cost_ratio, p.worker_weekly_cost, p.worker_hours, rec.work[w],
            rec.caseload_hist[w], rec.experience_hist[w])
        for k, field in enumerate(I.COURT_FIELDS):
            rec.court[w, :, k] = getattr(self.courts, field)
        lp = self.loops
        values = {"anxiety": d.anxiety, "threshold_shift": d.threshold_shift,
                  "professional_status": self.status_level,
                  "turnover_annual_rate": self.turnover_annual, "prescription": lp.prescription,
                  "scope_for_judgment": d.scope_for_judgment, "compliance": lp.compliance,
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

    #: what :meth:`release` drops: the state tables, the weekly record and what holds them
    RELEASED = ("fam", "las", "work", "courts", "cases", "open", "res", "record",
                "referrers_total", "mechanisms", "drivers", "streams", "datacollector")

    def release(self) -> None:
        """Free the model's memory now: drop its state tables, its weekly record and the
        mechanisms that hold them. A model is a web of reference cycles (mechanisms and
        agents point back to it), so without this its tables (about 80 MB for England at a
        5% sample) wait for Python's next full collection, which a loop of runs in a
        process with many long-lived objects can postpone by many runs. The model cannot
        step or report afterwards. ``abm.evaluate`` and a dropped ``abm.run`` result call
        it."""
        self.running = False
        for name in self.RELEASED:
            if name in self.__dict__:
                setattr(self, name, None)

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

