"""Child protection plans against the published figures: the grid search that fitted the
plan-ending parameters (issue #21) and the table of the fitted model, for the calibration
notes.

    python experiments/tools/plans_report.py --grid    # the grid search -> plans_grid.csv
    python experiments/tools/plans_report.py --refine  # its second stage (adds rows)
    python experiments/tools/plans_report.py           # the fitted model -> plans.md

Both run the calibration scenario (England, 10% sample, to October 2010) with a few seeds.
The grid varies the thresholds at a plan's review conferences (``cpp_first_review_threshold``,
``cpp_step_down_threshold``) and the LA's threshold for applying for care proceedings at a
review (``court_threshold``, which longer plans reach more often), then refines around the
best point with the noise of that decision (``la_court_sigma``). Its loss measures the
plans' duration by the published ratio of children on a plan at 31 March to children who
became the subject of one in the year (the model's plan starts are low, so its stock is
compared through the ratio), the 5% of plans ended in 2007-08 that had lasted two years or
more, and the care applications of 2007-08 and 2008-09 and their rise in 2009-10 (the court
threshold's own targets). Published figures: abm/data/targets/plans_2007_2010.toml and
england_2005_2011.toml.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from abm import ChildProtectionModel  # noqa: E402
from abm.core import indicators as I  # noqa: E402
from abm.core.io import atomic_write_text  # noqa: E402
from abm.core.scenario import load_scenario  # noqa: E402
from abm.outputs.tables import summary  # noqa: E402
from abm.studies.targets import load_targets, target_statistics  # noqa: E402

SCENARIO = ROOT / "experiments" / "scenarios" / "england_calibration_s10.toml"
OUT = ROOT / "results" / "calibration"
SEEDS = (1, 2, 3)
#: Stage 1: a grid of the three thresholds (``la_court_sigma`` at 0.5, its value before).
GRID = {"cpp_first_review_threshold": (0.8, 1.0, 1.2),
        "cpp_step_down_threshold": (1.4, 1.6, 1.8),
        "court_threshold": (2.9, 3.1)}
#: Stage 2 (``--refine``): around the best of stage 1, the noise of the LA's decision to
#: apply for care, which sets how often the longer plans' repeated reviews send a family to
#: court by chance.
REFINE = [{"court_threshold": c, "la_court_sigma": s, "cpp_step_down_threshold": d}
          for c, s, d in ((3.1, 0.25, 1.6), (2.9, 0.25, 1.6), (3.3, 0.25, 1.6), (3.0, 0.25, 1.6),
                          (3.0, 0.25, 1.7), (3.0, 0.35, 1.6))]
FITTED = ("cpp_first_review_threshold", "cpp_step_down_threshold", "court_threshold",
          "la_court_sigma")
#: Published stock at 31 March / children becoming the subject of a plan in the year
#: (plans_2007_2010.toml): 29,200 / 34,000; 34,100 / 37,900; 39,100 / 44,300.
STOCK_PER_START = {"FY2007": 29200 / 34000, "FY2008": 34100 / 37900, "FY2009": 39100 / 44300}
YEARS = ("FY2007", "FY2008", "FY2009")
BANDS = [f"cp_plans_ended_{n}_share" for n, _, _ in I.CPP_DURATION_BANDS]


def one_run(sets: dict, seed: int, scale: float | None = None) -> dict:
    """The plan figures and the target statistics of one seeded run."""
    sc = load_scenario(SCENARIO, sets)
    if scale is not None:
        sc = dataclasses.replace(sc, scale=scale)
    m = ChildProtectionModel(sc, rng=seed, agent_views=False).run()
    fy = summary(m, "fy")
    out = dict(target_statistics(m, [t for t in load_targets() if t.scenario == "main"]))
    for y in YEARS:
        row = fy.loc[y]
        out[f"stock_per_start_{y}"] = row["stock_cp_plan_children"] / row["cpp_starts_children"]
        out[f"duration_weeks_{y}"] = row["cp_plan_duration_weeks"]
        out[f"repeat_share_{y}"] = row["cp_plan_repeat_share"]
        for b in BANDS:
            out[f"{b}_{y}"] = row[b]
    return out


def loss(r: dict) -> float:
    """Squared errors, each in units of its tolerance (see the module's docstring)."""
    terms = [(r[f"stock_per_start_{y}"] / v - 1) / 0.10 for y, v in STOCK_PER_START.items()]
    terms.append((r["cp_plans_ended_2y_share_fy2007"] - 0.05) / 0.02)
    for y, v in (("FY2007", 6241), ("FY2008", 6488)):
        terms.append((r[f"series:care_applications_by_year:{y}"] / v - 1) / 0.10)
    terms.append((r["care_applications_rise_fy2009"] - 0.30) / 0.08)
    return float(np.sum(np.square(terms)))


def grid(seeds, scale, refine: bool) -> Path:
    """Stage 1 (the grid) writes plans_grid.csv; stage 2 (``refine``) adds its rows."""
    if refine:
        points = [{"cpp_first_review_threshold": 1.0, **r} for r in REFINE]
    else:
        points = [{**dict(zip(GRID, v, strict=True)), "la_court_sigma": 0.5}
                  for v in itertools.product(*GRID.values())]
    rows = []
    for sets in points:
        runs = [one_run(sets, s, scale) for s in seeds]
        mean = {k: float(np.nanmean([r[k] for r in runs])) for k in runs[0]}
        rows.append({**sets, "stage": 2 if refine else 1, "loss": loss(mean), **mean})
        print(sets, round(rows[-1]["loss"], 2), flush=True)
    df = pd.DataFrame(rows)
    path = OUT / "plans_grid.csv"
    if refine:
        df = pd.concat([pd.read_csv(path), df], ignore_index=True)
    atomic_write_text(path, df.sort_values("loss").to_csv(index=False))
    return path


def _fmt(x: float, digits: int = 3) -> str:
    if not np.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.{digits}g}"


def report(seeds, scale) -> Path:
    params = load_scenario(SCENARIO).params()
    fitted = {k: getattr(params, k) for k in FITTED}
    runs = [one_run({}, s, scale) for s in seeds]
    med = {k: float(np.nanmedian([r[k] for r in runs])) for k in runs[0]}
    targets = [t for t in load_targets() if t.id.startswith("cp_plan")]
    lines = [
        "# Child protection plans: the fitted model against the published figures",
        "",
        "Generated by `experiments/tools/plans_report.py` (the calibration scenario "
        f"`{SCENARIO.name}`, England at a {scale or 0.1:g} sample, seeds {list(seeds)}; "
        "medians over the seeds, counts rescaled to England). The parameters were fitted by "
        "the grid search of `plans_report.py --grid` (results in `plans_grid.csv`): "
        + ", ".join(f"`{k}` = {v:g}" for k, v in fitted.items()) + ".",
        "",
        "## Targets (abm/data/targets/plans_2007_2010.toml)",
        "",
        "| target | published | tolerance | model | fitted or checked |",
        "|---|---|---|---|---|",
    ]
    for t in targets:
        x = med.get(t.id, math.nan)
        ok = "within" if t.passes(x) else "**outside**"
        lines.append(f"| {t.id} | {_fmt(t.value)} | [{_fmt(t.lo)}, {_fmt(t.hi)}] | "
                     f"{_fmt(x)} ({ok}) | {'fitted' if t.weight > 0 else 'checked'} |")
    lines += [
        "",
        "## Plans ended, by the DfE's length bands, and the stock per start",
        "",
        "Published stock per start (children on a plan at 31 March / children who became the "
        "subject of a plan in the year): "
        + ", ".join(f"{y} {v:.3f}" for y, v in STOCK_PER_START.items()) + ".",
        "",
        "| year | stock per start | mean duration (weeks) | repeat share | "
        + " | ".join(n.replace("_", " ") for n, _, _ in I.CPP_DURATION_BANDS) + " |",
        "|---|---|---|---|" + "---|" * len(BANDS),
    ]
    for y in YEARS:
        cells = [f"{med[f'stock_per_start_{y}']:.3f}", f"{med[f'duration_weeks_{y}']:.1f}",
                 f"{med[f'repeat_share_{y}']:.3f}"] + [f"{med[f'{b}_{y}']:.3f}" for b in BANDS]
        lines.append(f"| {y} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "The full distribution of the lengths of plans that ended was not found for "
        "2007-08 to 2009-10 (only the share lasting two years or more, 2007-08). For shape "
        "only, a later year (2019-20, DfE, explore-education-statistics): 18.7%, 11.4%, "
        "42.3%, 24.0%, 3.6%. Plans in the model end only at review conferences (the first "
        "at 13 weeks, then every 26), so the band 'more than 3 months, up to 6 months' holds "
        "only plans reviewed early after an audit.",
        "",
    ]
    path = OUT / "plans.md"
    atomic_write_text(path, "\n".join(lines))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", action="store_true", help="run the grid search (stage 1)")
    ap.add_argument("--refine", action="store_true", help="run stage 2 of the search")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    ap.add_argument("--scale", type=float, default=None, help="sample (default: the scenario's)")
    a = ap.parse_args()
    print(grid(a.seeds, a.scale, a.refine) if a.grid or a.refine else report(a.seeds, a.scale))


if __name__ == "__main__":
    main()
