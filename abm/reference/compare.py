"""Distributional equivalence of two model implementations (the engine and the reference).

Both are run on the same scenario with many seeds; each run is reduced to a few key outputs
(:data:`KEY_OUTPUTS`, read with the same summary code, ``abm.outputs.tables.summary``); and the
two samples of every output are compared by

1. a **two-sample Kolmogorov-Smirnov test** (``scipy.stats.ks_2samp``), and
2. **replicate bands**: each sample's median must lie inside the other's 10-90% band.

The false-alarm rate is designed, not hoped for. The overall budget ``alpha`` is split in
two halves. The KS tests share one half, Bonferroni over outputs (each at
alpha / 2 / n_outputs). The band ends are order statistics, so the band check depends on
ranks only and its false-alarm rate, for two samples from the same continuous distribution,
depends only on the two sample sizes: :func:`band_false_alarm_rate` computes it by
simulation, :func:`compare_samples` reports it, and the test suite checks that it fits in the
other half. Ties (discrete outputs) make both checks more conservative.

Typical use (see ``tests/golden/test_reference_equivalence.py``)::

    engine = collect_outputs(engine_model, scenario, seeds=range(80))
    reference = collect_outputs(reference_model, scenario, seeds=range(1000, 1040), workers=2)
    report = compare_samples(engine, reference)
    assert report.passed, report
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

#: Per-run key outputs compared between implementations (see :func:`key_outputs`).
KEY_OUTPUTS = (
    "referrals_children",        # children referred, whole run
    "ia_completed",              # initial assessments completed
    "ca_starts_children",        # children with a core assessment started
    "cpp_starts_children",       # children starting a CP plan
    "children_in_need",          # children in need at the last 31 March census
    "mean_caseload",             # cases per filled post, mean over the run
    "turnover_rate",             # leavers per permanent worker per year, mean over the run
    "vacancy_rate",              # share of posts unfilled, mean over the run
    "court_applications",        # care applications (cases)
    "court_concluded",           # care cases concluded
    "care_mean_duration_weeks",  # mean duration of the concluded care cases
    "court_open_cases",          # care cases open in court, mean over the run
    "cp_plans_ended",            # children whose child protection plan ended
    "cp_plan_duration_weeks",    # mean length of the plans that ended
    "cpp_repeat_starts_children",  # children starting a repeat plan
)
_SUMMED = ("referrals_children", "ia_completed", "ca_starts_children", "cpp_starts_children",
           "court_applications", "court_concluded", "cp_plans_ended",
           "cpp_repeat_starts_children")
_WEEK_MEANS = ("mean_caseload", "turnover_rate", "vacancy_rate", "court_open_cases")


def key_outputs(model) -> dict[str, float]:
    """Reduce one finished run to :data:`KEY_OUTPUTS`, from ``abm.outputs.tables.summary``:
    flows summed over the financial years, rates averaged with the weeks as weights, the
    census at the last complete year, and the durations over all concluded care cases and
    all ended plans (NaN if none)."""
    from abm.outputs.tables import summary

    fy = summary(model, "fy")
    weeks = fy["weeks"].to_numpy(float)
    out = {name: float(fy[name].sum()) for name in _SUMMED}
    for name in _WEEK_MEANS:
        out[name] = float(np.nansum(fy[name].to_numpy(float) * weeks) / weeks.sum())
    census = fy["children_in_need"].dropna()
    out["children_in_need"] = float(census.iloc[-1]) if len(census) else math.nan
    concluded = fy["court_concluded"].to_numpy(float)
    total_weeks = np.nansum(fy["care_mean_duration_weeks"].to_numpy(float) * concluded)
    out["care_mean_duration_weeks"] = (float(total_weeks / concluded.sum()) if concluded.sum() > 0
                                       else math.nan)
    plan_weeks = float(fy["cp_plan_duration_weeks_sum"].sum())
    out["cp_plan_duration_weeks"] = (plan_weeks / out["cp_plans_ended"] if out["cp_plans_ended"] > 0
                                     else math.nan)
    return {name: out[name] for name in KEY_OUTPUTS}


def engine_model(scenario, seed: int):
    """A finished engine run (no Mesa agent views: they do not change the outputs)."""
    from abm.core.model import ChildProtectionModel
    return ChildProtectionModel(scenario, rng=seed, agent_views=False).run()


def reference_model(scenario, seed: int):
    """A finished reference run."""
    from abm.reference.model import ReferenceModel
    return ReferenceModel(scenario, rng=seed).run()


def _one_run(make_model, scenario, seed) -> dict[str, float]:
    return key_outputs(make_model(scenario, int(seed)))


def collect_outputs(make_model: Callable, scenario, seeds: Iterable[int],
                    workers: int = 1) -> dict[str, np.ndarray]:
    """Run ``make_model(scenario, seed)`` for every seed and collect :func:`key_outputs`
    as one array per output (in seed order). ``workers`` > 1 runs in that many processes
    (``make_model`` must then be a module-level function, e.g. :func:`reference_model`)."""
    seeds = [int(s) for s in seeds]
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
    if workers == 1 or len(seeds) < 2:
        rows = [_one_run(make_model, scenario, s) for s in seeds]
    else:
        # spawn, not fork: the parent may hold threads (Arrow, BLAS), and fork copies locks
        with ProcessPoolExecutor(max_workers=min(workers, len(seeds)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            rows = list(pool.map(_one_run, [make_model] * len(seeds), [scenario] * len(seeds), seeds))
    return {name: np.array([r[name] for r in rows], float) for name in KEY_OUTPUTS}


# ------------------------------------------------------------------------- the statistics
def ks_2samp_pvalue(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sample KS statistic and p-value (scipy's exact/asymptotic choice)."""
    from scipy import stats
    res = stats.ks_2samp(np.asarray(a, float), np.asarray(b, float))
    return float(res.statistic), float(res.pvalue)


def band(x: np.ndarray, lo: float, hi: float, axis=None) -> tuple:
    """The lo-hi quantile band of a sample, with order statistics as its ends (rounded
    outwards), so that whether a value lies inside depends on ranks only."""
    return (np.quantile(x, lo, axis=axis, method="lower"),
            np.quantile(x, hi, axis=axis, method="higher"))


@lru_cache(maxsize=64)
def band_false_alarm_rate(n_a: int, n_b: int, lo: float = 0.1, hi: float = 0.9,
                          n_sim: int = 200_000, seed: int = 0) -> float:
    """Chance that the two-way band check fails for ONE output when both samples come from
    the same continuous distribution, by simulation. The band ends are order statistics, so
    this rate is the same for every continuous distribution up to the interpolation of an
    even sample's median; ties only lower it. Cached per argument set."""
    rng = np.random.default_rng(seed)
    fails = 0
    for start in range(0, n_sim, 20_000):  # in chunks, to bound memory
        m = min(20_000, n_sim - start)
        x, y = rng.random((m, n_a)), rng.random((m, n_b))
        med_x, med_y = np.median(x, axis=1), np.median(y, axis=1)
        x_lo, x_hi = band(x, lo, hi, axis=1)
        y_lo, y_hi = band(y, lo, hi, axis=1)
        fails += int(((med_x < y_lo) | (med_x > y_hi) | (med_y < x_lo) | (med_y > x_hi)).sum())
    return fails / n_sim


@dataclass
class OutputCheck:
    """The comparison of one output between sample A and sample B."""

    name: str
    n_a: int
    n_b: int
    median_a: float
    median_b: float
    band_a: tuple[float, float]
    band_b: tuple[float, float]
    ks_statistic: float
    ks_pvalue: float
    ks_level: float
    bands_ok: bool

    @property
    def ks_ok(self) -> bool:
        return self.ks_pvalue >= self.ks_level

    @property
    def ok(self) -> bool:
        return self.ks_ok and self.bands_ok


@dataclass
class EquivalenceReport:
    """The outcome of :func:`compare_samples`: ``passed``, and a readable table (``str``)."""

    checks: list[OutputCheck]
    alpha: float
    band_quantiles: tuple[float, float]
    band_false_alarm_per_output: float
    labels: tuple[str, str] = ("A", "B")
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]

    @property
    def false_alarm_bound(self) -> float:
        """Union bound on the chance of any failure when A and B agree in distribution."""
        k = len(self.checks)
        return sum(c.ks_level for c in self.checks) + k * self.band_false_alarm_per_output

    def __str__(self) -> str:
        a, b = self.labels
        lo, hi = (round(100 * q) for q in self.band_quantiles)
        head = (f"{'output':<26} {'median ' + a:>14} {'median ' + b:>14} "
                f"{f'{lo}-{hi}% ' + a:>22} {f'{lo}-{hi}% ' + b:>22} {'KS D':>6} {'KS p':>9}  verdict")
        lines = [head]
        for c in self.checks:
            verdict = "ok" if c.ok else ("FAIL " + ("KS " if not c.ks_ok else "")
                                         + ("band" if not c.bands_ok else "")).strip()
            lines.append(
                f"{c.name:<26} {c.median_a:>14.4g} {c.median_b:>14.4g} "
                f"{f'[{c.band_a[0]:.4g}, {c.band_a[1]:.4g}]':>22} "
                f"{f'[{c.band_b[0]:.4g}, {c.band_b[1]:.4g}]':>22} "
                f"{c.ks_statistic:>6.3f} {c.ks_pvalue:>9.2e}  {verdict}")
        lines.append(f"alpha = {self.alpha:g}: KS level per output {self.checks[0].ks_level:.2e} "
                     f"(Bonferroni), band false alarm per output {self.band_false_alarm_per_output:.1e}; "
                     f"bound on any false alarm {self.false_alarm_bound:.1e}")
        lines += self.notes
        return "\n".join(lines)


def compare_samples(a: Mapping[str, Sequence[float]], b: Mapping[str, Sequence[float]],
                    outputs: Sequence[str] | None = None, alpha: float = 0.001,
                    band_quantiles: tuple[float, float] = (0.1, 0.9),
                    labels: tuple[str, str] = ("engine", "reference"),
                    min_runs: int = 10) -> EquivalenceReport:
    """Compare two samples of per-run outputs (dicts of arrays, e.g. from
    :func:`collect_outputs`). NaN runs (e.g. no care case concluded) are dropped per output;
    an output needs ``min_runs`` finite runs on each side. Returns an
    :class:`EquivalenceReport`; ``report.passed`` is the verdict."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha = {alpha!r} is out of range; valid: 0 < alpha < 1")
    lo, hi = band_quantiles
    if not 0.0 <= lo < 0.5 < hi <= 1.0:
        raise ValueError(f"band_quantiles = {band_quantiles!r} is out of range; valid: "
                         f"0 <= lo < 0.5 < hi <= 1")
    outputs = list(outputs) if outputs is not None else [k for k in a if k in b]
    missing = [k for k in outputs if k not in a or k not in b]
    if missing or not outputs:
        raise ValueError(f"outputs {missing or outputs!r} are not in both samples; "
                         f"valid: {sorted(set(a) & set(b))}")
    ks_level = alpha / 2.0 / len(outputs)
    checks, notes, sizes = [], [], []
    for name in outputs:
        xa = np.asarray(a[name], float)
        xb = np.asarray(b[name], float)
        xa, xb = xa[np.isfinite(xa)], xb[np.isfinite(xb)]
        if len(xa) < min_runs or len(xb) < min_runs:
            raise ValueError(f"output '{name}' has {len(xa)} and {len(xb)} finite runs; "
                             f"valid: at least min_runs = {min_runs} on each side")
        sizes.append((len(xa), len(xb)))
        stat, pvalue = ks_2samp_pvalue(xa, xb)
        band_a = tuple(float(v) for v in band(xa, lo, hi))
        band_b = tuple(float(v) for v in band(xb, lo, hi))
        med_a, med_b = float(np.median(xa)), float(np.median(xb))
        bands_ok = band_b[0] <= med_a <= band_b[1] and band_a[0] <= med_b <= band_a[1]
        checks.append(OutputCheck(name, len(xa), len(xb), med_a, med_b, band_a, band_b,
                                  stat, pvalue, ks_level, bands_ok))
    # the band check's false-alarm rate for the smallest samples compared (the worst case)
    n_a, n_b = min(sizes, key=lambda s: s[0] + s[1])
    fa = band_false_alarm_rate(n_a, n_b, lo, hi)
    return EquivalenceReport(checks, alpha, (lo, hi), fa, labels, notes)
