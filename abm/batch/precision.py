"""Precision of a sweep's metrics: confidence intervals of each design point's mean, the
replications a target precision needs, and warnings when a metric counts too few events.

A metric counts events when its indicator does (the adapter names those: e.g. referrals,
missed harms; not money or stocks); the events behind a design point's mean are the total,
over its runs, of the indicator over the metric's periods. For such a metric the Poisson
approximation gives the replications needed to detect a relative effect
(:func:`detect_replications`).

Used by :func:`abm.batch.summary.summarise` (``precision.csv``, a section of ``summary.md``)
and by ``cpabm sweep --precision REL``, which adds replications until every metric's CI
half-width is within REL of its mean.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: a count metric with fewer events than this behind a design point's mean gets a warning
FEW_EVENTS = 100
#: the relative effect and power the rare-event warnings quote
EFFECT, POWER = 0.2, 0.8


def _t(confidence: float, n: int) -> float:
    from scipy import stats
    return float(stats.t.ppf(0.5 + confidence / 2, max(n - 1, 1)))


def events_per_value(metric: dict, counts: list[str], n_periods: int) -> float:
    """Events behind one run's value of ``metric`` (a manifest metric): the value itself
    for a sum, first, last, min or max, the value times the periods for a mean; NaN when
    its indicator does not count events. ``n_periods``: the periods of 'all'."""
    if metric["indicator"] not in counts:
        return math.nan
    if metric["stat"] != "mean":
        return 1.0
    return float(n_periods if metric["periods"] == "all" else len(metric["periods"]))


def replications_for(sd: float, mean: float, rel: float, confidence: float) -> int:
    """The fewest replications n with t(n-1) * sd / sqrt(n) <= rel * |mean| (sd: of one run's
    value). 1 when sd is 0; a large number when the mean is 0 and sd is not."""
    if not sd > 0:
        return 1
    if mean == 0 or not math.isfinite(mean):
        return 10**9
    target = rel * abs(mean)
    n = max(2, math.ceil((1.96 * sd / target) ** 2))
    while _t(confidence, n) * sd / math.sqrt(n) > target:
        n += 1
    return n


def detect_replications(events_per_run: float, effect: float = EFFECT, power: float = POWER,
                        confidence: float = 0.95) -> int:
    """Replications per arm to detect a relative change ``effect`` in a Poisson count with
    mean ``events_per_run`` per run, at two-sided ``confidence`` and ``power`` (normal
    approximation, ignoring the help of common random numbers: an upper bound;
    ``events_per_run`` > 0)."""
    from scipy import stats

    z = stats.norm.ppf(0.5 + confidence / 2) + stats.norm.ppf(power)
    lam = events_per_run
    return max(2, math.ceil(z**2 * lam * (2 + effect) / (lam * effect) ** 2))


def precision_table(mt: pd.DataFrame, metrics: list[dict], confidence: float,
                    counts: list[str], n_periods: int, rel: float | None = None
                    ) -> pd.DataFrame:
    """Per design point and metric: n, mean, sd, the CI half-width of the mean and its ratio
    to |mean|, for metrics that count events the events behind the mean and the replications
    that would detect a 20% change, and (given ``rel``) the replications that a half-width
    <= rel * |mean| needs."""
    rows = []
    for point, g in mt.groupby("point", sort=True):
        for m in metrics:
            name = m["name"]
            v = g[name].to_numpy(float)
            v = v[~np.isnan(v)]
            n = len(v)
            mean = float(v.mean()) if n else math.nan
            sd = float(v.std(ddof=1)) if n > 1 else math.nan
            hw = _t(confidence, n) * sd / math.sqrt(n) if n > 1 else math.nan
            per = events_per_value(m, counts, n_periods)
            count = not math.isnan(per)
            events = float(v.sum() * per) if count else math.nan
            row = {"point": point, "metric": name, "n": n, "mean": mean, "sd": sd,
                   "ci_half_width": hw,
                   "relative_half_width": (0.0 if hw == 0 else hw / abs(mean) if mean else
                                           math.inf) if n > 1 else math.nan,
                   "counts_events": count, "events": events,
                   "replications_to_detect_20pct": (
                       detect_replications(mean * per, EFFECT, POWER, confidence)
                       if count and mean > 0 else math.nan)}
            if rel is not None:
                row["replications_needed"] = (replications_for(sd, mean, rel, confidence)
                                              if n > 1 else math.nan)
            rows.append(row)
    return pd.DataFrame(rows)


def warnings(table: pd.DataFrame) -> list[str]:
    """One line per count metric with fewer than FEW_EVENTS events behind a point's mean."""
    out = []
    few = table[table["counts_events"] & (table["events"] < FEW_EVENTS)]
    for r in few.itertuples(index=False):
        if r.events == 0:
            out.append(f"metric '{r.metric}' at point {r.point}: no events in {r.n} runs; "
                       f"nothing can be said about its changes at this size (more "
                       f"replications, or a larger scenario)")
            continue
        out.append(f"metric '{r.metric}' at point {r.point}: only {r.events:.0f} events "
                   f"behind its mean (over {r.n} runs); its CI rests on "
                   f"few events. Detecting a {EFFECT:.0%} change with {POWER:.0%} power "
                   f"needs about {int(r.replications_to_detect_20pct):,} replications per arm")
    return out


def precision_met(table: pd.DataFrame, replications: int, rel: float,
                  confidence: float) -> tuple[bool, int, pd.Series | None]:
    """From a precision table of a sweep with ``replications`` per point: whether every
    metric's observed CI half-width at every point is within ``rel`` of its mean (a metric
    with fewer than 2 valid values at a point is not), the replications the widest would
    need (scaled up where some runs gave no value: a duration in a year with no case), and
    the widest row."""
    rhw = table["relative_half_width"].astype(float).fillna(math.inf)
    met = len(table) > 0 and bool((table["n"] > 1).all()) and bool((rhw <= rel).all())
    need = [math.ceil(replications_for(r.sd, r.mean, rel, confidence) * replications / r.n)
            if r.n > 1 else 2 * replications for r in table.itertuples(index=False)]
    worst = table.loc[rhw.idxmax()] if len(table) else None
    return met, max(need, default=replications), worst


def run_until_precise(spec, out, rel: float, cap: int, *, resume: bool, log, **run_args):
    """Run the sweep, then add replications (resumably: finished runs are kept, and a run's
    seed depends only on its replication number) until every metric's CI half-width at every
    design point is within ``rel`` of its mean, or the sweep has ``cap`` replications.
    Returns (the last run_sweep result, the precision table, whether the target was met)."""
    from abm.batch.runner import run_sweep
    from abm.batch.summary import summarise

    if not 0 < rel < 1:
        raise ValueError(f"--precision {rel!r}: a relative half-width in (0, 1), e.g. 0.05")
    while True:
        res = run_sweep(spec, out, resume=resume, log=log, **run_args)
        resume = True
        folder = summarise(out, log=log)
        table = pd.read_csv(folder / "precision.csv")
        met, need, worst = precision_met(table, spec.replications, rel, spec.confidence)
        if met or spec.replications >= cap:
            if not met and worst is not None:
                log(f"precision: stopped at the cap of {cap} replications; the widest CI is "
                    f"metric '{worst['metric']}' at point {worst['point']}: half-width "
                    f"{worst['relative_half_width']:.1%} of its mean (target {rel:.1%}); "
                    f"about {need:,} replications would reach it")
            else:
                log(f"precision: every metric's {spec.confidence:.0%} CI half-width is within "
                    f"{rel:.1%} of its mean with {spec.replications} replications")
            return res, table, met
        # at most double per round: an sd estimated from few runs is itself uncertain
        nxt = min(cap, max(spec.replications + 1, min(need, 2 * spec.replications)))
        log(f"precision: widest CI {worst['relative_half_width']:.1%} of its mean (metric "
            f"'{worst['metric']}', point {worst['point']}; target {rel:.1%}); replications "
            f"{spec.replications} -> {nxt}")
        spec.replications = nxt
