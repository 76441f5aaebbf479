"""The ripple pulse test: does the ripple loop amplify or damp a one-year burst of quits?

Runs ``experiments/scenarios/ripple_pulse.toml`` (England at 25%, no media shock, the quit
hazard doubled in FY2006 by two dated events) and the same scenario without the two events,
with the same seeds (common random numbers), once with the ripple loop at its default gain
and once with it cut (``ripple_gain = 0``). For each arm and seed the pulse's excess leavers
are the paired difference (pulse minus no pulse) in FY2006; the excess in the following
years (FY2007-FY2011) as a share of it says whether the loop passes the pulse on (share > 0:
the extra vacancies strain the stayers, who leave in turn) or damps it (share < 0: the
pulse took the most strained workers, and fresh recruits replace them).

    python experiments/tools/ripple_pulse.py [--seeds 6] [--workers 1] [--report-only]

Writes results/ripple_pulse/: runs.csv (every run's yearly leavers, turnover, cover gap and
stress), pulse.csv (per arm: the shares with 95% CIs over seeds, and the loop's paired
effect), report.md and ripple_pulse.png. docs/knockout.md quotes pulse.csv;
tests/integration/test_ripple_pulse_doc.py checks the quotes and the recomputation.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "results" / "ripple_pulse"
SCENARIO = ROOT / "experiments" / "scenarios" / "ripple_pulse.toml"
PULSE_FY = "FY2006"
AFTER = ("FY2007", "FY2008", "FY2009", "FY2010", "FY2011")
COLUMNS = ("leavers", "turnover_rate", "vacancy_rate_survey", "mean_stress")


def arms() -> dict[str, float]:
    """The loop's gain in each arm: its default ("loop on") and 0 ("loop off")."""
    from abm.core.params import PARAMETERS
    return {"loop on": float(PARAMETERS["ripple_gain"].default), "loop off": 0.0}


def one_run(job: tuple[str, float, bool, int]) -> pd.DataFrame:
    """One run's yearly outputs: arm, gain, pulse or not, seed."""
    from abm.core.model import ChildProtectionModel
    from abm.core.scenario import load_scenario
    from abm.outputs.tables import summary

    arm, gain, pulse, seed = job
    sc = load_scenario(SCENARIO, overrides={"ripple_gain": gain})
    if not pulse:
        sc = dataclasses.replace(sc, events=[])
    m = ChildProtectionModel(sc, rng=seed, agent_views=False)
    m.run()
    t = summary(m, "fy")[list(COLUMNS)].reset_index()
    t.insert(0, "seed", seed)
    t.insert(0, "pulse", pulse)
    t.insert(0, "gain", gain)
    t.insert(0, "arm", arm)
    return t


def pulse_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per arm (rows "loop on", "loop off"): the pulse's mean excess leavers (FY2006), the
    excess in each following year and in all of them, each as a share of the pulse's excess
    (the ratio of the mean excesses over seeds; for all following years with a 95% CI by the
    delta method); and, in the "loop on" row, the loop's paired effect on the following
    years' excess (loop on minus loop off, same seeds, Student t 95% CI)."""
    wide = runs.pivot_table(index=["arm", "seed", "fy"], columns="pulse", values="leavers")
    excess = (wide[True] - wide[False]).unstack("fy")  # (arm, seed) x fy
    excess["after"] = excess[list(AFTER)].sum(axis=1)
    rows = []
    for arm, e in excess.groupby(level="arm", sort=False):
        n = len(e)
        t = stats.t.ppf(0.975, n - 1)
        p, a = e[PULSE_FY], e["after"]
        share = a.mean() / p.mean()
        # delta method for the ratio of two means from the same seeds
        var = (a.var(ddof=1) - 2 * share * a.cov(p) + share**2 * p.var(ddof=1)) / (n * p.mean()**2)
        row = {"arm": arm, "gain": float(runs.loc[runs.arm == arm, "gain"].iloc[0]),
               "seeds": n, "pulse_excess_leavers": p.mean(), "after_excess_leavers": a.mean(),
               "after_share": share, "after_share_ci_lo": share - t * math.sqrt(var),
               "after_share_ci_hi": share + t * math.sqrt(var)}
        for fy in AFTER:
            row[f"share_{fy}"] = e[fy].mean() / p.mean()
        rows.append(row)
    table = pd.DataFrame(rows).set_index("arm").loc[list(arms())]
    on, off = excess.xs("loop on", level="arm"), excess.xs("loop off", level="arm")
    d = (on["after"] - off["after"]).dropna()
    hw = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    for col, value in (("loop_effect_after_leavers", d.mean()),
                       ("loop_effect_ci_lo", d.mean() - hw), ("loop_effect_ci_hi", d.mean() + hw)):
        table[col] = math.nan
        table.loc["loop on", col] = value
    return table


def figure(runs: pd.DataFrame, table: pd.DataFrame, path: Path) -> None:
    """Left: excess leavers per financial year (pulse minus no pulse, mean over seeds) with
    the loop on and off. Right: the excess cover gap (share of posts vacant or agency-held)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for arm, colour in (("loop on", "tab:red"), ("loop off", "tab:blue")):
        r = runs[runs.arm == arm]
        w = r.pivot_table(index=["seed", "fy"], columns="pulse",
                          values=["leavers", "vacancy_rate_survey"])
        ex = (w.xs(True, axis=1, level="pulse") - w.xs(False, axis=1, level="pulse"))
        m = ex.groupby(level="fy").mean()
        share = table.loc[arm, "after_share"]
        a1.plot(m.index, m["leavers"], marker="o", color=colour,
                label=f"{arm} (gain {table.loc[arm, 'gain']:g}): after/pulse = {share:+.2f}")
        a2.plot(m.index, m["vacancy_rate_survey"], marker="o", color=colour, label=arm)
    a1.axhline(0, color="grey", lw=0.8)
    a2.axhline(0, color="grey", lw=0.8)
    a1.set_title(f"Excess leavers (pulse - no pulse), quit hazard doubled in {PULSE_FY}")
    a1.set_ylabel("leavers per year (25% sample)")
    a2.set_title("Excess cover gap (posts vacant or agency-held)")
    a2.set_ylabel("share of posts")
    for a in (a1, a2):
        a.tick_params(axis="x", rotation=45)
        a.legend(fontsize=8)
    fig.suptitle(f"Ripple pulse test: England at 25%, {int(table['seeds'].iloc[0])} paired "
                 f"seeds (common random numbers)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(table: pd.DataFrame) -> str:
    on, off = table.loc["loop on"], table.loc["loop off"]
    lines = [
        "# Ripple pulse test", "",
        "Written by `python experiments/tools/ripple_pulse.py` (scenario "
        "`experiments/scenarios/ripple_pulse.toml`: England at 25%, April 2005 to March 2012, "
        f"prescriptive, no media shock; the quit hazard doubled in {PULSE_FY}). Each arm runs "
        "the scenario with and without the pulse on the same seeds; the excess is the paired "
        "difference in permanent leavers.", "",
        "| arm | ripple_gain | seeds | pulse excess leavers | excess FY2007-FY2011 | "
        "share of the pulse's excess [95% CI] |",
        "|---|---|---|---|---|---|",
    ]
    for arm, r in table.iterrows():
        lines.append(f"| {arm} | {r.gain:g} | {int(r.seeds)} | {r.pulse_excess_leavers:.1f} | "
                     f"{r.after_excess_leavers:+.1f} | {r.after_share:+.3f} "
                     f"[{r.after_share_ci_lo:+.3f}, {r.after_share_ci_hi:+.3f}] |")
    lines += ["", "Share of the pulse's excess, year by year:", "",
              "| arm | " + " | ".join(AFTER) + " |", "|---|" + "---|" * len(AFTER)]
    for arm, r in table.iterrows():
        lines.append(f"| {arm} | " + " | ".join(f"{r[f'share_{fy}']:+.3f}" for fy in AFTER)
                     + " |")
    lines += ["", f"The loop's paired effect on the following years' excess (loop on minus "
              f"loop off, same seeds): {on.loop_effect_after_leavers:+.1f} leavers "
              f"[95% CI {on.loop_effect_ci_lo:+.1f}, {on.loop_effect_ci_hi:+.1f}], i.e. "
              f"{on.after_share - off.after_share:+.3f} of the pulse's excess.", "",
              "![pulse](ripple_pulse.png)", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--report-only", action="store_true",
                    help="rebuild pulse.csv, report.md and the figure from runs.csv")
    args = ap.parse_args()
    if args.report_only:
        runs = pd.read_csv(OUT / "runs.csv")
    else:
        jobs = [(arm, gain, pulse, seed) for arm, gain in arms().items()
                for seed in range(args.seeds) for pulse in (False, True)]
        if args.workers > 1:
            with ProcessPoolExecutor(args.workers) as ex:
                parts = list(ex.map(one_run, jobs))
        else:
            parts = [one_run(j) for j in jobs]
        runs = pd.concat(parts, ignore_index=True)
        OUT.mkdir(parents=True, exist_ok=True)
        runs.to_csv(OUT / "runs.csv", index=False)
    table = pulse_table(runs)
    table.to_csv(OUT / "pulse.csv")
    (OUT / "report.md").write_text(report(table))
    figure(runs, table, OUT / "ripple_pulse.png")
    print(table.T.to_string())


if __name__ == "__main__":
    main()
