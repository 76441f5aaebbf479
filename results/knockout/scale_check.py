"""Key rates of the default scenario at 5% and 10% samples (3 seeds each), FY2009-FY2011.

Run from the repository root (about 2 min on an idle machine):

    .venv/bin/python results/knockout/scale_check.py

Rates per 10k children and workforce shares should not depend on the sample if it is big
enough; docs/knockout.md reports what this finds.
"""

from __future__ import annotations

import dataclasses
import time

import pandas as pd
from abm.model import ChildProtectionModel
from abm.scenario import load_scenario

from abm.outputs import fy_summary

BASE = "experiments/scenarios/england_default.toml"
YEARS = ["FY2009", "FY2010", "FY2011"]

rows = []
for scale in (0.05, 0.1):
    sc = dataclasses.replace(load_scenario(BASE), scale=scale)
    for seed in (1, 2, 3):
        t = time.time()
        m = ChildProtectionModel(sc, rng=seed, agent_views=False).run()
        s = fy_summary(m).loc[YEARS].mean(numeric_only=True)
        kids = float(m.las.children.sum())
        rows.append({"scale": scale, "seed": seed, "seconds": time.time() - t,
                     "children": kids,
                     "referrals_per_10k": s["referrals"] / kids * 1e4,
                     "cp_plans_per_10k": s["cp_plans_census"] / kids * 1e4,
                     "care_apps_per_10k": s["care_applications"] / kids * 1e4,
                     "core_assessment_share": s["core_assessment_share"],
                     "turnover_rate": s["turnover_rate"], "vacancy_rate": s["vacancy_rate"],
                     "agency_share": s["agency_share"], "mean_caseload": s["mean_caseload"],
                     "direct_time_share": s["direct_time_share"],
                     "prescription": s["prescription"],
                     "mean_journey_weeks": s["mean_journey_weeks"],
                     "harm_missed_per_100k": s["harm_events_missed"] / kids * 1e5})
        print(rows[-1], flush=True)
df = pd.DataFrame(rows)
df.to_csv("results/knockout/scale_check.csv", index=False)
print(df.drop(columns=["seed"]).groupby("scale").agg(["mean", "std"]).T.to_string())
