"""PNG figures of a run (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from abm.core import state as S  # noqa: E402
from abm.outputs.tables import summary, weekly_frame  # noqa: E402


def _shock_lines(ax, model):
    for w, _m in model.shocks:
        if 0 <= w < model.calendar.n_weeks:
            ax.axvline(model.calendar.week_end[w], color="tab:red", lw=0.8, ls="--")


def _complete(model, table, period: str):
    """The rows of a :func:`summary` table whose periods the run covers whole (a part-month
    at either end is not a dip), and the last day of each (for plotting)."""
    bounds = {label: (first, last) for label, first, last in model.calendar.periods(period)}
    days = [(bounds[x][1] - bounds[x][0]).days + 1 for x in table.index]
    keep = np.isclose(table["weeks"].to_numpy() * 7, days)
    table = table[keep]
    return table, [np.datetime64(bounds[x][1]) for x in table.index]


def caseflow_figure(model, path: Path) -> None:
    """Calendar-true months (flows over each month's days) and weekly stocks."""
    w = weekly_frame(model)
    m, dates = _complete(model, summary(model, "month"), "month")
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    ax = axes[0, 0]
    ax.plot(dates, m["referrals_children"], label="referrals (children)")
    ax.plot(dates, m["ca_starts_children"], label="core assessments / s47 (children)")
    ax.plot(dates, m["cpp_starts_children"], label="CP plans started (children)")
    ax.set_title("Referrals and what follows, per month")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    for s in (S.IA, S.CA, S.CIN, S.CPP, S.COURT, S.CARE):
        ax.plot(w["date"], w[f"stock_{S.STATE_NAMES[s]}_children"], label=S.STATE_NAMES[s])
    ax.set_title("Open cases by stage (children)")
    ax.legend(fontsize=8)
    ax = axes[1, 0]
    ax.plot(dates, m["court_applications"], label="applications")
    ax.plot(dates, m["court_concluded"], label="concluded")
    ax.set_title("Care proceedings per month")
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    q, qd = _complete(model, summary(model, "quarter"), "quarter")
    ax.plot(qd, q["care_mean_duration_weeks"], marker="o", ms=3)
    ax.set_title("Mean duration of concluded care cases (weeks)")
    for a in axes.ravel():
        _shock_lines(a, model)
        a.grid(alpha=0.3)
    fig.suptitle(f"{model.spec.name} (seed {model.seed}): caseflow; dashed = media shock")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def workforce_figure(model, path: Path) -> None:
    w = weekly_frame(model)
    filled = w["work_permanent"] + w["work_agency"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    axes[0, 0].plot(w["date"], w["work_vacant"] / w["work_posts"], label="vacancy rate")
    axes[0, 0].plot(w["date"], w["work_agency"] / filled, label="agency share")
    axes[0, 0].plot(w["date"], w["turnover_annual_rate"], label="turnover (annual rate)")
    axes[0, 0].set_title("Workforce rates")
    axes[0, 0].legend(fontsize=8)
    axes[0, 1].plot(w["date"], w["work_caseload"] / filled)
    axes[0, 1].set_title("Mean caseload (cases per worker)")
    axes[1, 0].plot(w["date"], w["work_direct_hours"] / filled, label="direct work")
    axes[1, 0].plot(w["date"], w["work_record_hours"] / filled, label="recording")
    axes[1, 0].set_title("Hours per worker per week")
    axes[1, 0].legend(fontsize=8)
    axes[1, 1].plot(w["date"], w["work_experience_sum"] / filled)
    axes[1, 1].set_title("Mean experience (years)")
    for a in axes.ravel():
        _shock_lines(a, model)
        a.grid(alpha=0.3)
    fig.suptitle(f"{model.spec.name} (seed {model.seed}): social workers")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def decisions_figure(model, path: Path) -> None:
    """Recent decisions: true risk against assessed risk, with thresholds (Taylor-Russell)."""
    res = model.res
    fig, axes = plt.subplots(2, 3, figsize=(12, 7))
    cut = model.p.significant_harm_cut
    for d, ax in enumerate(axes.ravel()):
        n = int(min(res.count[d], res.true_risk.shape[1]))
        x, y, thr = res.true_risk[d, :n], res.score[d, :n], res.threshold[d, :n]
        if n:
            ax.scatter(x, y, s=2, alpha=0.3)
            th = float(np.median(thr))
            ax.axhline(th, color="k", lw=1)
            ax.axvline(cut, color="tab:red", lw=1, ls="--")
            fp = int(((y > thr) & (x <= cut)).sum())
            fn = int(((y <= thr) & (x > cut)).sum())
            ax.set_title(f"{S.DECISION_NAMES[d]}: FP {fp}, FN {fn} (last {n})", fontsize=9)
        ax.set_xlabel("true risk")
        ax.set_ylabel("assessed risk")
    fig.suptitle("Decisions under uncertainty: horizontal = threshold, dashed = significant harm")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def all_figures(model, outdir: Path) -> list[Path]:
    outdir = Path(outdir)
    paths = [outdir / "caseflow.png", outdir / "workforce.png", outdir / "decisions.png"]
    caseflow_figure(model, paths[0])
    workforce_figure(model, paths[1])
    decisions_figure(model, paths[2])
    return paths
