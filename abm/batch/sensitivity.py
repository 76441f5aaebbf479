"""Global sensitivity analysis with SALib, on the metrics of a Sobol' or Morris sweep.

The output analysed at each design point is the metric's mean over replications (with
common random numbers the replication noise is shared by all points). Analyses run in the
unit coordinates of the design (see :mod:`abm.batch.factors`): Sobol' indices do not depend
on the scale of each input; Morris elementary effects are per step of one grid level, so
``mu_star`` compares factors on the share of their range, not on their units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

MAX_PLOTS = 12


@dataclass
class Sensitivity:
    method: str
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def write(self, folder: Path) -> None:
        self.table.to_csv(folder / "sensitivity.csv", index=False, float_format="%.6g")
        (folder / "sensitivity.md").write_text("\n".join(
            [f"# Sensitivity ({self.method})", "", *self.markdown_lines()]) + "\n")
        self.plot(folder / "sensitivity.png")

    def markdown_lines(self) -> list[str]:
        t = self.table
        out = []
        if self.method == "sobol":
            out += ["Sobol' indices (Saltelli/Jansen estimators, SALib): S1 first order, ST "
                    "total; +- is the bootstrap confidence half-width.", ""]
        else:
            out += ["Morris screening (SALib): mu* = mean |elementary effect|, as a change over the factor's range "
                    "(importance), sigma = its spread (interactions or non-linearity).", ""]
        for metric, g in t.groupby("metric", sort=False):
            out += [f"### {metric}", ""]
            if self.method == "sobol":
                g = g.sort_values("ST", ascending=False)
                out += ["| factor | S1 | ST |", "|---|---|---|"]
                out += [f"| {r.factor} | {r.S1:.3f} +- {r.S1_conf:.3f} | {r.ST:.3f} +- "
                        f"{r.ST_conf:.3f} |" for r in g.itertuples()]
            else:
                g = g.sort_values("mu_star", ascending=False)
                out += ["| factor | mu* | mu | sigma |", "|---|---|---|---|"]
                out += [f"| {r.factor} | {r.mu_star:.4g} +- {r.mu_star_conf:.3g} | {r.mu:.4g} "
                        f"| {r.sigma:.4g} |" for r in g.itertuples()]
            out.append("")
        out += [f"- {n}" for n in self.notes]
        return out

    def plot(self, path: Path) -> None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        metrics = list(dict.fromkeys(self.table["metric"]))[:MAX_PLOTS]
        n = max(1, len(metrics))
        cols = min(3, n)
        rows = math.ceil(n / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
        for ax, metric in zip(axes.ravel(), metrics, strict=False):
            g = self.table[self.table["metric"] == metric]
            if self.method == "sobol":
                y = np.arange(len(g))
                ax.barh(y - 0.2, g["S1"], 0.4, xerr=g["S1_conf"], label="S1", color="#4c72b0")
                ax.barh(y + 0.2, g["ST"], 0.4, xerr=g["ST_conf"], label="ST", color="#dd8452")
                ax.set_yticks(y, g["factor"])
                ax.invert_yaxis()
                ax.set_xlabel("Sobol' index")
                ax.axvline(0, color="k", lw=0.5)
                ax.legend(fontsize=7)
            else:
                ax.scatter(g["mu_star"], g["sigma"], color="#4c72b0")
                for r in g.itertuples():
                    ax.annotate(r.factor, (r.mu_star, r.sigma), fontsize=7,
                                xytext=(3, 3), textcoords="offset points")
                ax.set_xlabel("mu* (change over the factor's range)")
                ax.set_ylabel("sigma")
                ax.set_xlim(0, 1.4 * max(g["mu_star"].max(), 1e-12))  # room for labels
                ax.set_ylim(0, 1.15 * max(g["sigma"].max(), 1e-12))
            ax.set_title(metric, fontsize=9)
        for ax in axes.ravel()[n:]:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)


def analyse(manifest: dict, metrics_runs: pd.DataFrame, names: list[str], log) -> Sensitivity | None:
    d = manifest["design"]
    method = d["type"]
    params = d["params"]
    factors = [f["name"] for f in manifest["factors"]]
    unit = np.asarray(d["unit"], float)
    problem = {"num_vars": len(factors), "names": factors, "bounds": [[0.0, 1.0]] * len(factors)}
    conf = manifest["summary"]["confidence"]
    n_points = len(d["points"])
    rows, notes = [], []
    for name in names:
        y = metrics_runs.groupby("point")[name].mean().reindex(range(n_points)).to_numpy(float)
        bad = int(np.isnan(y).sum())
        if bad:
            notes.append(f"`{name}`: not analysed, {bad} of {n_points} design points have no "
                         f"finished run or no value")
            continue
        if np.ptp(y) == 0:
            notes.append(f"`{name}`: not analysed, the same value at every design point")
            continue
        if method == "sobol":
            from SALib.analyze import sobol
            res = sobol.analyze(problem, y, calc_second_order=params["second_order"],
                                conf_level=conf, seed=params["seed"])
            for j, f in enumerate(factors):
                rows.append({"metric": name, "factor": f, "S1": res["S1"][j],
                             "S1_conf": res["S1_conf"][j], "ST": res["ST"][j],
                             "ST_conf": res["ST_conf"][j]})
        else:
            from SALib.analyze import morris
            res = morris.analyze(problem, unit, y, num_levels=params["levels"], conf_level=conf,
                                 seed=params["seed"])
            for j, f in enumerate(factors):
                rows.append({"metric": name, "factor": f, "mu": res["mu"][j],
                             "mu_star": res["mu_star"][j], "sigma": res["sigma"][j],
                             "mu_star_conf": res["mu_star_conf"][j]})
    if not rows:
        for n in notes:
            log(n)
        return None
    table = pd.DataFrame(rows)
    key = "ST" if method == "sobol" else "mu_star"
    table["rank"] = table.groupby("metric", sort=False)[key].rank(ascending=False,
                                                                   method="min").astype(int)
    return Sensitivity(method, table, notes)
