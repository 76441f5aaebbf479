"""The engine's equivalence in distribution with the plain-Mesa reference (abm.reference):
the reference is the oracle the engine is compared with.

Fast tests check the comparison code on synthetic samples and the design's false-alarm
rate. The slow tests run the engine and the reference on a small LA with many seeds and
check that the distributions of the key outputs agree, that the same check rejects the
engine when one of its kernels is deliberately perturbed, and that the engine with 16 risk
bins agrees with the engine with the default 128. See docs/reference.md. The
reference on its own is checked in tests/integration/test_reference_model.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

import abm
import abm.core.model
from abm.core.scenario import Event
from abm.reference.compare import (
    KEY_OUTPUTS,
    band_false_alarm_rate,
    collect_outputs,
    compare_samples,
    engine_model,
    reference_model,
)


# ------------------------------------------------------------------ the comparison code
def _synthetic(rng, n, shift=0.0):
    return {"x": rng.normal(10.0 + shift, 1.0, n), "y": rng.poisson(4.0 + shift, n).astype(float)}


def test_compare_accepts_same_distribution_and_rejects_a_shift():
    rng = np.random.default_rng(2024)
    a, b = _synthetic(rng, 60), _synthetic(rng, 30)
    same = compare_samples(a, b, alpha=0.001)
    assert same.passed, str(same)
    shifted = compare_samples(a, _synthetic(rng, 30, shift=1.5), alpha=0.001)
    assert not shifted.passed and "x" in shifted.failures, str(shifted)
    assert "FAIL" in str(shifted) and "x" in str(shifted)


def test_band_false_alarm_rate_falls_with_sample_size_and_band_width():
    # tiny samples almost always disagree somewhere; larger ones rarely do
    assert band_false_alarm_rate(5, 5, n_sim=4000) > 0.2
    assert band_false_alarm_rate(60, 40, n_sim=4000) < 0.002
    # wider bands, fewer false alarms
    assert band_false_alarm_rate(20, 20, 0.05, 0.95, n_sim=4000) < band_false_alarm_rate(20, 20, n_sim=4000)


def test_compare_samples_refuses_bad_alpha_bands_outputs_and_short_samples():
    rng = np.random.default_rng(1)
    a = _synthetic(rng, 20)
    with pytest.raises(ValueError, match=r"alpha = 0 is out of range; valid: 0 < alpha < 1"):
        compare_samples(a, a, alpha=0)
    with pytest.raises(ValueError, match=r"band_quantiles = \(0.6, 0.9\) is out of range"):
        compare_samples(a, a, band_quantiles=(0.6, 0.9))
    with pytest.raises(ValueError, match=r"outputs \['z'\] are not in both samples; valid: \['x', 'y'\]"):
        compare_samples(a, a, outputs=["z"])
    short = {"x": np.r_[np.full(15, np.nan), rng.normal(size=5)], "y": a["y"]}
    with pytest.raises(ValueError, match="output 'x' has 5 and 20 finite runs; valid: at least"):
        compare_samples(short, a)
    with pytest.raises(ValueError, match="workers must be a whole number >= 1, got 0"):
        collect_outputs(reference_model, EQ_SCENARIO, [1], workers=0)


# ------------------------------------------------------------------ equivalence (slow)
#: The equivalence design (docs/reference.md): one LA of 3,000 children (about 1,700
#: families, 7 posts), a 52-week warm-up, three recorded financial years, a media shock half
#: way. Court capacity is raised and the court threshold lowered so that this small LA has
#: about 11 concluded care cases a run with durations set by the case process (hearings,
#: experts, adjournments) rather than by a queue at a fraction of a hearing slot a week.
#: Plans leave lasting change and households renew fast enough (a fifth a year) that both
#: act in every run, and repeat plans are compared.
EQ_SCENARIO = dataclasses.replace(
    abm.small_la_scenario(children=3000, years=3, warmup_weeks=52, court_threshold=2.0,
                          hearing_slots_per_100k=60.0, guardians_per_100k=20.0,
                          plan_change_persistence=0.5, household_renewal_rate=0.2),
    events=[Event(date=dt.date(2008, 10, 6), type="media_shock", magnitude=1.0)])
ENGINE_SEEDS = range(0, 80)  # about 0.2 s a run
REFERENCE_SEEDS = range(100_000, 100_040)  # about 1.5 s of CPU a run, in two processes
ALPHA = 0.001  # designed chance that the check fails when the two agree in distribution


def test_equivalence_design_keeps_its_false_alarm_rate_within_alpha():
    """KS at ALPHA/2 Bonferroni over the outputs, and the band checks for 80 vs 40 runs
    (with margin for runs with no concluded care case), fit within ALPHA together."""
    band = band_false_alarm_rate(len(ENGINE_SEEDS) - 8, len(REFERENCE_SEEDS) - 4)
    bound = ALPHA / 2 + len(KEY_OUTPUTS) * band
    assert bound <= ALPHA, (band, bound)


@pytest.fixture(scope="module")
def reference_sample():
    return collect_outputs(reference_model, EQ_SCENARIO, REFERENCE_SEEDS, workers=2)


@pytest.fixture(scope="module")
def engine_sample():
    return collect_outputs(engine_model, EQ_SCENARIO, ENGINE_SEEDS)


@pytest.mark.slow
def test_engine_and_reference_agree_in_distribution(engine_sample, reference_sample):
    report = compare_samples(engine_sample, reference_sample, alpha=ALPHA)
    print(report)
    assert report.passed, f"engine and reference disagree on {report.failures}:\n{report}"


@pytest.mark.slow
def test_risk_bins_change_speed_not_the_distribution(engine_sample):
    """Thinning is exact for any bound that holds, so the number of risk bins (16 here, 128
    by default) changes the draws and the speed, not the distribution."""
    sc16 = dataclasses.replace(EQ_SCENARIO, overrides={**EQ_SCENARIO.overrides, "risk_bins": 16})
    coarse = collect_outputs(engine_model, sc16, range(500, 580))
    report = compare_samples(coarse, engine_sample, alpha=ALPHA)
    print(report)
    assert report.passed, f"16 and 128 risk bins disagree on {report.failures}:\n{report}"


def _perturbed(kernel, **changes):
    """The kernel, called with parameters changed by ``changes`` (name -> function)."""
    def wrapper(*args):
        return kernel(*[a._replace(**{k: f(getattr(a, k)) for k, f in changes.items()})
                        if set(changes) <= set(getattr(a, "_fields", ())) else a for a in args])
    # Mechanism.call calls a kernel through its compiled entry point after the first call,
    # looked up in the dispatcher's ``overloads``; a wrapper has none, so the mechanism keeps
    # calling the wrapper itself
    wrapper.overloads = {}
    return wrapper


@pytest.mark.slow
def test_check_rejects_engine_with_perturbed_contacts_kernel(monkeypatch, reference_sample):
    """20% more contacts of concern in the front-door kernel: about 15% more referrals."""
    from abm.mechanisms import frontdoor
    monkeypatch.setattr(frontdoor, "contacts_and_referrals",
                        _perturbed(frontdoor.contacts_and_referrals, contact_rate=lambda v: v * 1.2))
    perturbed = collect_outputs(engine_model, EQ_SCENARIO, ENGINE_SEEDS)
    report = compare_samples(perturbed, reference_sample, alpha=ALPHA)
    print(report)
    assert not report.passed and "referrals_children" in report.failures, str(report)


@pytest.mark.slow
def test_check_rejects_engine_with_perturbed_court_kernel(monkeypatch, reference_sample):
    """Hearings spaced twice as far apart (hearing_interval_weeks doubled) in the court
    kernel: care proceedings about two-thirds longer (with cases of unequal complexity the
    durations of the few cases a small LA concludes spread widely, so a change of one or two
    hearings on average is within the sample's noise)."""
    from abm.mechanisms import courts
    monkeypatch.setattr(courts, "courts_step",
                        _perturbed(courts.courts_step, hearing_interval_weeks=lambda v: 2 * v))
    perturbed = collect_outputs(engine_model, EQ_SCENARIO, ENGINE_SEEDS)
    report = compare_samples(perturbed, reference_sample, alpha=ALPHA)
    print(report)
    assert not report.passed and "care_mean_duration_weeks" in report.failures, str(report)
