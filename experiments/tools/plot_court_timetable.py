"""The figure and table of the timetable sweep (experiments/sweeps/court_timetable.toml): mean
duration of the care cases concluded in FY2013-FY2015 against the timetable for the child,
one line per court capacity (hearing slots), one panel per enforcement strength, with the
replicates' range as a band; and the components of the duration at default capacity. The
table (results/figures/court_timetable.csv: median, lowest and highest over the replicates
per design point) is what docs/courts.md quotes (tests/integration/test_court_timetable_doc.py).

    python experiments/tools/plot_court_timetable.py [results/sweeps/court_timetable/summary]
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

#: the components of the duration (they add up to it: docs/outputs.md), as the sweep's metrics
COMPONENTS = ("first_hearing_weeks", "guardian_weeks", "case_management_weeks", "experts_weeks",
              "listing_weeks", "adjourned_weeks")
FACTORS = ["timetable_enforcement", "hearing_slots_per_100k", "timetable_weeks"]
SPEC = Path(__file__).resolve().parents[2] / "experiments" / "sweeps" / "court_timetable.toml"


def reference_slots(spec: Path = SPEC) -> float:
    """The default capacity: the hearing slots of the sweep's reference point (which a test
    keeps at the parameter table's default)."""
    import tomllib

    return float(tomllib.loads(spec.read_text())["summary"]["reference"]["hearing_slots_per_100k"])


def components(runs: pd.DataFrame) -> list[str]:
    """The components the runs carry (a sweep run before a metric was added lacks it)."""
    return [c for c in COMPONENTS if c in runs.columns]


def dose_response(runs: pd.DataFrame) -> pd.DataFrame:
    """Per design point: the median, lowest and highest over the replicates of the mean
    duration of concluded cases (FY2013-FY2015), and the medians of its components and of
    the share concluded within 40 weeks."""
    g = runs.groupby(FACTORS)
    table = g["care_duration_weeks"].agg(replicates="size", duration_median="median",
                                         duration_min="min", duration_max="max")
    for c in (*components(runs), "within_40_weeks_share"):
        table[c] = g[c].median()
    return table.round(2).reset_index()


def main(folder: str = "results/sweeps/court_timetable/summary",
         out: str = "results/figures/court_timetable.png") -> Path:
    runs = pd.read_csv(Path(folder) / "metrics_runs.csv")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    dose_response(runs).to_csv(path.with_suffix(".csv"), index=False)
    enforcements = sorted(runs["timetable_enforcement"].unique())
    fig, axes = plt.subplots(1, len(enforcements) + 1, figsize=(5 * (len(enforcements) + 1), 4),
                             sharey=True)
    for ax, e in zip(axes, enforcements, strict=False):
        sub = runs[runs["timetable_enforcement"] == e]
        for slots, g in sub.groupby("hearing_slots_per_100k"):
            s = g.groupby("timetable_weeks")["care_duration_weeks"].agg(["min", "median", "max"])
            ax.plot(s.index, s["median"], marker="o", label=f"{slots:g} slots per 100k")
            ax.fill_between(s.index, s["min"], s["max"], alpha=0.25)
        ax.set_title(f"enforcement {e:g}")
        ax.set_xlabel("timetable for the child (weeks)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean duration of concluded cases, FY2013-FY2015 (weeks)")
    axes[0].legend()
    ax = axes[-1]
    slots = reference_slots()
    sub = runs[(runs["timetable_enforcement"] == max(enforcements))
               & (runs["hearing_slots_per_100k"] == slots)]
    m = sub.groupby("timetable_weeks")[components(runs)].median()
    bottom = 0.0
    for c in components(runs):
        ax.bar(m.index, m[c], bottom=bottom, width=6, label=c.replace("_weeks", ""))
        bottom = bottom + m[c]
    ax.set_title(f"components at {slots:g} slots, enforcement {max(enforcements):g}")
    ax.set_xlabel("timetable for the child (weeks)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


if __name__ == "__main__":
    print(main(*sys.argv[1:]))
