"""The national expert queue (courts, step 1b): Little's law in its exact form, conservation
of the reports commissioned, a capacity cut under common random numbers lengthening the
experts component of the duration, and queueing that does not depend on the sampling scale.
Also the complexity of cases: it spreads the durations without moving their mean much."""

import dataclasses

import numpy as np
import pytest
from conftest import DESIGN_VALUES, small

from abm import ChildProtectionModel
from abm.outputs.tables import summary


def _run(children=150_000, years=3.0, seed=5, scale=1.0, **ov):
    # at the values the mechanism was checked at (conftest.DESIGN_VALUES), not the calibration's
    sc = dataclasses.replace(small(children=children, years=years, **{**DESIGN_VALUES, **ov}),
                             scale=scale)
    return ChildProtectionModel(sc, rng=seed, agent_views=False).run()


def _fy_mean(m, name, years):
    return float(summary(m, "fy").loc[years, name].mean())


@pytest.fixture(scope="module")
def scarce():
    """Experts short of demand (about 2.9 reports a week per 100,000 children are
    commissioned in ordinary times), no warm-up: every report is commissioned in the run."""
    return _run(seed=41, warmup_weeks=0, expert_reports_per_100k=2.6)


def test_the_expert_queue_follows_littles_law(scarce):
    """The reports waiting at each week's end, summed over the weeks, equal the waits of the
    reports started plus the weeks the reports still waiting have waited so far."""
    m = scarce
    waiting = m.series("court_experts_queued").sum()
    waits = m.series("expert_queue_weeks_sum").sum()
    c = m.cases
    still = (c.active == 1) & (c.expert_queued > 0)
    pending = ((m._t - c.expert_queued_since[still]) * c.expert_queued[still]).sum()
    assert waits > 1000 and still.sum() > 5
    assert waiting == waits + pending
    # the mean wait is the mean queue over the arrival rate (the usual form, up to the reports
    # still waiting at the end)
    T = m.weeks_recorded
    assert m.series("court_experts_queued").mean() == pytest.approx(
        m.series("court_experts_commissioned").sum() / T * waits
        / m.series("expert_reports_started").sum(), rel=0.25)


def test_every_report_commissioned_is_started_or_waiting(scarce):
    m = scarce
    c = m.cases
    queued = c.expert_queued[c.active == 1].sum()
    assert queued == m.courts.experts_waiting[0] == m.series("court_experts_queued")[-1]
    assert (m.series("court_experts_commissioned").sum()
            == m.series("expert_reports_started").sum() + queued)
    # no case concludes with a report still waiting (a final hearing needs the reports)
    assert (c.expert_queued[c.active == 0] == 0).all()


def test_a_cut_in_expert_capacity_lengthens_the_experts_component_with_crn():
    """Same seeds (four pairs, common random numbers): experts at a third of the default
    capacity, below demand, make reports wait; cases wait for them at the issues-resolution
    and final hearings (the experts component), and conclude later. With the default
    capacity nothing waits. One pair's difference is noisy (a few dozen cases a year), so
    the means over the pairs are compared."""
    years = ["FY2009", "FY2010"]
    pairs = [(_run(children=150_000, years=3.0, seed=s),
              _run(children=150_000, years=3.0, seed=s, expert_reports_per_100k=10.0 / 3))
             for s in (42, 43, 44, 45)]

    def mean(which, name):
        return np.mean([_fy_mean(pair[which], name, years) for pair in pairs])

    assert mean(0, "expert_queue_wait_weeks") < 0.05
    assert mean(1, "expert_queue_wait_weeks") > 2.0
    assert mean(1, "care_experts_weeks") > mean(0, "care_experts_weeks") + 1.5
    assert mean(1, "care_mean_duration_weeks") > mean(0, "care_mean_duration_weeks") + 2.0


def _same_within_noise(sample, full, what):
    """The mean of ``sample`` (a sampled run's values over seeds) equals that of ``full`` (the
    1:1 runs') within three standard errors of their difference, and that error is under 10%
    of the 1:1 mean, so a scale effect of a third would not pass unseen."""
    a, b = np.asarray(sample), np.asarray(full)
    se = float(np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size))
    assert se < 0.1 * b.mean(), (what, a, b)
    assert abs(a.mean() - b.mean()) < 3 * se, (what, a.mean(), b.mean(), se)


def test_expert_queueing_does_not_depend_on_the_sampling_scale():
    """One national pool sized per child: with experts short of demand the queue holds the
    same number of reports per child at 1:1, 1-in-10 and 1-in-20 (ten seeds each), and
    the reports wait as long."""
    queue, wait = {}, {}
    for scale in (1.0, 0.1, 0.05):
        g, w = [], []
        for seed in range(51, 61):
            m = _run(children=1_000_000, years=1.5, seed=seed, scale=scale,
                     expert_reports_per_100k=2.0)
            q = m.series("court_experts_queued", m.weeks_recorded)
            g.append(q[-52:].mean() / scale / 100)  # reports per 10,000 children
            w.append(_fy_mean(m, "expert_queue_wait_weeks", ["FY2008"]))
        queue[scale], wait[scale] = g, w
    assert np.mean(queue[1.0]) > 10 and np.mean(wait[1.0]) > 10, (queue, wait)
    for scale in (0.1, 0.05):
        _same_within_noise(queue[scale], queue[1.0], f"queue at {scale}")
        _same_within_noise(wait[scale], wait[1.0], f"wait at {scale}")


def test_complexity_spreads_the_durations_not_their_mean():
    """Same seeds (four pairs): cases of unequal complexity (exponential, shape 1) conclude
    within 40 weeks more often than cases all of average complexity, with a mean duration
    within a few weeks."""
    years = ["FY2009", "FY2010"]
    pairs = [(_run(children=150_000, years=3.0, seed=s, case_complexity_shape=0.0),
              _run(children=150_000, years=3.0, seed=s, case_complexity_shape=1.0))
             for s in (42, 43, 44, 45)]

    def mean(which, name):
        return np.mean([_fy_mean(pair[which], name, years) for pair in pairs])

    assert (mean(1, "care_within_40_weeks_share")
            > mean(0, "care_within_40_weeks_share") + 0.06)
    assert abs(mean(1, "care_mean_duration_weeks") - mean(0, "care_mean_duration_weeks")) < 4.0
