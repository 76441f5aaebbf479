"""Shared fixtures: small, fast scenarios built in code."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

import abm
from abm.core.scenario import Event

#: The checkout; the benchmarks (experiments/benchmarks, outside the packages) import as
#: ``benchmarks.*`` from experiments/.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "experiments") not in sys.path:
    sys.path.insert(0, str(ROOT / "experiments"))

#: A one-LA scenario file small enough for sweeps in tests (3,000 children, one year).
TINY_SCENARIO = """\
[scenario]
name = "tiny"
start = 2008-04-07
end = 2009-03-31
regime = "prescriptive"
places = { children = 3000 }

[parameters]
warmup_weeks = 26
"""


def load_tool(name: str):
    """The script experiments/tools/NAME.py as a module (the tools are scripts, not a
    package), for tests that recompute a committed result table with the tool's own code."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def small(children=8000, years=1.0, regime="prescriptive", shock=None, warmup=52, **ov):
    """A one-LA scenario starting 2008-04-07; ``shock`` = (date, magnitude) or None."""
    warmup = ov.pop("warmup_weeks", warmup)
    sc = abm.small_la_scenario(children=children, years=years, regime=regime,
                               start=dt.date(2008, 4, 7), warmup_weeks=warmup, **ov)
    if shock is not None:
        sc.events = [Event(shock[0], "media_shock", magnitude=shock[1])]
    return sc


@pytest.fixture
def small_scenario():
    return small


def write_posterior(root, columns: dict, priors: dict, fixed=None, identity="ab" * 32,
                    weights=None, generation=4):
    """A finished calibration folder as `cpabm calibrate` leaves it, as far as reading its
    posterior goes: manifest.json (the priors, the calibration's [fixed] values) and
    posterior.parquet (``columns``, one row per particle; ``weights`` default equal)."""
    import json

    import numpy as np
    import pandas as pd

    root.mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps({
        "name": root.name, "identity_sha256": identity,
        "spec": {"identity": {"priors": {k: {"dist": "uniform", "low": lo, "high": hi,
                                             "kind": "float"} for k, (lo, hi) in priors.items()},
                              "fixed": fixed or {}}}}))
    n = len(next(iter(columns.values())))
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, float) / np.sum(weights)
    pd.DataFrame({**{k: np.asarray(v, float) for k, v in columns.items()}, "weight": w,
                  "generation": generation, "distance": np.linspace(1, 2, n)}).to_parquet(
        root / "posterior.parquet")
    return root


#: The parameter values the mechanism tests that pin them were designed and checked at: the table's
#: defaults before the ABC-SMC calibration of 2026-12-07 (results/calibration/abc). A test of
#: a mechanism's behaviour (an effect's sign, a queue's law) at a set point must not move with
#: each recalibration; the calibrated defaults are checked by tests/golden and the report.
DESIGN_VALUES = {
    'risk_baseline_sd': 1.0,
    'household_renewal_rate': 0.0,
    'risk_reversion': 0.02,
    'risk_volatility': 0.08,
    'contact_rate': 0.00358,
    'ia_work_weeks': 2.57,
    'ca_work_weeks': 5.12,
    'ia_threshold_s47': 2.868,
    'conference_threshold': 2.2,
    'cpp_step_down_threshold': 1.6,
    'cpp_first_review_threshold': 1.0,
    'plan_change_persistence': 0.0,
    'close_threshold': 0.5352,
    'court_threshold': 2.9,
    'la_court_sigma': 0.25,
    'defensive_halflife_weeks': 300.0,
    'anxiety_threshold_shift': 0.135,
    'quit_hazard_base': 0.00137,
    'ripple_gain': 0.5,
    'hearing_slots_per_100k': 9.0,
    'guardians_per_100k': 2.6,
    'guardian_staffing_response': 1.5,
    'guardian_staffing_lag_weeks': 39.0,
    'hearings_mean': 5.1,
    'hearing_interval_weeks': 11.0,
    'adjourn_weeks': 6.0,
    'ineffective_load_slope': 0.3131,
    'court_load_onset': 0.7,
    'case_complexity_shape': 1.5,
    'court_capacity_response': 1.0,
    'court_capacity_lag_weeks': 39.0,
    'compliance_target': 0.8,
    'anxiety_expert_gain': 1.5,
    'anxiety_contact_gain': 0.1299,
    'anxiety_contact_lag_weeks': 53.87,
    'anxiety_court_lag_weeks': 6.0,
    'shock_audit_weeks': 24.17,
}
