"""The care-proceedings indicators side by side: the duration of cases concluded in a period
(the official figure), the age of the cases open at its end, the eventual duration of the
cases started in it, the backlog and arrivals per closure: exact bookkeeping identities."""

import numpy as np
import pytest
from conftest import small

from abm import ChildProtectionModel
from abm.outputs.tables import CARE_TABLE, care_table


def _run(children=150_000, years=2.0, seed=5, **ov):
    sc = small(children=children, years=years, **ov)
    return ChildProtectionModel(sc, rng=seed, agent_views=False).run()


@pytest.fixture(scope="module")
def cold_start():
    """A run with no warm-up: every case starts inside the calendar."""
    return _run(years=3.0, warmup_weeks=0)


def test_backlog_and_open_age_follow_the_weekly_flows_exactly(cold_start):
    """Backlog: open(w) = open(w-1) + applications(w) - concluded(w). Age: every open case
    ages a week, a new case enters at age 0 and a concluded one leaves at its duration, so
    age_sum(w) = age_sum(w-1) + open(w-1) - durations concluded(w)."""
    m = cold_start
    backlog = m.series("court_backlog")
    age = m.series("court_open_age_weeks_sum")
    apps, done = m.series("court_applications"), m.series("court_concluded")
    dur = m.series("court_duration_weeks_sum")
    assert np.array_equal(backlog[1:], backlog[:-1] + apps[1:] - done[1:])
    assert np.array_equal(age[1:], age[:-1] + backlog[:-1] - dur[1:])
    assert backlog[-1] > 50 and done.sum() > 100


def test_cohorts_account_for_every_concluded_case(cold_start):
    """With no warm-up every concluded case started in the calendar: the cohort record holds
    each exactly once, at its application week, with its duration."""
    m = cold_start
    assert m.series("court_cohort_concluded").sum() == m.series("court_concluded").sum()
    assert (m.series("court_cohort_duration_weeks_sum").sum()
            == m.series("court_duration_weeks_sum").sum())
    # a cohort cannot conclude more cases than were applied for in it
    co = m.series("court_cohort_concluded")
    assert (co <= m.series("court_applications")).all()


def test_the_care_table_is_every_run_s_quarterly_output(cold_start):
    q = care_table(cold_start, "quarter")
    assert list(q.columns) == list(CARE_TABLE)
    assert len(q) >= 12
    # cohorts of the last quarters are still open: less complete than the first ones
    share = q["care_cohort_concluded_share"].to_numpy()
    assert np.nanmax(share[:4]) > 0.9 and share[-1] < 0.2
    assert (q["care_open_age_weeks"].iloc[1:] > 0).all()
