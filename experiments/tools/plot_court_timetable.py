"""The figure of the timetable sweep (experiments/sweeps/court_timetable.toml): mean duration
of the care cases concluded in FY2013-FY2015 against the timetable for the child, one line per
court capacity (hearing slots), one panel per enforcement strength, with the replicates' range
as a band; and the components of the duration at default capacity.

    python experiments/tools/plot_court_timetable.py [results/sweeps/court_timetable/summary]
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

COMPONENTS = ("case_management_weeks", "listing_weeks", "adjourned_weeks")


def main(folder: str = "results/sweeps/court_timetable/summary",
         out: str = "results/figures/court_timetable.png") -> Path:
    runs = pd.read_csv(Path(folder) / "metrics_runs.csv")
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
    sub = runs[(runs["timetable_enforcement"] == max(enforcements))
               & (runs["hearing_slots_per_100k"] == 9.0)]
    m = sub.groupby("timetable_weeks")[list(COMPONENTS)].median()
    bottom = 0.0
    for c in COMPONENTS:
        ax.bar(m.index, m[c], bottom=bottom, width=6, label=c.replace("_weeks", ""))
        bottom = bottom + m[c]
    ax.set_title(f"components at 9 slots, enforcement {max(enforcements):g}")
    ax.set_xlabel("timetable for the child (weeks)")
    ax.legend()
    fig.tight_layout()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


if __name__ == "__main__":
    print(main(*sys.argv[1:]))
