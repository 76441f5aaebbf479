"""A real calendar with weekly steps, and the official reporting periods.

Week ``t`` covers the seven days starting ``start + 7 t``. Each week is assigned to the
month, quarter and financial year (April-March, "FY2008" = 2008-04-01 .. 2009-03-31) that
contain its last day, so a flow counted in week t belongs to exactly one period. Census
("snapshot") indicators are read at the last week ending on or before 31 March.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd


class Calendar:
    def __init__(self, start: dt.date, end: dt.date):
        if end <= start:
            raise ValueError(f"calendar end {end} must be after start {start}")
        self.start = start
        self.end = end
        self.n_weeks = max(1, (end - start).days // 7)
        last_days = [start + dt.timedelta(days=7 * t + 6) for t in range(self.n_weeks)]
        self.week_end = pd.to_datetime(last_days)
        self.month = self.week_end.to_period("M").astype(str).to_numpy()
        self.quarter = np.array([f"{d.year}-Q{(d.month - 1) // 3 + 1}" for d in self.week_end])
        self.fy = np.array([f"FY{d.year if d.month >= 4 else d.year - 1}" for d in self.week_end])

    def week_of(self, date: dt.date) -> int:
        """Index of the week containing ``date`` (may be <0 or >= n_weeks)."""
        return (date - self.start).days // 7

    def census_weeks(self) -> dict[str, int]:
        """FY label -> index of the last week ending on or before 31 March of that FY."""
        out = {}
        for t, d in enumerate(self.week_end):
            if d.month == 3 and (d + pd.Timedelta(days=7)).month == 4:
                out[f"FY{d.year - 1}"] = t
        return out

    def date(self, t: int) -> dt.date:
        return self.start + dt.timedelta(days=7 * t)
