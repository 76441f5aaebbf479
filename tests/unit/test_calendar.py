"""Calendar-true aggregation: flows apportioned to the days each week covers, stocks read on
the period's last day, and the census check of a scenario's end date."""

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from abm.core import indicators as I
from abm.core.calendar import Calendar, period_bounds
from abm.core.errors import ConfigError
from abm.core.record import WeeklyRecord
from abm.outputs.tables import summary

START, END = dt.date(2005, 4, 4), dt.date(2012, 3, 31)  # the default scenario's calendar


def _days(label, period):
    first = {"month": lambda s: dt.date(int(s[:4]), int(s[5:]), 1),
             "fy": lambda s: dt.date(int(s[2:]), 4, 1)}[period](label)
    _, a, b = period_bounds(period, first)
    return (b - a).days + 1


def test_flow_weights_conserve_and_fill_whole_periods():
    cal = Calendar(START, END)
    assert cal.week_end[-1].date() >= END  # the last week covers the end date
    for period in ("month", "quarter", "fy"):
        labels, W = cal.flow_weights(period)
        # every simulated day up to END is in exactly one period; days after END in none
        assert W.sum(axis=0)[:-1] == pytest.approx(1.0)
        assert W.sum() * 7 == pytest.approx((END - START).days + 1)
    labels, W = cal.flow_weights("month")
    days = W.sum(axis=1) * 7
    assert days[labels.index("2008-02")] == pytest.approx(29)
    assert days[labels.index("2008-06")] == pytest.approx(30)
    assert days[labels.index("2005-04")] == pytest.approx(27)  # starts on 4 April
    fy_labels, W = cal.flow_weights("fy")
    assert fy_labels == [f"FY{y}" for y in range(2005, 2012)]
    assert W.sum(axis=1)[1:] * 7 == pytest.approx([365, 366, 365, 365, 365, 366])


def test_stock_weights_read_on_census_day():
    cal = Calendar(START, END)
    labels, S = cal.stock_weights("fy")
    assert np.isfinite(S).all() and S.sum(axis=1) == pytest.approx(1.0)
    x = np.arange(cal.n_weeks, dtype=float)  # a stock rising by one a week, read at week ends
    for label, v in zip(labels, S @ x, strict=True):
        census = dt.date(int(label[2:]) + 1, 3, 31)
        # the stock at the end of day d is (d + 1) / 7 - 1 weeks of rises since week 0's end
        assert v == pytest.approx(((census - START).days + 1) / 7 - 1)
    # a month whose last day the run does not reach has no reading
    labels, S = Calendar(START, dt.date(2006, 6, 15)).stock_weights("month")
    assert labels[-1] == "2006-06" and np.isnan(S[-1]).all() and np.isfinite(S[-2]).all()


def _fake_run(rate_per_day: float, seed: int):
    """A stand-in for a model: one LA whose referrals arrive at a constant rate per day
    (Poisson), and a stock held constant."""
    cal = Calendar(START, END)
    rec = WeeklyRecord(cal.n_weeks, 1, 1)
    rng = np.random.default_rng(seed)
    rec.flow[:, 0, I.FLOW_NAMES.index("referrals")] = rng.poisson(7 * rate_per_day, cal.n_weeks)
    rec.stock_fam[:, 0, I.STATE_NAMES.index("cp_plan")] = 1000
    return SimpleNamespace(calendar=cal, record=rec, weeks_recorded=cal.n_weeks)


def test_constant_rate_gives_months_proportional_to_days():
    rate = 400.0  # referrals per day: about an English county's families
    m = summary(_fake_run(rate, seed=11), "month")
    full = m.index[1:]  # April 2005 starts on the 4th
    days = np.array([_days(x, "month") for x in full])
    counts = m.loc[full, "referrals"].to_numpy()
    # a week straddling two months is split by days, so the weekly noise is shared: the
    # standardised residuals against days x rate are within noise, with no saw-tooth
    z = (counts - rate * days) / np.sqrt(rate * days)
    assert np.abs(z).max() < 4.5 and abs(z.mean()) < 0.5 and z.std() < 1.5
    # the old rule (whole weeks to the month of their last day) fails the same check
    old = pd.Series(_fake_run(rate, seed=11).record.flow[:, 0, 0]).groupby(
        Calendar(START, END).month).sum()
    z_old = (old.reindex(full).to_numpy() - rate * days) / np.sqrt(rate * days)
    assert np.abs(z_old).max() > 10
    assert m.loc[full, "stock_cp_plan_families"].to_numpy() == pytest.approx(1000)


def test_constant_rate_gives_equal_financial_years():
    rate = 400.0
    fy = summary(_fake_run(rate, seed=12), "fy")
    days = np.array([_days(x, "fy") for x in fy.index[1:]])
    per_day = fy["referrals"].to_numpy()[1:] / days
    assert np.abs(per_day - rate).max() < 4 * np.sqrt(rate / 365)
    assert fy["weeks"].to_numpy()[1:] * 7 == pytest.approx(days)


def test_scenario_ending_days_before_census_is_refused(tmp_path):
    from abm.core.scenario import load_scenario

    p = tmp_path / "short.toml"
    p.write_text('[scenario]\nname = "short"\nstart = 2011-04-04\nend = 2013-03-24\n'
                 'regime = "prescriptive"\nplaces = { children = 5000 }\n')
    with pytest.raises(ConfigError, match=r"end = 2013-03-24 .*31 March 2013.*"
                                          r"set end = 2013-03-31"):
        load_scenario(p)
    p.write_text(p.read_text().replace("2013-03-24", "2013-03-31"))
    sc = load_scenario(p)
    labels, S = Calendar(sc.start, sc.end).stock_weights("fy")
    assert labels == ["FY2011", "FY2012"] and np.isfinite(S).all()
