"""Runs saved by the workshop's groups, for the facilitator's side-by-side comparison.

A group saves its run under a name (``save_run``): its settings (LA size, regime, seed),
every lever's value, its media shocks, and its outcomes over the weeks it played since the
session start, as rates a year so that runs of different lengths compare:

* missed harm: severe harm events to families with no open case (``harm_missed``);
* unnecessary investigations: s47 enquiries into families below the significant-harm cut
  (``unnecessary_investigations``);
* delay for children: child-weeks of drift and delay (``delay_weeks``);
* staff turnover: permanent staff leaving a year, at the end (``turnover_annual_rate``);
* cost: the workers in post plus the courts' expert assessments (``work_cost`` +
  ``court_expert_cost``).

Each run is one JSON file (and its weekly figures one CSV file) in :func:`runs_folder`
(``CPABM_VIZ_RUNS``, default ``~/.local/share/cpabm/workshop-runs``). A name already taken
gets a number ("Group A (2)"): nothing saved is overwritten. Nothing here imports Solara.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from viz import workshop as W

#: (key, label, unit) of each outcome the facilitator compares; lower is better for all.
OUTCOMES = (
    ("missed_harm", "Missed harm", "events a year"),
    ("unnecessary_investigations", "Unnecessary investigations", "families a year"),
    ("delay", "Delay for children", "child-weeks a year"),
    ("turnover", "Staff turnover", "% a year"),
    ("cost", "Cost", "£ million a year"),
)
#: The weekly series saved beside each run (CSV), with the registry's names.
WEEKLY = ("referrals_children", "harm_missed", "unnecessary_investigations", "delay_weeks",
          "turnover_annual_rate", "work_cost", "court_expert_cost")


def runs_folder() -> Path:
    env = os.environ.get("CPABM_VIZ_RUNS")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "cpabm" / "workshop-runs"


def outcomes(model) -> dict:
    """The run's outcomes over the weeks played since the session start (a year's rate);
    before any week is played, over the history's last year, with 0 weeks played."""
    n = W.recorded_weeks(model)
    start = min(getattr(model, "session_start", 0), n)
    played = n - start
    if not played:  # nothing played yet: the history's last year
        start = max(0, n - 52)
    weeks = max(n - start, 1)
    per_year = 52.0 / weeks

    def total(name):
        return float(np.asarray(model.series(name)[start:n], float).sum())
    turnover = model.series("turnover_annual_rate")
    return {
        "weeks": played,
        "missed_harm": total("harm_missed") * per_year,
        "unnecessary_investigations": total("unnecessary_investigations") * per_year,
        "delay": total("delay_weeks") * per_year,
        "turnover": 100 * float(turnover[n - 1]) if n else 0.0,
        "cost": (total("work_cost") + total("court_expert_cost")) * per_year / 1e6,
    }


def describe(model) -> dict:
    """What a saved run records: settings, levers, shocks and outcomes."""
    levers = {lv.param: model.lever_value(lv.param) for lv in W.LEVERS}
    levers.update({name: bool(getattr(model.p, name)) for name, _, _ in W.LOOP_SWITCHES})
    return {"children": model.children_n, "regime": W.regime_label(model.regime),
            "seed": model.seed, "week": model.week, "date": str(model.date()),
            "shock_weeks": list(model.shock_weeks), "levers": levers,
            "outcomes": outcomes(model)}


def weekly_table(model) -> pd.DataFrame:
    """The run's weekly figures (since the session start) with the calendar date."""
    n = W.recorded_weeks(model)
    start = min(getattr(model, "session_start", 0), n)
    out = {"week": np.arange(start, n), "date": model.calendar.week_end[start:n]}
    for name in WEEKLY:
        out[name] = model.series(name)[start:n]
    return pd.DataFrame(out)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "run"


def save_run(name: str, model, folder: Path | None = None) -> dict:
    """Save ``model``'s run under ``name`` (a new name if taken); returns the record."""
    name = " ".join(str(name).split())
    if not name:
        raise ValueError("a run needs a name (for example the group's name)")
    folder = Path(folder or runs_folder())
    folder.mkdir(parents=True, exist_ok=True)
    taken = {r["name"] for r in load_runs(folder)}
    final, k = name, 2
    while final in taken or (folder / f"{_slug(final)}.json").exists():
        final, k = f"{name} ({k})", k + 1
    with model.lock:
        record = {"name": final, "saved": dt.datetime.now().isoformat(timespec="microseconds"),
                  **describe(model)}
        table = weekly_table(model)
    stem = _slug(final)
    with open(folder / f"{stem}.json", "x") as f:  # "x": never over an existing file
        json.dump(record, f, indent=2)
    with open(folder / f"{stem}.csv", "x") as f:
        table.to_csv(f, index=False)
    return record


def load_runs(folder: Path | None = None) -> list[dict]:
    """Every saved run in the folder, oldest first (unreadable files are skipped)."""
    folder = Path(folder or runs_folder())
    runs = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(rec, dict) and "outcomes" in rec and "name" in rec:
            rec["file"] = path.name
            runs.append(rec)
    return sorted(runs, key=lambda r: r.get("saved", ""))


def runs_table(runs: list[dict]) -> pd.DataFrame:
    """One row per run: name, settings and the outcomes (with units in the column names)."""
    rows = []
    for r in runs:
        row = {"run": r["name"], "regime": r["regime"], "children": r["children"],
               "seed": r["seed"], "weeks played": r["outcomes"]["weeks"],
               "media shocks": len(r["shock_weeks"])}
        for key, label, unit in OUTCOMES:
            row[f"{label} ({unit})"] = r["outcomes"][key]
        rows.append(row)
    return pd.DataFrame(rows)


def same_seeds(runs: list[dict]) -> bool:
    """Do all runs share LA size and seed (so their differences are policy, not luck)?"""
    return len({(r["seed"], r["children"]) for r in runs}) <= 1


def weeks_played(runs: list[dict]) -> tuple[int, int]:
    """The fewest and most weeks any run played (its outcomes are rates over those weeks)."""
    weeks = [int(r["outcomes"]["weeks"]) for r in runs]
    return min(weeks), max(weeks)


def comparison_png(runs: list[dict]) -> bytes:
    """The runs side by side, one bar chart per outcome, as a PNG (for the export)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(OUTCOMES), figsize=(16, 4.5), dpi=100)
    names = [r["name"] for r in runs]
    for ax, (key, label, unit) in zip(axes, OUTCOMES, strict=True):
        vals = [r["outcomes"][key] for r in runs]
        ax.barh(names, vals, color="#1f4e79")
        ax.set_title(f"{label}\n({unit})", fontsize=13)
        ax.tick_params(labelsize=12)
        ax.invert_yaxis()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
