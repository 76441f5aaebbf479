"""Write results/calibration/report.md and its figures from the calibration's outputs.

Inputs (each made by a documented command; see the report's "How to reproduce"):
  results/calibration/abc/            cpabm calibrate experiments/calibration/england.toml
  results/calibration/validation_*.json
                                      cpabm validate ... --out results/calibration/validation_<tag>.json
  results/calibration/posterior_predictive.json
                                      cpabm validate ... --posterior results/calibration/abc --out ...
  results/calibration/calibrated_values.md
                                      experiments/tools/apply_calibration.py results/calibration/abc
  results/benchmarks/calibration.json python -m benchmarks.calibration (the cost per simulation)
The explanations are written by people, in experiments/tools/calibration_explanations.toml;
every model figure they quote is a placeholder filled from these files (:func:`fill`), so the
text cannot drift from the results:

  {{1to1:TARGET:FIELD}}   (also s10, s05) a target's record in validation_<tag>.json: median,
                          p10, p90, target, lo, hi, replicates, pass
  {{pp:TARGET:FIELD}}     its record in posterior_predictive.json: post_median, post_p05,
                          post_p95, p05, p95, ...
  {{post:PARAMETER:FIELD}} the final generation's summary (abm.batch.abc.summarise): median,
                          q05, q10, q90, q95, width_ratio, identifiability
  {{run:FIELD}}           the run: generation, particles, parameters (how many were
                          calibrated), ess, simulations, cpu_hours, wall_hours, stop_reason,
                          and after a top-up (docs/calibration_method.md) particles_before
                          and ess_before (the final generation as the run left it)

with an optional format after a bar, ``{{1to1:referrals_fy2008:median|,.0f}}`` (default: 4
significant figures). An unknown placeholder stops the report, naming it.
Run:  .venv/bin/python experiments/tools/calibration_report.py
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from abm.core import tomlio  # noqa: E402
from abm.core.io import atomic_write_text  # noqa: E402

OUT = ROOT / "results" / "calibration"
ABC = OUT / "abc"
FIG = OUT / "figures"
VALIDATIONS = [("1:1", "validation_1to1.json"), ("10%", "validation_s10.json"),
               ("5%", "validation_s05.json")]
TEXT = ROOT / "experiments" / "tools" / "calibration_explanations.toml"
PREDICTIVE = "posterior_predictive.json"
#: the quarterly care-proceedings series of the court figure (and court_quarterly.csv)
QUARTERLY = ["court_applications", "court_concluded", "care_mean_duration_weeks",
             "care_arrivals_per_closure", "referrals"]


PLACEHOLDER = re.compile(r"\{\{\s*([^{}|]+?)\s*(?:\|\s*([^{}]*?)\s*)?\}\}")


def fill_sources() -> dict:
    """What the placeholders read (each a dict; missing files give empty ones)."""
    src = {}
    for tag, name in (("1to1", "validation_1to1.json"), ("s10", "validation_s10.json"),
                      ("s05", "validation_s05.json"), ("pp", PREDICTIVE)):
        v = _load(name)
        src[tag] = {r["id"]: r for r in v["targets"]} if v else {}
    src["post"], src["run"] = {}, {}
    try:
        from abm.batch.abc import load_posterior, summarise
        post = load_posterior(ABC)
    except Exception:  # noqa: BLE001 - a placeholder that needs it then says so
        return src
    src["post"] = {r["parameter"]: r for r in summarise(post)}
    cost = json.loads((ABC / "cost.json").read_text()) if (ABC / "cost.json").exists() else {}
    top = post.result.get("top_up") or {}
    src["run"] = {"generation": post.generation, "particles": len(post.weights),
                  "parameters": len(post.priors), "ess": post.ess,
                  **{k: top[k] for k in ("particles_before", "ess_before") if k in top},
                  "stop_reason": post.result.get("stop_reason", "n/a"),
                  "simulations": cost.get("simulations", math.nan),
                  "cpu_hours": cost.get("cpu_seconds", math.nan) / 3600,
                  "wall_hours": cost.get("wall_seconds", math.nan) / 3600}
    return src


def fill(text: str, sources: dict, where: str = "") -> str:
    """``text`` with every ``{{...}}`` placeholder replaced by its figure (module docstring).
    Raises KeyError naming a placeholder that names no figure."""
    def one(m: re.Match) -> str:
        key, spec = m.group(1), m.group(2)
        parts = [p.strip() for p in key.split(":")]
        try:
            if parts[0] == "run" and len(parts) == 2:
                value = sources["run"][parts[1]]
            elif len(parts) >= 3:  # a target id may hold colons: series:SET:POINT
                value = sources[parts[0]][":".join(parts[1:-1])][parts[-1]]
            else:
                raise KeyError(key)
        except KeyError:
            raise KeyError(f"{where}: placeholder {m.group(0)!r} names no figure in the "
                           f"results") from None
        if isinstance(value, bool):
            return "passes" if value else "fails"
        if isinstance(value, str):
            return value
        return format(value, spec or ".4g")
    return PLACEHOLDER.sub(one, text)


def _load(name):
    p = OUT / name
    return json.loads(p.read_text()) if p.exists() else None


def _fmt(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3f}"


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _md_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in df.itertuples(index=False):  # each column keeps its type: whole numbers stay so
        rows.append("| " + " | ".join(_fmt(v) if isinstance(v, float) else
                                      f"{v:,}" if isinstance(v, (int, np.integer)) else str(v)
                                      for v in r) + " |")
    return "\n".join(rows)


def pass_counts(val: dict) -> tuple[int, int, int, int]:
    """Checked targets (fitted, or measured on a variant) of a validation record passing, and
    of them those of the seed file (``abm/data/targets/england_2005_2011.toml``, the review's
    own figures): (passed, checked, seed passed, seed checked)."""
    from abm.studies.targets import seed_ids

    seed = seed_ids()
    checked = [r for r in val["targets"] if r["fitted"] or r["scenario"] != "main"]
    own = [r for r in checked if r["id"] in seed]
    return (sum(r["pass"] for r in checked), len(checked), sum(r["pass"] for r in own),
            len(own))


def target_table(val: dict, explanations: dict) -> str:
    lines = ["| target | published | tolerance | model median | 10-90% band | result | note |",
             "|---|---|---|---|---|---|---|"]
    for r in val["targets"]:
        checked = r["fitted"] or r["scenario"] != "main"
        res = "pass" if r["pass"] else ("**FAIL**" if checked else "outside (not fitted)")
        note = explanations.get(r["id"], "") if not r["pass"] else ""
        lines.append(f"| `{r['id']}` | {_fmt(r['target'])} | [{_fmt(r['lo'])}, {_fmt(r['hi'])}] "
                     f"| {_fmt(r['median'])} | [{_fmt(r['p10'])}, {_fmt(r['p90'])}] | {res} "
                     f"| {note} |")
    return "\n".join(lines)


def scale_table(vals: list[tuple[str, dict]]) -> str:
    keep = ["referrals_fy2008", "referrals_fy2009", "core_assessment_share", "cp_plan_share",
            "children_in_need_fy2009", "care_duration_q2_fy2008", "care_duration_q2_fy2010",
            "care_applications_rise_fy2009", "series:workforce_context:turnover.y2005",
            "series:workforce_context:vacancy_rate.y2009"]
    head = "| target | " + " | ".join(f"median at {t} ({v['meta']['replicates']} runs)"
                                       for t, v in vals) + " |"
    lines = [head, "|---|" + "---|" * len(vals)]
    for k in keep:
        cells = []
        for _, v in vals:
            row = next((r for r in v["targets"] if r["id"] == k), None)
            cells.append(_fmt(row["median"]) if row else "n/a")
        lines.append(f"| `{k}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure_targets(val: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in val["targets"] if math.isfinite(r["median"])]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(rows) + 1.2))
    for k, r in enumerate(rows):
        h = (r["hi"] - r["lo"]) / 2 or 1.0
        z10, z50, z90 = ((r[q] - r["target"]) / h for q in ("p10", "median", "p90"))
        ax.plot([z10, z90], [k, k], color="tab:blue", lw=3, alpha=0.5)
        ax.plot(z50, k, "o", color="tab:blue" if r["pass"] else "tab:red")
    ax.axvspan(-1, 1, color="tab:green", alpha=0.12, label="tolerance")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(range(len(rows)), [r["id"] for r in rows], fontsize=7)
    ax.set_xlim(-6, 6)
    ax.set_xlabel("(model - published) / half-width of tolerance  (median, 10-90% band)")
    ax.set_title(f"Calibrated model vs published figures ({val['meta']['scenario']}, "
                 f"scale {val['meta']['scale']:g})")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def published_durations() -> list:
    """The published quarterly mean durations of concluded care cases, as targets (value,
    tolerance, quarter): every main target on ``care_mean_duration_weeks``."""
    from abm.studies.targets import load_targets

    return [t for t in load_targets() if t.indicator == "care_mean_duration_weeks"
            and t.table == "quarter" and len(t.periods) == 1 and t.rise_from is None]


def figure_court(path: Path, scale: float = 0.1, seeds=(1, 2, 3)) -> pd.DataFrame:
    """Quarterly care applications, closures and mean duration, against the published
    durations (:func:`published_durations`; Q2 of a financial year = Jul-Sep)."""
    import dataclasses

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from abm.core.model import ChildProtectionModel
    from abm.core.scenario import load_scenario
    from abm.outputs.tables import summary

    sc = load_scenario(ROOT / "experiments" / "scenarios" / "england_calibrated.toml")
    sc = dataclasses.replace(sc, scale=scale)
    qs = []
    for s in seeds:
        m = ChildProtectionModel(sc, rng=s, agent_views=False).run()
        q = summary(m, "quarter", only=QUARTERLY).loc["2006-Q1":"2011-Q4"]
        q["seed"] = s
        qs.append(q)
    q = pd.concat(qs)
    med = q.groupby(level=0).median()
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    x = np.arange(len(med))
    a1.plot(x, med["court_applications"] / scale, label="applications")
    a1.plot(x, med["court_concluded"] / scale, label="concluded")
    a1.set_ylabel("care cases per quarter (1:1)")
    a1.legend()
    a2.plot(x, med["care_mean_duration_weeks"], label="model: mean duration of concluded cases")
    first = True
    for t in published_durations():  # each with its own tolerance
        k = t.periods[0]
        if k in med.index:
            i = list(med.index).index(k)
            a2.errorbar(i, t.value, yerr=[[t.value - t.lo], [t.hi - t.value]], fmt="s",
                        color="tab:red", label="published (MoJ), with tolerance" if first else None)
            first = False
    a2.set_ylabel("weeks")
    a2.legend(fontsize=8, loc="lower left")
    a2.set_xticks(x[::2], list(med.index)[::2], rotation=60, fontsize=7)
    fig.suptitle(f"Care proceedings, calibrated England ({int(scale * 100)}% sample, median "
                 f"of {len(seeds)} runs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return med


def copied_tables(name: str, producer: str, after: str | None = None,
                  titled: bool = False) -> list[str]:
    """The tables of ``results/calibration/NAME`` (written by ``producer``), copied so that
    every number comes from a run: those after the heading ``after`` if given, each under
    its own heading if ``titled``; a note naming the producer if the file is missing."""
    src = OUT / name
    if not src.exists():
        return [f"(`{name}` not found: run `{producer}`.)", ""]
    text = src.read_text()
    if after is not None:
        text = text.split(after, 1)[-1] if after in text else ""
    parts: list[str] = []
    for block in ("\n" + text).split("\n## ") if titled else [text]:
        title, _, body = block.partition("\n") if titled else ("", "", block)
        table = [ln for ln in body.splitlines() if ln.startswith("|")]
        if table:
            parts += ([f"### {title.strip()}", ""] if titled else []) + table + [""]
    return parts


def point_section(text: dict) -> list[str]:
    """Which point of the posterior was written, and why: the scores of the candidates
    (``point_summaries.md``: medians, mode, best-fitting particle, the table before), the
    choice, and the shortlist the best-fitting particle came from."""
    src = OUT / "point_summaries.md"
    parts = ["### Which point was written", ""]
    if "point_summaries" in text:
        parts += [text["point_summaries"].strip(), ""]
    if not src.exists():
        return parts + copied_tables("point_summaries.md", "experiments/tools/point_summaries.py")
    head, _, rest = src.read_text().partition("\n## ")
    parts += [ln for ln in head.splitlines() if ln.startswith("|")] + [""]
    parts += [ln for ln in head.splitlines() if ln.startswith("`written by`")] + [""]
    if rest:
        title, _, body = rest.partition("\n")
        parts += [f"#### {title.strip()}", ""]
        parts += [ln for ln in body.splitlines() if ln.strip() and not ln.startswith("|")][:1]
        parts += [""] + [ln for ln in body.splitlines() if ln.startswith("|")] + [""]
    return parts


def court_indicators_section(text: dict) -> list[str]:
    """The care indicators side by side: the explanation, the June-2010 table of
    ``court_indicators.md``, and the search over every candidate the calibration simulated
    for a June ratio near five with the three durations kept (``court_tradeoff.md``)."""
    return ["## Care proceedings: the indicators side by side", "",
            text["court_indicators"].strip(), "",
            *copied_tables("court_indicators.md",
                           "experiments/tools/court_indicators_report.py",
                           after="## Arrivals per closure"),
            *([text["court_tradeoff"].strip(), ""] if "court_tradeoff" in text else []),
            *(copied_tables("court_tradeoff.md", "experiments/tools/court_tradeoff.py")
              if "court_tradeoff" in text else [])]


def plans_section(text: dict) -> list[str]:
    """Child protection plans against the published figures: the explanation and the two
    tables of ``plans.md`` (written by ``experiments/tools/plans_report.py``)."""
    return ["## Child protection plans: starts, stock, length and repeats", "",
            text["plans"].strip(), "",
            *copied_tables("plans.md", "experiments/tools/plans_report.py", titled=True)]


def tensions_section(text: dict) -> list[str]:
    """The targets the posterior rarely meets and what meeting each costs
    (``tensions.md``, written by ``experiments/tools/target_tensions.py``)."""
    if "tensions" not in text:
        return []
    return ["### Targets in tension", "", text["tensions"].strip(), "",
            *copied_tables("tensions.md", "experiments/tools/target_tensions.py")]


def posterior_predictive_section(text: dict) -> list[str]:
    """Per target, the band over posterior draws beside the seed-only band (from
    ``cpabm validate --posterior ... --out posterior_predictive.json``)."""
    from abm.studies.validate import posterior_markdown

    parts = ["## Posterior-predictive checks", "", text["posterior_predictive"].strip(), ""]
    pp = _load(PREDICTIVE)
    if pp is None or "posterior" not in pp["meta"]:
        return parts + [f"(`{PREDICTIVE}` not found: run the `cpabm validate --posterior` "
                        f"command under \"How to reproduce\".)", ""]
    n_cov = sum(r.get("post_covers", False) for r in pp["targets"] if r.get("fitted"))
    n_fit = sum(1 for r in pp["targets"] if r.get("fitted") and "post_covers" in r)
    return parts + [f"Scenario `{pp['meta']['scenario']}` at scale {pp['meta']['scale']:g}. "
                    f"The posterior band covers the published value for {n_cov} of {n_fit} "
                    f"fitted targets.", "", posterior_markdown(pp["targets"], pp["meta"]), ""]


def identifiability_section(text: dict) -> list[str]:
    """Posterior widths against prior widths, the strongest pairwise correlations, the
    marginals figure, and which published figures would identify the rest."""
    from abm.batch.abc import correlations, load_posterior, summarise
    from abm.batch.abc.report import IDENTIFIED, WEAK

    parts = ["### Identifiability", "", text["identifiability"].strip(), ""]
    try:
        post = load_posterior(ABC)
    except Exception as e:  # noqa: BLE001 - reported in the report
        return parts + [f"(no posterior in `{_rel(ABC)}`: {e})", ""]
    rows = summarise(post)
    ratios = [r["width_ratio"] for r in rows]
    classes = {c: sum(r["identifiability"] == c for r in rows) for c in
               ("identified", "weakly identified", "not identified (posterior ~ prior)")}
    parts += [f"Run `{_rel(ABC)}` (generation {post.generation}, {len(post.weights)} "
              f"particles, ESS {post.ess:.0f}). Width ratio: the posterior's 10-90% interval "
              f"over the prior's (log scale for loguniform priors); below {IDENTIFIED} "
              f"identified, {IDENTIFIED}-{WEAK} weakly, from {WEAK} not identified. Of the "
              f"{len(rows)} parameters, {classes['identified']} are identified, "
              f"{classes['weakly identified']} weakly and "
              f"{classes['not identified (posterior ~ prior)']} not identified alone; the "
              f"width ratios run from {min(ratios):.2f} to {max(ratios):.2f}.", "",
              "| parameter | prior | posterior median | 10-90% | width ratio | identifiability |",
              "|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["width_ratio"]):
        parts.append(f"| `{r['parameter']}` | {r['prior']} [{r['low']:g}, {r['high']:g}] | "
                     f"{r['median']:.4g} | [{r['q10']:.4g}, {r['q90']:.4g}] | "
                     f"{r['width_ratio']:.2f} | {r['identifiability']} |")
    corr = correlations(post)
    pairs = sorted(((abs(corr[i, j]), corr[i, j], post.names[i], post.names[j])
                    for i in range(len(post.names)) for j in range(i + 1, len(post.names))
                    if np.isfinite(corr[i, j])), reverse=True)
    parts += ["", "Strongest pairwise weighted correlations of the final particles (a ridge: "
              "the targets fix a combination, not each parameter):", "",
              "| parameters | correlation |", "|---|---|"]
    parts += [f"| `{a}` - `{b}` | {c:+.2f} |" for _, c, a, b in pairs[:8]]
    parts += ["", *directions_table(post), "![marginals](abc/marginals.png)", "",
              "### What would identify the rest", "", text["identify_rest"].strip(), "",
              *identify_rest_table()]
    return parts


def directions_table(post) -> list[str]:
    """The combinations of parameters the targets constrain (``constrained_directions``):
    each axis's sd over the prior's, the same rank's ratio in samples of the prior, and the
    parameters loading on it."""
    from abm.batch.abc import constrained_directions
    from abm.batch.abc.posterior import CONSTRAINED, NULL_QUANTILE

    axes = constrained_directions(post)["axes"]
    head = ("Combinations the targets constrain: the principal axes of the final particles, "
            "each parameter scaled by its prior's sd (`abm.batch.abc.constrained_directions`). "
            "An axis is listed when its sd, over the prior's, is below what the same rank "
            "reaches in samples of the prior as many and weighted as the particles (the "
            f"null's {NULL_QUANTILE:.0%} quantile), and below {CONSTRAINED}.")
    if not axes:
        return [head + " None is.", ""]
    rows = [head, "", f"| axis | sd / prior sd | null ({NULL_QUANTILE:.0%}) | loadings |",
            "|---|---|---|---|"]
    for k, a in enumerate(axes, 1):
        load = ", ".join(f"`{n}` {v:+.2f}" for n, v in a["loadings"])
        rows.append(f"| {k} | {a['sd_ratio']:.2f} | {a['null_quantile']:.2f} | {load} |")
    return rows + [""]


def identify_rest_table() -> list[str]:
    """The table of ``identify_rest.md`` (experiments/tools/identify_rest.py), if written."""
    f = OUT / "identify_rest.md"
    if not f.exists():
        return ["(`identify_rest.md` is not written yet: "
                "`python experiments/tools/identify_rest.py`.)", ""]
    body = f.read_text().split("# What would identify the rest", 1)[-1].strip()
    return [body.replace("Written by", "From `identify_rest.md`, written by", 1), ""]


def cost_section(text: dict) -> list[str]:
    """Simulations, wall and CPU time of the run in ``abc/`` (its cost.json) and the
    measured cost per simulation (the benchmark record)."""
    parts = ["## The cost of calibration", "", text["cost"].strip(), ""]
    cost = json.loads((ABC / "cost.json").read_text()) if (ABC / "cost.json").exists() else None
    if cost is not None:
        parts += [f"This run: {cost['simulations']:,} simulations, {cost['cpu_seconds']:,.0f} "
                  f"CPU seconds ({cost['cpu_seconds_per_simulation']} s each), wall "
                  f"{cost['wall_seconds']:,.0f} s over {len(cost['sessions'])} session(s) "
                  f"(`abc/cost.json`).", ""]
    else:
        parts += ["(The run in `abc/` predates the cost record `cost.json`.)", ""]
    bench = ROOT / "results" / "benchmarks" / "calibration.md"
    if bench.exists():
        body = bench.read_text().split("\n", 1)[1].strip()
        parts += [body.replace("\n# ", "\n#### ").replace("\n## ", "\n#### "), ""]
    return parts


def movement_section() -> list[str]:
    """How far the marginals moved in the last generation (:func:`abm.batch.abc.movement`),
    against sampling noise: whether the run stopped where another generation would change
    little."""
    from abm.batch.abc import load_posterior, movement
    from abm.core.errors import ConfigError
    try:
        rows = movement(load_posterior(ABC))
    except ConfigError:  # no finished run here (movement itself is empty without generations/)
        return []
    if not rows:
        return []
    t0, t1 = rows[0]["generations"]
    shift = np.array([r["shift"] for r in rows])
    noise = np.array([r["noise"] for r in rows])
    narrow = np.array([r["narrowing"] for r in rows])
    top = sorted(rows, key=lambda r: -r["shift"] / r["noise"])[:5]
    table = pd.DataFrame({"parameter": [r["parameter"] for r in top],
                          "shift (of prior width)": [r["shift"] for r in top],
                          "noise alone": [r["noise"] for r in top],
                          "shift / noise": [r["shift"] / r["noise"] for r in top],
                          "10-90% width, new / old": [r["narrowing"] for r in top]})
    return [f"**How far the posterior moved from generation {t0} to {t1}.** Each "
            f"parameter's median moved by a median of {np.median(shift):.3f} of its prior's "
            f"width (largest {shift.max():.3f}), against {np.median(noise):.3f} that "
            f"sampling alone gives (the standard error of a weighted median with the two "
            f"generations' ESS); {int(np.sum(shift > 2 * noise))} of {len(rows)} moved by more "
            f"than twice that. The 10-90% intervals kept a median of "
            f"{np.median(narrow):.0%} of their width. The parameters that moved most, "
            f"relative to the noise:", "", _md_table(table), ""]


def main() -> int:
    FIG.mkdir(parents=True, exist_ok=True)
    if (ABC / "cost.json").exists():  # killed sessions' walls, from their files' times
        from abm.batch.abc.report import refresh_cost
        refresh_cost(ABC)
    sources = fill_sources()
    text = {k: (fill(v, sources, k) if isinstance(v, str)
                else {kk: fill(vv, sources, f"misses.{kk}") for kk, vv in v.items()})
            for k, v in tomlio.read(TEXT).items()}
    explanations = text.get("misses", {})
    vals = [(tag, v) for tag, name in VALIDATIONS if (v := _load(name)) is not None]
    if not vals:
        print("no validation_*.json in results/calibration: run cpabm validate --out first")
        return 1
    main_tag, main_val = vals[0]
    figure_targets(main_val, FIG / "targets.png")
    med = figure_court(FIG / "court_quarterly.png")
    atomic_write_text(OUT / "court_quarterly.csv", med.to_csv())
    hist = pd.read_csv(ABC / "history.csv") if (ABC / "history.csv").exists() else None
    n_pass, n_checked, seed_pass, seed_checked = pass_counts(main_val)
    parts = [
        "# Calibration report: England 2005-2011",
        "",
        text["intro"].strip(),
        "",
        f"## Targets: the calibrated England scenario at {main_tag}",
        "",
        f"{n_pass} of {n_checked} checked targets pass; the median of "
        f"{main_val['meta']['replicates']} replicates (root seed {main_val['meta']['seed']}) "
        f"is compared with the tolerance; of the review's own figures (the checked targets of "
        f"the seed file `abm/data/targets/england_2005_2011.toml`), {seed_pass} of "
        f"{seed_checked} pass. Counts are national (a sample is rescaled to 1:1).",
        "",
        target_table(main_val, explanations),
        "",
        "![targets](figures/targets.png)",
        "",
        "## The misses, and why",
        "",
        text["misses_discussion"].strip(),
        "",
        *tensions_section(text),
        "## Care proceedings by quarter",
        "",
        "![court](figures/court_quarterly.png)",
        "",
        text["court_discussion"].strip(),
        "",
        *court_indicators_section(text),
        *plans_section(text),
        "## Does a sample preserve the rates?",
        "",
        text["scale_intro"].strip(),
        "",
        scale_table(vals),
        "",
        *posterior_predictive_section(text),
        "## Method, and what the data pin down",
        "",
        text["method"].strip(),
        "",
    ]
    values = OUT / "calibrated_values.md"
    if values.exists():
        parts += ["### Calibrated values (from the posterior, by script)", "",
                  values.read_text().split("\n", 2)[2].strip(), "", *point_section(text)]
    if hist is not None:
        cols = ["generation", "epsilon", "acceptance", "candidates", "simulations", "ess",
                "median_distance", "cpu_seconds"]
        parts += ["### ABC-SMC generations", "", _md_table(hist[[c for c in cols if c in hist]]), "",
                  "The run's own summary, with the correlation of every pair of parameters "
                  "and the targets at its closest particle: `abc/posterior.md`.", "",
                  *movement_section()]
    parts += [*identifiability_section(text), *cost_section(text),
              "## How to reproduce", "", text["reproduce"].strip(), ""]
    atomic_write_text(OUT / "report.md", "\n".join(parts))
    print(f"wrote {OUT / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
