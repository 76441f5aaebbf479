"""The weekly record: every series of the indicator registry, week by week.

One array per weekly table of ``abm.core.indicators`` (flows, stocks of children and of
families, workforce per LA, courts per centre, national values), plus the structured
records that are not scalar series (transitions between states, the Taylor-Russell error
counts and score histograms, referrers' decisions, workforce histograms, reunifications by
skill). The model writes one row a week from the calendar's start, except the cohort
record, which the courts fill in at the row of a case's application when it concludes;
:meth:`series` reads a series by name.
"""

from __future__ import annotations

import numpy as np

from abm.core import indicators as I
from abm.core import state as S

CASELOAD_BINS = 61  # caseload histogram 0..60+
EXPERIENCE_BINS = 21  # experience histogram in years 0..20+


class WeeklyRecord:
    """Arrays of ``T`` weeks for ``L`` LAs and ``C`` court centres."""

    def __init__(self, T: int, L: int, C: int):
        self.n_weeks = T
        self.flow = np.zeros((T, L, I.N_FLOWS), np.int64)
        self.stock_fam = np.zeros((T, L, S.N_STATES), np.int64)
        self.stock_children = np.zeros((T, L, S.N_STATES), np.int64)
        self.work = np.zeros((T, L, I.N_WORK))
        self.court = np.zeros((T, C, len(I.COURT)))
        self.cohort = np.zeros((T, len(I.COHORT)), np.int64)  # by the week cases started
        self.national = np.zeros((T, len(I.NATIONAL)))
        self.trans = np.zeros((T, L, S.N_STATES, S.N_STATES), np.int32)
        self.decisions = np.zeros((T, L, S.N_DECISIONS, 4), np.int32)
        self.referrers = np.zeros((T, L, S.N_REFERRER_TYPES, 3), np.int32)
        self.caseload_hist = np.zeros((T, CASELOAD_BINS), np.int32)
        self.experience_hist = np.zeros((T, EXPERIENCE_BINS), np.int32)
        self.reunify = np.zeros((T, S.N_SKILL_BINS, 2), np.int32)
        self.score_hist = np.zeros((T, S.N_DECISIONS, 2, S.SCORE_BINS), np.int32)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array, by name (for fingerprints and checks)."""
        return {k: v for k, v in vars(self).items() if isinstance(v, np.ndarray)}

    def series(self, name: str, weeks: int | None = None, by_unit: bool = False) -> np.ndarray:
        """The weekly values of series ``name`` over the first ``weeks`` weeks: national
        (shape ``(weeks,)``, summed over LAs or court centres), or with ``by_unit`` one column
        per LA (flows, stocks, workforce) or court centre (courts)."""
        s = I.BY_NAME.get(name)
        if not isinstance(s, I.Series):
            raise KeyError(f"{name!r} is not a recorded series (see abm.core.indicators)")
        T = self.n_weeks if weeks is None else weeks
        if s.table == "flow":
            x = self.flow[:T, :, I.FLOW_NAMES.index(name)]
        elif s.table == "stock":
            state, unit = name[len("stock_"):].rsplit("_", 1)
            arr = self.stock_children if unit == "children" else self.stock_fam
            x = arr[:T, :, I.STATE_NAMES.index(state)]
        elif s.table == "work":
            x = self.work[:T, :, I.WORK_NAMES.index(name)]
        elif s.table == "court":
            x = self.court[:T, :, I.COURT_NAMES.index(name)]
        elif s.table == "cohort":
            return self.cohort[:T, I.COHORT_NAMES.index(name)]
        else:
            return self.national[:T, I.NATIONAL_NAMES.index(name)]
        return x if by_unit else x.sum(axis=1)
