"""The model as the workshop app drives it, and the numbers each view shows.

:class:`WorkshopModel` is a :class:`abm.core.model.ChildProtectionModel` of one synthetic LA whose
constructor takes only keyword arguments with defaults, as the app's Apply / Reset needs to
rebuild it on Reset. It also runs a *twin*: the same LA, same seed, under a second regime,
stepped in lock-step (the side-by-side view), and it follows one family (the child's-journey
view). Levers act on the running model through ``set_lever`` (validated ``set_params``).

The ``*_data`` functions turn a model into the numbers one view draws; ``viz.figures`` draws
them. Nothing here imports Solara, so tests can use it directly.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

import abm
from abm.core import state as S
from abm.core.model import ChildProtectionModel
from abm.core.params import PARAMETERS
from abm.core.scenario import load_regime, regime_names

#: Calendar start of a workshop session (the model's weeks carry real dates).
START = dt.date(2007, 4, 2)
#: Weeks a new session has already run when it first appears, so the charts have a history.
HISTORY_WEEKS = 26
#: Weeks of the session start that "change since start" compares with.
BASELINE_WEEKS = 13
#: "2 months of delay ... equates to 1% of childhood" (§1.34): 18 years of childhood.
CHILDHOOD_WEEKS = 18 * 52.18


# ---------------------------------------------------------------------------- regimes, seeds
def regime_files() -> list[str]:
    """Regime names available as data files (abm/data/regimes/*.toml)."""
    return regime_names()


def regime_label(name: str) -> str:
    """File name -> what the app shows ("professional_judgment" -> "professional judgment")."""
    return name.replace("_", " ")


#: One line per regime, in plain words (the regime files' headers say more, with sources).
REGIME_DESCRIPTIONS = {
    "prescriptive": "England 2008-2010: timescales as targets, heavy recording, little room "
                    "for judgment.",
    "professional_judgment": "The review's direction: timescales as guidance, lighter "
                             "recording, more room for judgment and supervision.",
    "early_help": "Schools, health and children's centres help families early instead of "
                  "referring them (three times the places).",
    "integrated_front_door": "A multidisciplinary front door screens every contact and "
                             "signposts families to other help (case study 2).",
    "multi_agency_triage": "Police reports triaged by a co-located team; only clear child "
                           "protection cases become referrals (case study 1).",
    "fdac": "Family Drug and Alcohol Court: a specialist team helps parents in proceedings; "
            "more children go home (case study 3).",
}


def regime_description(name: str) -> str:
    return REGIME_DESCRIPTIONS.get(regime_file(name), "")


def regime_file(label: str) -> str:
    return str(label).strip().replace(" ", "_")


def parse_seed(value) -> int:
    """The seed box's text -> a non-negative integer seed. Digits are the seed; any other
    text maps to a fixed number (CRC-32), so every input gives a reproducible run."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0:
        return int(value) % 2**63
    text = str(value).strip()
    if text.isdigit():
        return int(text) % 2**63
    return zlib.crc32(text.encode())


# ---------------------------------------------------------------------------- levers
def decimals(x: float) -> int:
    """The decimals ``x`` is written with (at most 6): 0.135 -> 3, 2.0 -> 0."""
    text = f"{round(float(x), 6):.6f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


@dataclass(frozen=True)
class Lever:
    """A slider that changes one model parameter while the model runs."""

    key: str
    label: str
    param: str  # the parameter it sets (abm/data/parameters.toml)
    lo: float
    hi: float
    step: float
    review: str  # where the review discusses it
    help: str
    relative: bool = False  # lo/hi are multiples of the parameter's default

    @property
    def unit(self) -> str:
        return PARAMETERS[self.param].unit

    def bounds(self) -> tuple[float, float, float]:
        spec = PARAMETERS[self.param]
        lo, hi = self.lo, self.hi
        if self.relative:
            lo, hi = lo * spec.default, hi * spec.default
        lo, hi = max(lo, spec.lo), min(hi, spec.hi)
        step = self.step * (spec.default if self.relative and spec.default else 1.0)
        if spec.type == "int":
            lo, hi, step = int(np.ceil(lo)), int(np.floor(hi)), max(1, int(round(step)))
            return lo, hi, step
        # The slider holds only values on its grid (lo + k step, rounded to the step's
        # decimals) and moves any other value onto it when it is drawn: the default must be
        # on the grid, or merely opening the page would change the parameter.
        k = (spec.default - lo) / step
        if abs(k - round(k)) > 1e-6 or decimals(spec.default) > decimals(step):
            step = 10.0 ** -max(decimals(spec.default), decimals(lo), decimals(step))
        return lo, hi, step

    def decimals(self) -> int:
        """The decimals the lever's value is shown with: its step's."""
        return 0 if PARAMETERS[self.param].type == "int" else decimals(self.bounds()[2])


LEVERS: tuple[Lever, ...] = (
    Lever("referrer_threshold", "Referral threshold", "referrer_threshold", 0.0, 4.0, 0.1,
          "§2.9", "Concern above which schools, police, health... refer. Lower = more referrals."),
    Lever("anxiety", "Anxiety's pull on thresholds", "anxiety_threshold_shift", 0.0, 1.0, 0.02,
          "§1.49, §2.9-2.10", "How far public anxiety after a media shock lowers every threshold."),
    Lever("prescription", "Prescription level", "prescription", 0.5, 2.5, 0.05,
          "§1.8, §2.24, App2 ¶12", "Forms, timescales and ICS duplication: recording per hour "
          "of direct work. The loops move it from here."),
    Lever("early_help", "Early-help places", "early_help_places", 0.0, 100.0, 1.0,
          "§2.3-2.8", "Families universal services can support instead of referring."),
    Lever("recruitment", "Time to fill a vacancy", "recruitment_weeks", 4.0, 104.0, 1.0,
          "App2 ¶14", "Mean weeks to recruit a permanent social worker."),
    Lever("court_capacity", "Court hearing capacity",
          "hearing_slots_per_100k", 0.25, 3.0, 0.05,
          "§2.30-2.32", "Hearings the family court can hold.", relative=True),
    Lever("guardians", "Children's guardians (Cafcass)", "guardians_per_100k", 0.25, 3.0, 0.05,
          "§2.33", "Guardians available to be allocated to care cases.", relative=True),
    Lever("experts", "Experts per case", "experts_mean", 0.0, 6.0, 0.5,
          "§2.35", "Expert assessments commissioned per care case (cost and delay)."),
)
LOOP_SWITCHES: tuple[tuple[str, str, str], ...] = (
    ("mech_loop_b1", "B1 single-loop compliance", "App2 ¶12-13"),
    ("mech_loop_b2", "B2 double-loop learning", "App2 ¶17-18"),
    ("mech_loop_r", "R addiction to prescription", "App2 ¶19-20"),
)
MEDIA_SHOCK = 1.0  # anxiety units: the size of the November 2008 shock in the research scenario


#: Units as the levers show them, in plain words.
UNIT_WORDS = {"latent units": "points on the concern scale",
              "latent units per unit anxiety": "points per unit of public anxiety",
              "multiplier": "× the base level"}


def format_value(value, digits: int, unit: str, integer: bool = False) -> str:
    """A lever's value with its unit in plain words, the same way for every lever: whole
    numbers for integer parameters, ``digits`` decimals otherwise ("80 weeks", "1.90
    points on the concern scale")."""
    v = float(value)
    text = f"{v:,.0f}" if integer else f"{v:,.{digits}f}"
    unit = UNIT_WORDS.get(unit.strip(), unit.strip())
    return f"{text} {unit}" if unit not in ("", "1", "-") else text


def coerce(name: str, value):
    spec = PARAMETERS[name]
    if spec.type == "bool":
        return bool(value)
    if spec.type == "int":
        return int(round(float(value)))
    return float(value)


# ---------------------------------------------------------------------------- the model
class WorkshopModel(ChildProtectionModel):
    """One synthetic LA for the workshop, with a same-seed twin under a second regime.

    Every argument has a default and is a keyword, as the app's Apply / Reset needs. ``rng`` is the
    seed as the seed box gives it (text or int).
    """

    #: Every model still in memory (the app's log counts them when a session closes).
    live: weakref.WeakSet = weakref.WeakSet()

    def __init__(self, children: int = 75_000, regime: str = "prescriptive",
                 compare_regime: str = "professional judgment", rng="2010", years: int = 10,
                 warmup_weeks: int = 156, history_weeks: int = HISTORY_WEEKS):
        self.lock = threading.RLock()  # held by a step and by every view's drawing
        self.stepped_at = time.time()  # when the last week was stepped (server clock)
        WorkshopModel.live.add(self)
        self._cp_version = 0  # bumped by every control, so cached view data is redrawn
        seed = parse_seed(rng)
        main, other = regime_file(regime), regime_file(compare_regime)
        children = int(min(max(int(children), 1_000), 2_000_000))

        def scenario(reg):
            return abm.small_la_scenario(children=children, years=years, regime=reg,
                                         start=START, warmup_weeks=int(warmup_weeks))

        super().__init__(scenario(main), rng=seed)
        self.twin = ChildProtectionModel(scenario(other), rng=seed, agent_views=False)
        self.children_n = children
        self.regime_keys = set(load_regime(main, "app")) | set(load_regime(other, "app"))
        self.shock_weeks: list[int] = []
        self.followed: int | None = None
        self.followed_from: dict[int, int] = {}  # family row -> calendar week its episode began
        self._picker = np.random.default_rng(np.random.SeedSequence([seed, 20100]))
        self.follow_family(first=True)
        for _ in range(int(history_weeks)):
            self.step()
        self.session_start = self.week  # "change since start" counts from here

    # -- time
    def step(self) -> None:
        with self.lock:
            super().step()
            self.twin.step()
            self.stepped_at = time.time()

    def dispose(self) -> None:
        """Drop this model's state (and its twin's) once its session has closed, so its
        memory is freed even if a stale reference to the object remains somewhere in the
        page machinery. The model cannot be used afterwards."""
        with self.lock:
            twin = self.__dict__.get("twin")
            for obj in (twin, self):
                if obj is not None:
                    lock = obj.__dict__.get("lock")
                    obj.__dict__.clear()
                    obj.running = False
                    if lock is not None:
                        obj.lock = lock

    @property
    def offset(self) -> int:
        """Kernel clock minus calendar week (the warm-up length)."""
        return self._t - self.week

    def date(self, week: int | None = None) -> dt.date:
        """Last day of the last simulated week (or of ``week``)."""
        w = (self.week if week is None else week + 1) - 1
        w = min(max(w, 0), self.calendar.n_weeks - 1)
        return self.calendar.week_end[w].date()

    # -- what the app's controls do
    def shocked_this_week(self) -> bool:
        return bool(self.shock_weeks) and self.shock_weeks[-1] == self.week

    def media_shock(self, magnitude: float = MEDIA_SHOCK) -> bool:
        """A media shock now, to this run and its twin: at most one a week (a room pressing
        the button thirty times would otherwise push anxiety, and every threshold, off the
        scale). Returns whether it was applied."""
        with self.lock:
            if self.shocked_this_week():
                return False
            super().media_shock(magnitude)
            self.twin.media_shock(magnitude)
            self.shock_weeks.append(self.week)
            self._cp_version += 1
            return True

    def set_lever(self, name: str, value) -> None:
        """Set parameter ``name`` from now on (validated). Regime-defining parameters change
        only this run; all others change the twin too, so the regimes stay comparable."""
        value = coerce(name, value)
        with self.lock:
            self.set_params(**{name: value})
            if name not in self.regime_keys:
                self.twin.set_params(**{name: value})
            self._cp_version += 1

    def lever_value(self, name: str):
        return getattr(self.p, name)

    def follow_family(self, first: bool = False) -> int | None:
        """Follow a family just referred: on the first call the one at highest true risk, later
        a random one (own random stream, so the model's numbers never change)."""
        with self.lock:
            rows = self.open.idx[: self.open.n[0]]
            st = self.fam.state[rows]
            fresh = rows[st == S.IA]  # just referred and being assessed
            if fresh.size == 0:
                fresh = rows[(st != S.EARLY_HELP) & (st != S.NONE)]
            if fresh.size == 0:
                return None
            fresh = np.sort(fresh)
            since = self.fam.since[fresh]
            fresh = fresh[since >= since.max() - 2]  # the most recent referrals
            if first:
                row = int(fresh[np.argmax(self.fam.risk[fresh])])
            else:
                row = int(self._picker.choice(fresh))
            start = int(self.fam.since[row]) - self.offset  # the journey starts at referral
            self.followed_from[row] = start
            self.track(row)
            self.followed = row
            self._cp_version += 1
            return row


# ---------------------------------------------------------------------------- view data
def _roll(x: np.ndarray, n: int) -> np.ndarray:
    """Trailing mean over up to n weeks (fewer at the start); NaN stays a gap."""
    x = np.asarray(x, float)
    ok = np.isfinite(x)
    c = np.concatenate([[0.0], np.cumsum(np.where(ok, x, 0.0))])
    k = np.concatenate([[0], np.cumsum(ok)])
    i = np.arange(len(x))
    lo = np.maximum(0, i + 1 - n)
    cnt = k[i + 1] - k[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, (c[i + 1] - c[lo]) / np.maximum(cnt, 1), np.nan)


def _ratio(num: np.ndarray, den: np.ndarray, n: int, min_weeks: int = 1) -> np.ndarray:
    """Trailing sum(num)/sum(den) over n weeks; NaN (a gap) where the denominator is 0 or
    fewer than ``min_weeks`` weeks are in the window."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    cn = np.concatenate([[0.0], np.cumsum(num)])
    cd = np.concatenate([[0.0], np.cumsum(den)])
    i = np.arange(len(num))
    lo = np.maximum(0, i + 1 - n)
    a, b = cn[i + 1] - cn[lo], cd[i + 1] - cd[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)
    out[(i + 1 - lo) < min_weeks] = np.nan
    return out


def _div(a, b) -> np.ndarray:
    a, b = np.asarray(a, float), np.asarray(b, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def recorded_weeks(model) -> int:
    return model.weeks_recorded


def flow(model, name: str) -> np.ndarray:
    """A weekly flow summed over the LAs, for the recorded weeks."""
    return model.series(name).astype(float)


def work(model, name: str) -> np.ndarray:
    """A weekly workforce series (``work_<name>``) summed over the LAs."""
    return model.series(f"work_{name}")


def national(model, name: str) -> np.ndarray:
    return model.series(name)


def _cached(fn):
    """Cache a view-data function per model and week (views share them within a redraw)."""
    def wrapper(model, *args):
        key = (fn.__name__, model.week, args, getattr(model, "_cp_version", 0))
        cache = model.__dict__.setdefault("_cp_cache", {})
        if key not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[key] = fn(model, *args)
        return cache[key]
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


#: a cohort of applications is drawn once this share of it has concluded
COHORT_KNOWN = 0.9


def cohort_weeks(model: ChildProtectionModel) -> np.ndarray:
    """The eventual duration of the care cases applied for in each week (13-week window,
    drawn at the week they started), where at least :data:`COHORT_KNOWN` of them have
    concluded by now; NaN (a gap) where the cohort is not known yet. Beside the official
    figure, the duration of the cases *concluded* in a week, it shows what the official
    figure hides after a surge: the quick cases conclude first, and how long the surge's
    cases take is known only a year or more later."""
    started = _roll(flow(model, "court_applications"), 13) * 13
    done = flow(model, "court_cohort_concluded")
    out = _ratio(flow(model, "court_cohort_duration_weeks_sum"), done, 13, 6)
    with np.errstate(invalid="ignore", divide="ignore"):
        known = _roll(done, 13) * 13 >= COHORT_KNOWN * started
    out[~known] = np.nan
    return out


@_cached
def series(model: ChildProtectionModel) -> pd.DataFrame:
    """Weekly indicators the time-series views draw (smoothed as labelled)."""
    T = recorded_weeks(model)
    filled = work(model, "permanent") + work(model, "agency")
    out = {"date": model.calendar.week_end[:T]}
    out["referrals"] = _roll(flow(model, "referrals_children"), 8)
    out["referrals_weekly"] = flow(model, "referrals_children")
    out["caseload"] = _roll(_div(work(model, "caseload"), filled), 4)
    out["vacancy_pct"] = 100 * _div(work(model, "vacant"), work(model, "posts"))
    out["agency_pct"] = 100 * _roll(_div(work(model, "agency"), filled), 4)
    out["turnover_pct"] = 100 * national(model, "turnover_annual_rate")
    out["court_weeks"] = _ratio(flow(model, "court_duration_weeks_sum"),
                                flow(model, "court_concluded"), 13, 6)
    out["court_cohort_weeks"] = cohort_weeks(model)
    out["arrivals_per_closure"] = _ratio(flow(model, "court_applications"),
                                         flow(model, "court_concluded"), 13, 6)
    direct, record = work(model, "direct_hours"), work(model, "record_hours")
    out["direct_pct"] = 100 * _roll(_div(direct, direct + record), 4)
    done = flow(model, "ia_completed") + flow(model, "ca_completed")
    out["on_time_pct"] = 100 * _ratio(flow(model, "ia_on_time") + flow(model, "ca_on_time"),
                                      done, 13, 4)
    out["experience"] = _roll(_div(work(model, "experience_sum"), filled), 4)
    out["anxiety"] = national(model, "anxiety")
    out["prescription"] = national(model, "prescription")
    return pd.DataFrame(out)


#: Caseflow stages: (label, weekly_frame column, unit). Flows per week.
FLOW_STAGES = (
    ("Contacts with universal services", "contacts", "contacts"),
    ("Referrals to children's social care", "referrals_children", "children"),
    ("Initial assessments started", "ia_starts", "families"),
    ("Core assessments / s47 enquiries", "ca_starts_children", "children"),
    ("Child protection plans started", "cpp_starts_children", "children"),
    ("Care proceedings started", "court_applications_children", "children"),
)
STOCK_STAGES = (
    ("Initial assessment", S.IA), ("Core assessment / s47", S.CA), ("Child in need", S.CIN),
    ("Child protection plan", S.CPP), ("Care proceedings", S.COURT), ("Looked after", S.CARE),
)


def beyond_chance(count_now: float, count_base: float, weeks_now: int = 1,
                  weeks_base: int = 1, z: float = 2.0) -> bool:
    """Is the change in a rate larger than its chance variation? Counts are taken as
    Poisson: the two rates differ by more than ``z`` standard errors."""
    if weeks_now <= 0 or weeks_base <= 0:
        return False
    r1, r0 = count_now / weeks_now, count_base / weeks_base
    se = np.sqrt(count_now / weeks_now**2 + count_base / weeks_base**2)
    return bool(se > 0 and abs(r1 - r0) > z * se)


@_cached
def caseflow_data(model: ChildProtectionModel, window: int = 13) -> dict:
    """Flows per week (mean of the last ``window`` weeks played) and open cases now, each
    beside its value at the session start (the weeks just before it); no change until a
    week has been played."""
    n = recorded_weeks(model)
    start = min(getattr(model, "session_start", BASELINE_WEEKS), n)
    flows = []
    for label, col, unit in FLOW_STAGES:
        x = flow(model, col)
        if n > start:  # the weeks played, beside the weeks just before the session start
            a, b = x[max(start, n - window):n], x[max(0, start - BASELINE_WEEKS):start]
        else:  # nothing played yet: no change to show
            a = b = x[max(0, n - window):n]
        v_now = float(a.mean()) if n else 0.0
        v_base = float(b.mean()) if n else 0.0
        change = (v_now / v_base - 1.0) * 100 if v_base > 0 else None
        flows.append({"label": label, "unit": unit, "now": v_now, "base": v_base,
                      "change_pct": change,
                      "beyond_chance": beyond_chance(a.sum(), b.sum(), len(a), len(b))})
    stocks = []
    cur = model.las.stock_children.sum(axis=0)
    first = model.record.stock_children[start - 1].sum(axis=0) if 0 < start < n else cur
    for label, code in STOCK_STAGES:
        stocks.append({"label": label, "now": int(cur[code]), "base": int(first[code]),
                       "beyond_chance": beyond_chance(cur[code], first[code], 1, 1)})
    return {"flows": flows, "stocks": stocks, "window": window}


@_cached
def worker_data(model: ChildProtectionModel) -> dict:
    """One entry per social-work post, read through the Mesa agent views."""
    from abm.core.agents import SocialWorkerAgent
    try:
        agents = list(model.agents_by_type[SocialWorkerAgent])
    except KeyError:
        agents = []
    if agents:
        status = np.array([a.status for a in agents])
        caseload = np.array([a.caseload for a in agents], float)
        stress = np.array([a.stress for a in agents], float)
        experience = np.array([a.experience for a in agents], float)
        team = np.array([a.team for a in agents])
    else:  # no agent views: read the arrays
        names = np.array(["vacant", "permanent", "agency"])
        status = names[model.work.status]
        caseload = model.work.caseload.astype(float)
        stress = model.work.stress.astype(float)
        experience = model.work.experience.astype(float)
        team = model.work.team
    filled = status != "vacant"
    exp0 = None
    if model.week > 0:
        first = {name: model.series(name)[0] for name in ("work_permanent", "work_agency",
                                                          "work_experience_sum")}
        f0 = first["work_permanent"] + first["work_agency"]
        exp0 = float(first["work_experience_sum"] / f0) if f0 > 0 else None
    return {
        "status": status, "caseload": caseload, "stress": stress, "experience": experience,
        "team": team, "posts": len(status), "vacant": int((~filled).sum()),
        "agency": int((status == "agency").sum()), "permanent": int((status == "permanent").sum()),
        "mean_caseload": float(caseload[filled].mean()) if filled.any() else 0.0,
        "mean_experience": float(experience[filled].mean()) if filled.any() else 0.0,
        "newly_qualified": int((filled & (experience < 2.0)).sum()),
        "experience_at_start": exp0,
    }


def decision_data(model: ChildProtectionModel, point: int = S.D_REFERRER,
                  weeks: int = 13, max_points: int = 1500) -> dict:
    """Recent decisions at one decision point (Taylor-Russell): true risk, assessed risk,
    the threshold each was judged against, and the TP/FP/TN/FN counts."""
    res = model.res
    t_now = model._t
    n = int(min(res.count[point], res.true_risk.shape[1]))
    wk = res.week[point, :n]
    keep = (wk >= t_now - weeks) & (wk >= 0)
    x = res.true_risk[point, :n][keep].astype(float)
    y = res.score[point, :n][keep].astype(float)
    thr = res.threshold[point, :n][keep].astype(float)
    order = np.argsort(wk[keep], kind="stable")
    x, y, thr = x[order], y[order], thr[order]
    cut = float(model.p.significant_harm_cut)
    pos, truly = y > thr, x > cut
    counts = {"TP": int((pos & truly).sum()), "FP": int((pos & ~truly).sum()),
              "TN": int((~pos & ~truly).sum()), "FN": int((~pos & truly).sum())}
    current = float(thr[-4:].mean()) if thr.size else _threshold_now(model, point)
    if x.size > max_points:  # thin evenly for drawing; the counts use every decision
        idx = np.linspace(0, x.size - 1, max_points).astype(int)
        xs, ys, ts = x[idx], y[idx], thr[idx]
    else:
        xs, ys, ts = x, y, thr
    # the weeks the decisions shown span: fewer than asked when fewer have been played, or
    # when the point's buffer of the latest decisions holds less (a large LA's busy points)
    span = int(t_now - wk[keep].min()) if keep.any() else 0
    return {"x": xs, "y": ys, "thresholds": ts, "threshold": current, "cut": cut,
            "counts": counts, "n": int(x.size), "weeks": min(weeks, span),
            "name": S.DECISION_NAMES[point]}


def _threshold_now(model, point: int) -> float:
    p = model.p
    shift = p.anxiety_threshold_shift * model.anxiety() if p.mech_anxiety else 0.0
    base = {S.D_REFERRER: p.referrer_threshold, S.D_SCREEN: p.screen_threshold,
            S.D_IA: p.ia_threshold_s47, S.D_CA: p.ca_threshold_conference,
            S.D_CONFERENCE: p.conference_threshold, S.D_COURT: p.court_threshold}[point]
    return float(base - shift)


@_cached
def loop_data(model: ChildProtectionModel) -> dict:
    """Current values of the Appendix 2 variables and each loop's pull on prescription."""
    act = model.loop_activity()
    lp = model.loops
    wd = worker_data(model)
    s = series(model)
    last = s.iloc[-1] if len(s) else None
    pk = getattr(model, "pk", model.p)
    acknowledged = lp.error_rate * (1.0 - lp.hidden_share)

    def val(col, default=float("nan")):
        return float(last[col]) if last is not None and np.isfinite(last[col]) else default

    return {
        "pulls": {"B1": act["B1"], "B2": act["B2"], "R": act["R"]},
        "on": {"B1": bool(model.p.mech_loop_b1), "B2": bool(model.p.mech_loop_b2),
               "R": bool(model.p.mech_loop_r)},
        "prescription": act["prescription"],
        "scope": float(pk.scope_for_judgment),
        "compliance": act["compliance"],
        "satisfaction": float(np.mean(model.work.satisfaction[model.work.status != S.VACANT]))
        if (model.work.status != S.VACANT).any() else 0.0,
        "turnover_pct": 100 * model.turnover_annual,
        "experience": wd["mean_experience"],
        "status": model.status_level,
        "direct_pct": val("direct_pct"),
        "errors": lp.error_rate,
        "acknowledged": acknowledged,
        "hidden_share": act["hidden_error_share"],
    }


JOURNEY_STATES = {
    "none": ("case closed", "#d9d9d9"),
    "early_help": ("early help", "#c7e9c0"),
    "initial_assessment": ("initial assessment", "#9ecae1"),
    "core_assessment": ("core assessment / s47", "#4292c6"),
    "child_in_need": ("child in need plan", "#fdd0a2"),
    "cp_plan": ("child protection plan", "#fd8d3c"),
    "care_proceedings": ("care proceedings", "#d94801"),
    "looked_after": ("looked after", "#7f2704"),
}


def court_aim_weeks(p) -> float | None:
    """The timetable a care case is measured against in the journey view: the court's
    timetable for the child when one is set (``timetable_weeks`` < 1000), else none (no
    court delay is marked)."""
    if p.timetable_weeks < 1000.0:  # 1000 = no timetable discipline
        return float(p.timetable_weeks)
    return None


def journey_data(model: WorkshopModel) -> dict | None:
    """The followed family's episode as segments (state, start, end, worker) with the
    delays marked: assessments past their timescale, proceedings past their timetable, and
    weeks with no allocated social worker."""
    row = getattr(model, "followed", None)
    if row is None:
        return None
    log = model.journey(row)
    if not log:
        return None
    start = model.followed_from.get(row, log[0]["week"])
    now = model.week
    segs = []
    for k, e in enumerate(log):
        s0 = start if k == 0 else e["week"]
        s1 = log[k + 1]["week"] if k + 1 < len(log) else now
        if s1 > s0 or k + 1 == len(log):
            segs.append({"state": e["state"], "start": s0, "end": max(s1, s0),
                         "worker": e["worker"], "harm": e["harm_events"]})
    # merge consecutive segments of the same state (worker changes become ticks)
    merged, ticks = [], []
    for sg in segs:
        if merged and merged[-1]["state"] == sg["state"]:
            if sg["worker"] != merged[-1]["worker_last"] and sg["worker"] >= 0:
                ticks.append(sg["start"])
            merged[-1]["end"] = sg["end"]
            merged[-1]["worker_last"] = sg["worker"]
            merged[-1]["unallocated"] += [(sg["start"], sg["end"])] if sg["worker"] < 0 else []
        else:
            merged.append({**sg, "worker_last": sg["worker"],
                           "unallocated": [(sg["start"], sg["end"])] if sg["worker"] < 0
                           and sg["state"] not in ("none", "early_help") else []})
    p = model.p
    aims = {"initial_assessment": p.ia_target_weeks, "core_assessment": p.ca_target_weeks,
            "care_proceedings": court_aim_weeks(p)}
    delays = []
    for sg in merged:
        aim = aims.get(sg["state"])
        if aim is not None and sg["end"] - sg["start"] > aim:
            delays.append({"kind": "past timescale", "start": sg["start"] + aim,
                           "end": sg["end"], "aim": aim, "state": sg["state"]})
        for a, b in sg["unallocated"]:
            if b > a:
                delays.append({"kind": "no social worker", "start": a, "end": b,
                               "state": sg["state"]})
    harm = [e["week"] for k, e in enumerate(log)
            if k > 0 and e["harm_events"] > log[k - 1]["harm_events"]]
    delay_weeks = sum(d["end"] - d["start"] for d in delays if d["kind"] == "past timescale")
    return {
        "row": row, "children": int(model.fam.n_children[row]), "start": start, "now": now,
        "segments": merged, "delays": delays, "worker_changes": ticks, "harm": harm,
        "delay_weeks": delay_weeks, "childhood_pct": 100 * delay_weeks / CHILDHOOD_WEEKS,
        "state_now": log[-1]["state"], "risk_now": float(log[-1]["true_risk"]),
        "cut": float(model.p.significant_harm_cut),
        "court_aim": aims["care_proceedings"],
    }


def compare_data(model: WorkshopModel) -> dict:
    """The main run and its twin (other regime, same seed) as two weekly tables."""
    return {"a": series(model), "b": series(model.twin),
            "a_regime": regime_label(model.regime), "b_regime": regime_label(model.twin.regime),
            "seed": model.seed}


def headline(model: WorkshopModel) -> dict:
    """The numbers the status line shows."""
    s = series(model)
    last = s.iloc[-1] if len(s) else None
    return {
        "week": model.week, "date": model.date(), "children": model.children_n,
        "regime": regime_label(model.regime), "compare": regime_label(model.twin.regime),
        "seed": model.seed, "anxiety": model.anxiety(),
        "referrals": float(last["referrals"]) if last is not None else 0.0,
        "running": bool(model.running), "shocks": len(model.shock_weeks),
        "stepped_at": getattr(model, "stepped_at", 0.0),
    }
