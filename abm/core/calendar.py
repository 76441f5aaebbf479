"""A real calendar with weekly steps, and the official reporting periods.

Week ``t`` covers the seven days starting ``start + 7 t``; the run covers the scenario's days
``start .. end`` (both included) in whole weeks, the last week possibly running a few days
past ``end``. Reporting periods are months, quarters and financial years (April-March,
"FY2008" = 2008-04-01 .. 2009-03-31), calendar-true:

* :meth:`Calendar.flow_weights`: each week's flow is apportioned to the days it covers, so a
  period holds exactly its own days (days after ``end`` belong to no period);
* :meth:`Calendar.stock_weights`: a stock is read on the period's last day (for a financial
  year 31 March, the census day of the DfE's CIN census), interpolated between the weekly
  records either side; a period whose last day is after ``end`` has no such reading.

``month``, ``quarter`` and ``fy`` label each *week* by its last day (the weekly table's
identifiers); period aggregates use the weights.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

PERIODS = ("month", "quarter", "fy")


def period_bounds(period: str, day: dt.date) -> tuple[str, dt.date, dt.date]:
    """(label, first day, last day) of the ``period`` containing ``day``."""
    if period == "month":
        first = day.replace(day=1)
        label = f"{day.year}-{day.month:02d}"
        nxt = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    elif period == "quarter":
        q = (day.month - 1) // 3
        first = dt.date(day.year, 3 * q + 1, 1)
        label = f"{day.year}-Q{q + 1}"
        nxt = dt.date(day.year + (q == 3), (3 * q + 3) % 12 + 1, 1)
    elif period == "fy":
        y = day.year if day.month >= 4 else day.year - 1
        first, label, nxt = dt.date(y, 4, 1), f"FY{y}", dt.date(y + 1, 4, 1)
    else:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    return label, first, nxt - dt.timedelta(days=1)


def census_check(end: dt.date) -> str | None:
    """Why the last financial year would silently lose its census, or None: a scenario
    ending in March but before the 31st stops days short of the census day."""
    if end.month == 3 and end.day < 31:
        return (f"end = {end} stops {31 - end.day} day(s) short of the census "
                f"day (31 March {end.year}) of its last financial year, which would "
                f"have no census: set end = {end.year}-03-31 to include it (or end "
                f"before March to report that year as a partial one)")
    return None


class Calendar:
    def __init__(self, start: dt.date, end: dt.date):
        if end <= start:
            raise ValueError(f"calendar end {end} must be after start {start}")
        self.start = start
        self.end = end  # the scenario's last day, included
        self.n_weeks = math.ceil(((end - start).days + 1) / 7)
        import pandas as pd  # here, so that importing abm (scenarios included) stays light

        last_days = [start + dt.timedelta(days=7 * t + 6) for t in range(self.n_weeks)]
        self.week_end = pd.to_datetime(last_days)
        self.month = self.week_end.to_period("M").astype(str).to_numpy()
        self.quarter = np.array([f"{d.year}-Q{(d.month - 1) // 3 + 1}" for d in self.week_end])
        self.fy = np.array([f"FY{d.year if d.month >= 4 else d.year - 1}" for d in self.week_end])

    def week_of(self, date: dt.date) -> int:
        """Index of the week containing ``date`` (may be <0 or >= n_weeks)."""
        return (date - self.start).days // 7

    def periods(self, period: str) -> list[tuple[str, dt.date, dt.date]]:
        """(label, first day, last day) of every ``period`` with days in ``start .. end``."""
        out, day = [], self.start
        while day <= self.end:
            b = period_bounds(period, day)
            out.append(b)
            day = b[2] + dt.timedelta(days=1)
        return out

    def labels(self, period: str) -> list[str]:
        return [b[0] for b in self.periods(period)]

    def flow_weights(self, period: str, weeks: int | None = None) -> tuple[list[str], np.ndarray]:
        """(labels, W): ``W[p, t]`` is the share of week ``t``'s days that fall in period ``p``
        and in ``start .. end``, for the first ``weeks`` weeks (default: all). A flow's
        period total is ``W @ weekly``; ``W.sum(1)`` is the weeks each period holds."""
        T = self.n_weeks if weeks is None else weeks
        bounds = self.periods(period)
        W = np.zeros((len(bounds), T))
        t0 = np.arange(T) * 7  # each week's first day, in days from start
        for p, (_, first, last) in enumerate(bounds):
            a = (first - self.start).days
            b = (min(last, self.end) - self.start).days + 1  # exclusive
            W[p] = np.clip(np.minimum(t0 + 7, b) - np.maximum(t0, a), 0, 7) / 7.0
        return [b[0] for b in bounds], W

    def stock_weights(self, period: str, weeks: int | None = None) -> tuple[list[str], np.ndarray]:
        """(labels, S): ``S @ weekly`` is each stock on its period's last day (a financial
        year: 31 March, the census day), interpolated linearly between the records at the
        ends of the weeks either side (the first week's record stands for the days before
        it). A row of NaN where that day is after ``end`` or not yet recorded."""
        T = self.n_weeks if weeks is None else weeks
        bounds = self.periods(period)
        S = np.zeros((len(bounds), T))
        for p, (_, _, last) in enumerate(bounds):
            d = (last - self.start).days
            t = d // 7
            if last > self.end or t >= T:
                S[p] = np.nan
                continue
            frac = (d - 7 * t + 1) / 7.0  # share of week t's days up to and including ``last``
            S[p, t] += frac
            S[p, max(t - 1, 0)] += 1.0 - frac
        return [b[0] for b in bounds], S

    def census_check(self) -> str | None:
        """:func:`census_check` of this calendar's end."""
        return census_check(self.end)

    def date(self, t: int) -> dt.date:
        return self.start + dt.timedelta(days=7 * t)
