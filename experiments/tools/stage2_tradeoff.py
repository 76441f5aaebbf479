"""The June 2010 ratio against the Q2 2010 duration, over every configuration of the stage-2
court search: results/calibration/stage2/tradeoff.{md,png}.

Reads results/calibration/stage2/search_log.md (written by stage2_search.py; each "== " line
gives a configuration's overrides, each "MEAN" line its means over seeds). It shows the
trade-off the calibration report describes: configurations that raise arrivals per
closure in June 2010 lengthen the durations of the cases concluded around then (Little's
law). Run:  .venv/bin/python experiments/tools/stage2_tradeoff.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from abm.core.io import atomic_write_text  # noqa: E402

STAGE2 = ROOT / "results" / "calibration" / "stage2"
MEAN = re.compile(r"MEAN dur08 ([\d.]+) dur09 ([\d.]+) dur10 ([\d.]+) dur11 ([\d.]+) \| "
                  r"jun10 ([\d.]+) mjj10 ([\d.]+)")
DUR10, DUR10_TOL, RATIO_LO, RATIO_HI = 55.7, 1.5, 3.5, 6.0  # the targets (england_2005_2011.toml)
DURATIONS = {"dur08": 53.02, "dur09": 54.41, "dur10": 55.7}  # Q2 2008, 2009, 2010; each +/- 1.5


def parse(text: str) -> list[dict]:
    """One row per MEAN line: its run block, its configuration and the means."""
    rows, config, block = [], "", ""
    for line in text.splitlines():
        if line.startswith("## "):
            block, config = line[3:].strip(), "(see the block's heading)"
        elif line.startswith("== "):
            config = line[3:].strip()
        m = MEAN.search(line)
        if m:
            d08, d09, d10, d11, jun, mjj = map(float, m.groups())
            rows.append({"block": block, "config": config, "dur08": d08, "dur09": d09,
                         "dur10": d10, "dur11": d11, "jun10": jun, "mjj10": mjj})
    return rows


def main() -> int:
    rows = parse((STAGE2 / "search_log.md").read_text())
    # runaway configurations (durations above 80 weeks) are listed but not fitted
    fit = [r for r in rows if r["dur10"] < 80]
    runaway = [r for r in rows if r["dur10"] >= 80]
    x = np.array([r["jun10"] for r in fit])
    y = np.array([r["dur10"] for r in fit])
    slope, icpt = np.polyfit(x, y, 1)
    r2 = float(np.corrcoef(x, y)[0, 1] ** 2)
    ok = [r for r in rows if all(abs(r[k] - v) <= DUR10_TOL for k, v in DURATIONS.items())]
    best = max(ok, key=lambda r: r["jun10"]) if ok else None
    lines = [
        "# The June 2010 ratio against the Q2 2010 duration (stage-2 search)", "",
        "Written by `experiments/tools/stage2_tradeoff.py` from `search_log.md`. Each row is "
        "one configuration's mean over its seeds (scale and seeds as in its block).", "",
        f"* Configurations: {len(rows)}; fitted (Q2 2010 duration below 80 weeks): {len(fit)}.",
        f"* Linear fit over them: Q2 2010 duration = {icpt:.1f} + {slope:.1f} x June ratio "
        f"(R^2 {r2:.2f}).",
        f"* With all three published durations inside their tolerance (+/- {DUR10_TOL} weeks): "
        f"{len(ok)}; the highest June ratio among them is {best['jun10']:.2f} ({best['block']}: "
        f"{best['config']}). Most blocks ran at 10% scale, where the June ratio of one "
        "configuration varies by about 0.1-0.2 between seed sets." if best else
        "* None with all three durations inside their tolerance.",
        f"* The published ratio band is {RATIO_LO}-{RATIO_HI}. No configuration reaches it "
        "with a Q2 2010 duration below 80 weeks.",
        *([f"* The runaway configurations (not in the figure) reach June ratios of "
           f"{min(r['jun10'] for r in runaway):.2f}-{max(r['jun10'] for r in runaway):.2f} with Q2 "
           f"2010 durations of {min(r['dur10'] for r in runaway):.0f}-"
           f"{max(r['dur10'] for r in runaway):.0f} weeks."] if runaway else []), "",
        "![trade-off](tradeoff.png)", "",
        "| block | configuration | Q2 2008 | Q2 2009 | Q2 2010 | Q2 2011 | June 2010 | May-Jul 2010 |",
        "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['block']} | {r['config']} | {r['dur08']:.1f} | {r['dur09']:.1f} | "
                     f"{r['dur10']:.1f} | {r['dur11']:.1f} | {r['jun10']:.2f} | {r['mjj10']:.2f} |")
    atomic_write_text(STAGE2 / "tradeoff.md", "\n".join(lines) + "\n")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.axhspan(DUR10 - DUR10_TOL, DUR10 + DUR10_TOL, color="#cde", label="published Q2 2010 duration ± tolerance")
    ax.axvspan(RATIO_LO, RATIO_HI, color="#edc", label="published June 2010 ratio band")
    ax.scatter(x, y, s=18, color="#235", label="search configurations (mean over seeds)")
    xs = np.linspace(0.9, max(RATIO_HI, x.max()) + 0.2, 50)
    ax.plot(xs, icpt + slope * xs, color="#a33", lw=1, label=f"linear fit (R² {r2:.2f})")
    ax.set_xlabel("arrivals per closure, June 2010")
    ax.set_ylabel("mean duration of cases concluded, Q2 2010 (weeks)")
    ax.set_xlim(0.9, RATIO_HI + 0.2)
    ax.set_ylim(45, 80)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title("Stage-2 court search: ratio against duration", fontsize=10)
    fig.tight_layout()
    tmp = STAGE2 / "tradeoff.png.tmp"
    fig.savefig(tmp, format="png", dpi=110)
    tmp.replace(STAGE2 / "tradeoff.png")
    print(f"wrote {STAGE2 / 'tradeoff.md'} and tradeoff.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
