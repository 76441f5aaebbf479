"""One configuration of the stage-2 court search (results/calibration/stage2/search_log.md).

    .venv/bin/python experiments/tools/stage2_search.py SCALE SEEDS [name=value ...]
    SCENARIO=path/to/other.toml .venv/bin/python experiments/tools/stage2_search.py 0.1 4

Runs the calibrated England scenario (or $SCENARIO) at sample SCALE with seeds 1..SEEDS and
the given parameter overrides, and prints, per seed and averaged: the mean duration of care
cases concluded in Q3 (Jul-Sep) 2008-2011, arrivals per closure in June 2010 and in May-July
2010, care applications FY2008-FY2010 (rescaled to 1:1) and referrals FY2008-FY2009
(thousands). `cpabm validate` is the full check; this is the quick look used to choose
among candidates.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from abm.core.model import ChildProtectionModel  # noqa: E402
from abm.core.scenario import load_scenario  # noqa: E402
from abm.outputs.tables import period_table  # noqa: E402
from abm.studies.targets import _period_indicators  # noqa: E402

QUARTERS = ["2008-Q3", "2009-Q3", "2010-Q3", "2011-Q3"]
SUMMER_2010 = ["2010-05", "2010-06", "2010-07"]


def parse(value: str):
    if value in ("true", "false"):
        return value == "true"
    return float(value)


def measure(model, scale: float) -> list[float]:
    q = _period_indicators(model, "quarter")
    mo = _period_indicators(model, "month")
    fy = period_table(model, "fy")
    durations = [q.at[p, "care_mean_duration_weeks"] for p in QUARTERS]
    june = mo.at["2010-06", "care_arrivals_per_closure"]
    summer = (mo.loc[SUMMER_2010, "care_applications"].sum()
              / mo.loc[SUMMER_2010, "care_cases_concluded"].sum())
    apps = [fy.at[f, "court_applications"] / scale for f in ("FY2008", "FY2009", "FY2010")]
    refs = [fy.at[f, "referrals_children"] / scale / 1e3 for f in ("FY2008", "FY2009")]
    return durations + [june, summer] + apps + refs


def main(argv: list[str]) -> None:
    scale, seeds = float(argv[0]), int(argv[1])
    overrides = {k: parse(v) for k, v in (a.split("=", 1) for a in argv[2:])}
    path = os.environ.get("SCENARIO", ROOT / "experiments" / "scenarios" / "england_calibrated.toml")
    sc = load_scenario(path)
    sc = dataclasses.replace(sc, scale=scale, overrides={**sc.overrides, **overrides})
    rows = []
    for seed in range(1, seeds + 1):
        rows.append(measure(ChildProtectionModel(sc, rng=seed).run(), scale))
        print(seed, " ".join(f"{x:.2f}" for x in rows[-1]), flush=True)
    r = np.array(rows).mean(axis=0)
    print(f"MEAN dur08 {r[0]:.1f} dur09 {r[1]:.1f} dur10 {r[2]:.1f} dur11 {r[3]:.1f} | "
          f"jun10 {r[4]:.2f} mjj10 {r[5]:.2f} | apps {r[6]:.0f} {r[7]:.0f} {r[8]:.0f} | "
          f"ref {r[9]:.0f} {r[10]:.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
