"""Output tables, generated from the indicator registry (``abm.core.indicators``).

* :func:`weekly_frame` / :func:`tidy`: every series week by week, wide or long with units,
  national or per LA.
* :func:`summary`: every series aggregated to month, quarter or financial year by its own
  rule, calendar-true (flows apportioned to the days each week covers, levels averaged
  weighted by days, stocks read on the period's last day), then every derived indicator
  (shares, rates, durations of concluded cases); :func:`summary_long` puts it in long
  format with units, :func:`period_tidy` adds the run (``national_monthly.parquet``);
  :func:`la_summary` per LA; :func:`care_table` the care-proceedings indicators side by
  side.
* :func:`decision_table` (Taylor-Russell error matrices), :func:`workforce_distributions`,
  :func:`reunification_table`: the structured records.

Definitions are the registry's: a financial year's stocks are read on census day (31 March,
as the DfE CIN census is); a period whose last day the run does not reach has no reading
(NaN). Durations of care cases are over the cases *concluded* in the period (MoJ). The
decision tables apportion their weekly counts to financial years the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from abm.core import indicators as I
from abm.core import state as S
from abm.core.calendar import PERIODS

ID_COLUMNS = ["week", "date", "la", "month", "quarter", "fy"]


def weekly_frame(model, per_la: bool = False) -> pd.DataFrame:
    """Wide weekly table of every series: national (default, court and national series
    included) or one row per LA and week (the per-LA series)."""
    cal = model.calendar
    T = model.weeks_recorded
    n_units = len(model.las.children) if per_la else 1
    cols = {}
    for s in I.SERIES:
        if s.table in I.PER_LA_TABLES:
            x = model.record.series(s.name, T, by_unit=per_la)
            cols[s.name] = x.ravel()
        elif not per_la:
            cols[s.name] = model.record.series(s.name, T)
    df = pd.DataFrame(cols)
    week = np.repeat(np.arange(T), n_units)
    df.insert(0, "week", week)
    df.insert(1, "date", cal.week_end[week])
    df.insert(2, "la", np.tile(np.arange(n_units), T) if per_la else -1)
    df.insert(3, "month", cal.month[week])
    df.insert(4, "quarter", cal.quarter[week])
    df.insert(5, "fy", cal.fy[week])
    return df


def tidy(model, per_la: bool = False) -> pd.DataFrame:
    """Long format: one row per (week, LA, indicator) with its unit."""
    long = weekly_frame(model, per_la).melt(id_vars=ID_COLUMNS, var_name="indicator",
                                            value_name="value")
    long["unit"] = long["indicator"].map(I.units()).astype("string")
    long["scenario"] = model.spec.name
    long["seed"] = model.seed
    long["value"] = long["value"].astype(float)
    return long


def _aggregate(model, names: list[str], period: str, per_la: bool = False) -> pd.DataFrame:
    """The series ``names`` aggregated to ``period``, each by its registry rule, calendar-true
    (``abm.core.calendar``): flows apportioned to the days each week covers and summed,
    levels averaged weighted by days, stocks read on the period's last day (a financial year:
    the census day). One row per period (or per LA and period); ``weeks`` is the weeks of
    days each period holds."""
    cal, T = model.calendar, model.weeks_recorded
    labels, W = cal.flow_weights(period, T)
    _, S = cal.stock_weights(period, T)
    weeks = W.sum(axis=1)
    keep = weeks > 0  # periods with a recorded day
    labels = [x for x, k in zip(labels, keep, strict=True) if k]
    W, S, weeks = W[keep], S[keep], weeks[keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        Wmean = W / weeks[:, None]
    rule = {"flow": W, "stock": S, "level": Wmean}
    cols = {}
    for n in names:
        x = model.record.series(n, T, by_unit=per_la).astype(float)
        cols[n] = rule[I.BY_NAME[n].kind] @ x  # (P,) or (P, L)
    if not per_la:
        out = pd.DataFrame(cols, index=pd.Index(labels, name=period))
        out["weeks"] = weeks
        return out
    L = next(iter(cols.values())).shape[1]
    index = pd.MultiIndex.from_product([range(L), labels], names=["la", period])
    out = pd.DataFrame({n: v.T.ravel() for n, v in cols.items()}, index=index)
    out["weeks"] = np.tile(weeks, L)
    return out


_FORMULAS: dict[str, object] = {}


def _formula(ind):
    """The indicator's formula compiled once (arithmetic on column names only:
    ``abm.core.indicators`` checks that)."""
    code = _FORMULAS.get(ind.name)
    if code is None:
        code = _FORMULAS[ind.name] = compile(ind.formula, f"<indicator {ind.name}>", "eval")
    return code


def _derive(t: pd.DataFrame, indicators=I.INDICATORS) -> pd.DataFrame:
    """``t`` with every derived indicator whose inputs it has, in declaration order (an
    indicator may use an earlier one), evaluated on the columns as arrays: the same IEEE
    arithmetic as ``DataFrame.eval``, without its parsing per call (x/0 is inf, 0/0 NaN)."""
    cols = {c: t[c].to_numpy(dtype=float) for c in t.columns}
    new = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for ind in indicators:
            if all(n in cols for n in ind.inputs):
                v = eval(_formula(ind), {"__builtins__": {}}, cols)  # noqa: S307 - registry formulas
                cols[ind.name] = new[ind.name] = np.broadcast_to(
                    np.asarray(v, dtype=float), (len(t),)).copy()
    keep = t.drop(columns=[c for c in new if c in t.columns])
    return pd.concat([keep, pd.DataFrame(new, index=t.index)], axis=1)


def closure(names) -> set[str]:
    """The outputs ``names`` and every series and derived indicator they are computed from."""
    need: set[str] = set()
    stack = list(names)
    while stack:
        n = stack.pop()
        if n in need or n not in I.BY_NAME:
            continue
        need.add(n)
        if isinstance(I.BY_NAME[n], I.Indicator):
            stack.extend(I.BY_NAME[n].inputs)
    return need


def summary(model, period: str = "fy", only=None) -> pd.DataFrame:
    """Every output at ``period`` ('month', 'quarter' or 'fy'), national: one row per period,
    one column per series and derived indicator (``abm.core.indicators``). ``only``: just
    these outputs and what they are computed from (the same values, computed faster)."""
    if period not in PERIODS:
        raise ValueError(f"period must be month, quarter or fy, got {period!r}")
    need = closure(only) if only is not None else None
    names = [s.name for s in I.SERIES if need is None or s.name in need]
    inds = I.INDICATORS if need is None else [i for i in I.INDICATORS if i.name in need]
    t = _derive(_aggregate(model, names, period), inds)
    t.index.name = period
    return t


#: The care-proceedings indicators side by side (the review's §2.39-2.43 point: the official
#: duration counts concluded cases only): duration of the cases concluded in the period (the
#: MoJ figure), age of the cases open at its end, eventual duration of the cases started in
#: it, the backlog, and arrivals per closure.
CARE_TABLE = ("care_mean_duration_weeks", "care_open_age_weeks", "care_cohort_duration_weeks",
              "care_cohort_concluded_share", "court_backlog", "court_applications",
              "court_concluded", "care_arrivals_per_closure")


def care_table(model, period: str = "quarter") -> pd.DataFrame:
    """The :data:`CARE_TABLE` columns of :func:`summary` at ``period``."""
    return summary(model, period)[list(CARE_TABLE)]


def period_tidy(model, period: str = "month") -> pd.DataFrame:
    """Every output at ``period``, national, in long format with units and the run's
    scenario and seed (``national_monthly.parquet``)."""
    long = summary_long(summary(model, period))
    long["unit"] = long["unit"].astype("string")
    long["value"] = long["value"].astype(float)
    long["scenario"] = model.spec.name
    long["seed"] = model.seed
    return long


def summary_long(t: pd.DataFrame) -> pd.DataFrame:
    """A :func:`summary` table in long format: period, indicator, value, unit."""
    period = t.index.name
    long = t.reset_index().melt(id_vars=period, var_name="indicator")
    long["unit"] = long["indicator"].map(I.units())
    return long


def la_summary(model, period: str = "fy") -> pd.DataFrame:
    """Every per-LA output (the per-LA series and the indicators derived from them) per LA
    and period, long format with units."""
    names = [s.name for s in I.SERIES if s.table in I.PER_LA_TABLES]
    t = _derive(_aggregate(model, names, period, per_la=True)).reset_index()
    codes = [pl.code for pl in model.spec.places]
    t.insert(1, "la_code", [codes[i] for i in t["la"]])
    long = t.melt(id_vars=["la", "la_code", period], var_name="indicator")
    long["unit"] = long["indicator"].map(I.units())
    return long


def decision_table(model) -> pd.DataFrame:
    """Error matrix (TP/FP/TN/FN) per decision point and financial year, national."""
    T = model.weeks_recorded
    dec = model.record.decisions[:T].sum(axis=1)  # T x D x 4
    hist = model.record.score_hist[:T]  # T x D x 2 x bins
    labels, W = model.calendar.flow_weights("fy", T)  # decisions are flows: apportioned
    rows = []
    for f, wf in zip(labels, W, strict=True):
        if not wf.any():
            continue
        tot = np.tensordot(wf, dec, axes=1)
        h = np.tensordot(wf, hist, axes=1)
        for d, name in enumerate(S.DECISION_NAMES):
            tp, fp, tn, fn = (float(x) for x in tot[d])
            rows.append({"fy": f, "decision": name, "TP": tp, "FP": fp, "TN": tn, "FN": fn,
                         "sensitivity": tp / (tp + fn) if tp + fn else np.nan,
                         "specificity": tn / (tn + fp) if tn + fp else np.nan,
                         "auc": auc_from_hist(h[d, 0], h[d, 1])})
    return pd.DataFrame(rows)


def workforce_distributions(model) -> pd.DataFrame:
    """Weekly national distributions of caseload (cases) and experience (whole years)."""
    T = model.weeks_recorded
    rows = []
    for key, var in (("caseload_hist", "caseload"), ("experience_hist", "experience_years")):
        h = getattr(model.record, key)[:T]
        t, b = np.nonzero(h)
        rows.append(pd.DataFrame({"week": t, "date": model.calendar.week_end[t], "variable": var,
                                  "bin": b, "workers": h[t, b]}))
    return pd.concat(rows, ignore_index=True)


def auc_from_hist(neg: np.ndarray, pos: np.ndarray) -> float:
    """Area under the ROC curve of decision scores against true risk, from binned scores:
    P(score of a truly-at-risk case > score of a not-at-risk case), ties counted half."""
    n_neg, n_pos = neg.sum(), pos.sum()
    if n_neg == 0 or n_pos == 0:
        return float("nan")
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (n_neg * n_pos))


def reunification_table(model) -> pd.DataFrame:
    """Reunifications from care and breakdowns within 52 weeks, by the skill decile of the
    worker who decided the return (0 = newly qualified with no direct time, 9 = best)."""
    r = model.record.reunify[: model.weeks_recorded].sum(axis=0)
    df = pd.DataFrame({"skill_decile": np.arange(r.shape[0]), "reunifications": r[:, 0],
                       "breakdowns_52w": r[:, 1]})
    df["success_rate"] = 1 - df["breakdowns_52w"] / df["reunifications"].where(df["reunifications"] > 0)
    return df
