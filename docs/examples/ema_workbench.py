"""Exploratory modelling of cpabm with the EMA Workbench: a Latin hypercube over uncertainties
and levers, feature scoring, and PRIM scenario discovery.

    pip install 'cpabm[ema]'            # cpabm with ema_workbench (pinned in requirements.lock)
    python docs/examples/ema_workbench.py --scenarios 40 --policies 4 --out results/ema

The model enters the workbench through the public API only: ``abm.evaluate(params,
scenario=..., seed=...)`` maps parameter values to named outcomes (plain floats). Every
experiment uses the same seed, so experiments differ by their inputs alone (common random
numbers). The uncertainties are parameters whose values the evidence leaves open; the levers
are choices a policy maker has (the regime, early-help places). docs/research.md walks
through the output.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import abm

# Run as a script, this file's folder comes first on sys.path, and this file's name would
# hide the ema_workbench package: take the folder off.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

#: the outcomes the workbench records: means per financial year over the run's complete years
OUTCOMES = ["harm_missed", "direct_time_share", "turnover_rate", "referrals_children",
            "stock_looked_after_children"]


def build_model(scenario, seed: int):
    """An EMA ``Model`` whose function is :func:`abm.evaluate` on ``scenario``."""
    from ema_workbench import (
        CategoricalParameter,
        Model,
        RealParameter,
        ScalarOutcome,
    )

    def cpabm(**params):
        return abm.evaluate(params, scenario=scenario, seed=seed, outcomes=OUTCOMES)

    model = Model("cpabm", function=cpabm)
    model.uncertainties = [
        RealParameter("referrer_threshold", 1.5, 2.3),   # referrers' reporting threshold
        RealParameter("quit_hazard_base", 0.0010, 0.0025),  # baseline quits per worker-week
        RealParameter("recruitment_weeks", 40.0, 120.0),  # time to fill a vacancy
    ]
    model.levers = [
        CategoricalParameter("regime", ["prescriptive", "professional_judgment"]),
        RealParameter("early_help_places", 0.0, 60.0),   # per 10,000 children
    ]
    model.outcomes = [ScalarOutcome(name) for name in OUTCOMES]
    return model


def explore(scenario="small_la", scenarios: int = 40, policies: int = 4, seed: int = 1,
            out: Path | None = None) -> dict:
    """Run the experiments, score the features and look for PRIM boxes. Returns the tables
    (and writes them to ``out`` when given)."""
    import numpy as np
    import pandas as pd
    from ema_workbench import SequentialEvaluator, perform_experiments
    from ema_workbench.analysis import feature_scoring, prim

    np.random.seed(seed)  # the workbench's LHS draws from NumPy's global generator
    model = build_model(scenario, seed)
    with SequentialEvaluator(model) as evaluator, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        experiments, outcomes = perform_experiments(model, scenarios=scenarios,
                                                    policies=policies, evaluator=evaluator)
    x = experiments[[p.name for p in (*model.uncertainties, *model.levers)]]
    y = pd.DataFrame(outcomes)
    scores = feature_scoring.get_feature_scores_all(x, y)
    # scenario discovery: which inputs lead to the worst quarter of missed harm?
    worst = (y["harm_missed"] >= y["harm_missed"].quantile(0.75)).to_numpy()
    box = prim.Prim(x, worst, peel_alpha=0.1).find_box()
    limits = box.box_lims[-1] if box.box_lims else pd.DataFrame()
    stats = box.peeling_trajectory.iloc[-1][["coverage", "density", "mass"]]
    table = pd.concat([experiments.reset_index(drop=True), y], axis=1)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(out / "experiments.csv", index=False, float_format="%.6g")
        scores.to_csv(out / "feature_scores.csv", float_format="%.4f")
        limits.to_csv(out / "prim_box.csv", float_format="%.4f")
        stats.to_frame("value").to_csv(out / "prim_box_stats.csv", float_format="%.4f")
    return {"experiments": table, "feature_scores": scores, "prim_box": limits,
            "prim_stats": stats}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="small_la",
                    help="a scenario file or packaged name (default small_la)")
    ap.add_argument("--scenarios", type=int, default=40, help="LHS points over uncertainties")
    ap.add_argument("--policies", type=int, default=4, help="LHS points over levers")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="results/ema")
    args = ap.parse_args(argv)
    r = explore(args.scenario, args.scenarios, args.policies, args.seed, Path(args.out))
    print("feature scores (extra trees):")
    print(r["feature_scores"].round(3).to_string())
    print("\nPRIM box for the worst quarter of missed harm:")
    print(r["prim_box"].to_string())
    print(r["prim_stats"].round(3).to_string())
    print(f"\nwrote {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
