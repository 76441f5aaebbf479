"""Regression checks of the calibrated model beyond the exact baseline (issue 9).

* distributional: fresh seeds against the stored replicates of the baseline scenario
  (``tests/golden/baseline/replicates.json``, regenerated only by ``make baseline``): KS tests and
  replicate bands, with a designed false-alarm rate, so seed noise passes and drift fails;
* the same check rejects a 10% change in one influential parameter;
* calibration bands: the calibrated England scenario, at a 1-in-20 sample, keeps its key
  targets inside tolerance (see results/calibration/report.md for the full table).
"""

import json

import pytest

from abm.core.params import PARAMETERS
from abm.reference.compare import KEY_OUTPUTS
from abm.studies import baseline


def _stored():
    stored = json.loads(baseline.replicates_file().read_text())
    if stored["lock_sha256"] != baseline.lock_hash():
        pytest.fail("requirements.lock changed since tests/golden/baseline/replicates.json was made: "
                    "run `make baseline` deliberately")
    return stored


@pytest.mark.slow
def test_fresh_seeds_match_the_stored_replicates():
    stored = _stored()
    assert set(stored["outputs"]) == set(KEY_OUTPUTS)
    assert all(len(v) == len(baseline.STORED_SEEDS) for v in stored["outputs"].values())
    assert not set(baseline.FRESH_SEEDS) & set(baseline.STORED_SEEDS)
    report = baseline.check_replicates(baseline.compute_replicates(baseline.FRESH_SEEDS))
    assert report.false_alarm_bound < 0.005  # designed: about 1 false alarm in 450 runs
    assert report.passed, "behaviour drifted from the stored replicates:\n" + str(report)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["contact_rate", "workers_per_10k_children"])
def test_a_ten_percent_parameter_change_is_caught(name):
    _stored()
    fresh = baseline.compute_replicates(baseline.FRESH_SEEDS,
                                        **{name: PARAMETERS[name].default * 1.1})
    report = baseline.check_replicates(fresh)
    assert not report.passed, f"a 10% change in {name} went unnoticed:\n{report}"
    assert "FAIL" in str(report)


#: Targets the calibrated scenario must keep inside tolerance, checked on a 1-in-10 sample
#: (results/calibration/report.md shows the sample preserves them): the review's figures the
#: calibrated point meets with a margin at 10%. The three durations are met at 1:1 (the
#: report) but a quarter's mean at 10% varies by 2-3 weeks between seeds, so only their
#: order is checked here; the misses the report explains (children in need in 2009-10,
#: arrivals per closure in June 2010, care applications in 2008-09 and 2010-11, referrals
#: and turnover in 2005) are not here.
KEY_TARGETS = ("referrals_fy2008", "referrals_fy2009", "core_assessment_share",
               "cp_plan_share", "care_applications_rise_fy2009",
               "series:care_applications_by_year:FY2007",
               "series:workforce_context:turnover.y2006",
               "series:workforce_context:vacancy_rate.y2006")


@pytest.mark.slow
def test_calibrated_scenario_keeps_its_key_targets():
    from conftest import ROOT as PROJECT_ROOT

    from abm.studies.validate import validate

    scenario = PROJECT_ROOT / "experiments" / "scenarios" / "england_calibrated.toml"
    rows, _ = validate(str(scenario), replicates=8, seed=2010, scale=0.1, workers=2,
                       variants=False)
    by_id = {r["id"]: r for r in rows}
    missed = [f"{k}: median {by_id[k]['median']:.4g} outside [{by_id[k]['lo']:.4g}, "
              f"{by_id[k]['hi']:.4g}]" for k in KEY_TARGETS if not by_id[k]["pass"]]
    assert not missed, "calibrated targets drifted out of tolerance:\n" + "\n".join(missed)
    # the quarterly durations rise in order (issue 4), in the median of the replicates
    d = [by_id[f"care_duration_q2_fy{y}"]["median"] for y in (2008, 2009, 2010)]
    assert d[0] < d[2] and d[1] < d[2], f"durations do not rise to Q2 2010: {d}"
    # (at a 1-in-10 sample one quarter's mean duration has a replicate sd of about 1.2
    # weeks, so Q2 2008 is compared by order only; results/calibration/report.md has all
    # three at 1:1)
