"""The statistical power of the harm outcomes: events against the exposure they come from.

Runs one scenario with N seeds and writes, for each harm outcome (its mean per complete
financial year over the run), the mean, the SD between replications, the 95% CI half-width
of the mean (Student t) and that half-width relative to the mean; and the replications that
would give a 5% relative half-width. docs/research.md (precision) and docs/ODD.md quote the
table; tests/integration/test_exposure_doc.py checks the quotes.

    python experiments/tools/exposure_power.py [--seeds 10]

Writes results/exposure_power/power.csv and runs.csv.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd
from scipy import stats

import abm

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "results" / "exposure_power"
SCENARIO = ROOT / "experiments" / "scenarios" / "england_2011_2015_s05.toml"
OUTCOMES = ("harm_missed", "harm_events", "unprotected_harm_weeks",
            "unnecessary_investigations", "unnecessary_intervention_weeks")


def power_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, SD, 95% CI half-width (absolute and relative to the mean) and the replications
    for a 5% relative half-width, per outcome (the columns of ``runs``)."""
    n = len(runs)
    t = stats.t.ppf(0.975, n - 1)
    rows = []
    for name in runs.columns:
        x = runs[name]
        mean, sd = float(x.mean()), float(x.std(ddof=1))
        hw = t * sd / math.sqrt(n)
        rel = hw / mean if mean else math.nan
        need = math.ceil((1.96 * sd / (0.05 * mean)) ** 2) if mean else math.nan
        rows.append({"outcome": name, "replications": n, "mean": mean, "sd": sd,
                     "ci_half_width": hw, "relative_half_width": rel,
                     "replications_for_5pct": need})
    return pd.DataFrame(rows).set_index("outcome")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    sc = abm.load_scenario(SCENARIO)
    rows = []
    for seed in range(args.seeds):
        out = abm.run(sc, seed=seed).outcomes()
        rows.append({k: float(out[k]) for k in OUTCOMES})
        print(seed, rows[-1], flush=True)
    runs = pd.DataFrame(rows, index=pd.RangeIndex(args.seeds, name="seed"))
    OUT.mkdir(parents=True, exist_ok=True)
    runs.to_csv(OUT / "runs.csv")
    table = power_table(runs)
    table.to_csv(OUT / "power.csv")
    print(table.to_string())


if __name__ == "__main__":
    main()
