"""``cpabm knockout``: the loop-knockout experiment.

    cpabm knockout [--scenario S] [--replications N] [--scale X] [--seed N] [--workers N]
                   [--posterior FOLDER] [--scheduler ADDRESS] [--resume | --replace] [--out DIR]
                   [--spec TEMPLATE] [--report-only] [--quiet]

Runs the default research scenario with each learning loop (B1, B2, R), the ripple effect
and requisite variety switched off in turn, with common random numbers, and reports each
mechanism's contribution to key outcomes (full model minus knockout, paired by seed) with
confidence intervals and replicate bands. The variants, outputs and metrics come from a
sweep spec used as a template (``experiments/sweeps/loop_knockout.toml``); the command
builds the sweep spec in memory from it (:func:`abm.batch.spec.build_spec`), on a scaled
copy of the scenario, runs it through the generic batch machinery (:mod:`abm.batch`) and
writes::

    OUT/inputs/      scenario.toml (base = S, scale = X; the scenario the runs read) and
                     loop_knockout.toml (a record of the spec that ran, for `cpabm sweep`)
    OUT/sweep/       the sweep's results folder (manifest, per-run parquet, summary/)
    OUT/report.md    the knockout tables
    OUT/knockout_table.csv, OUT/knockout_matrix.csv, OUT/knockout.png, OUT/knockout.json

Registered in ``abm.cli.EXTENSIONS``; imports nothing heavy at module level. See
docs/knockout.md.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

from abm.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = ROOT / "experiments" / "sweeps" / "loop_knockout.toml"
DEFAULT_OUT = Path("results") / "knockout"
DEFAULT_SCALE = 0.1
SPEC_NAME = "loop_knockout.toml"
SCENARIO_NAME = "scenario.toml"
WINDOW_YEARS = 3  # metric window when the template's periods are not in the scenario
#: what a knockout writes into OUT (anything else there is not touched, and refused)
OURS = {"inputs", "sweep", "report.md", "knockout_table.csv", "knockout_matrix.csv",
        "knockout.png", "knockout.json"}

#: what each of the template's variants means (the report shows the overrides as well)
MEANINGS = {
    "full": "every mechanism on (the reference)",
    "no_b1": "B1 single-loop compliance off: a compliance shortfall no longer adds "
             "prescription (App2 ¶12-13)",
    "no_b2": "B2 double-loop learning off: acknowledged errors no longer reduce "
             "prescription (App2 ¶17-18)",
    "no_r": "R addiction to prescription off: compliance hides no errors, and hidden errors "
            "no longer escalate prescription (App2 ¶19-20)",
    "no_loops": "B1, B2 and R all off: prescription stays at the regime's level",
    "no_ripple": "ripple effect off: quits ignore stress and satisfaction (neutral hazard), "
                 "the cover gap strains nobody and professional status is frozen "
                 "(App2 ¶14-15)",
    "no_ripple_loop": "the ripple loop off (ripple_gain = 0): vacancies and agency cover no "
                      "longer strain the workers who stay, so quits do not breed quits",
    "no_ripple_quits": "ripple part 1 off: quits ignore stress and satisfaction",
    "no_ripple_status": "ripple part 2 off: professional status frozen, so the recruitment "
                        "lag does not lengthen",
    "no_quits": "the model's mech_turnover switch: permanent staff never quit (removes "
                "turnover itself, not only its feedback)",
    "no_requisite_variety": "requisite variety off: every response fully matches the "
                            "family's needs (App2 ¶16)",
}

#: units (the indicator registry's, abm.core.indicators) of counts and sums, which grow with
#: the sample: the report shows them for all of England (divided by the scale). Shares,
#: rates, means per case or per worker, durations and national indices do not.
EXTENSIVE_UNITS = {"contacts", "children", "families", "cases", "care cases", "events",
                   "GBP", "GBP/week", "FTE", "workers", "posts", "changes of worker",
                   "child-weeks", "case-weeks", "family-weeks", "report-weeks", "hearings",
                   "hearings/week", "hearing slots/week", "expert assessments",
                   "expert reports", "expert reports/week", "hours/week", "worker-years"}


# ------------------------------------------------------------------ the command line
def configure(p) -> None:
    p.description = ("The loop-knockout experiment: the default research scenario with each "
                     "learning loop, the ripple effect and requisite variety switched off in "
                     "turn (common random numbers); reports each one's contribution to key "
                     "outcomes with confidence intervals and replicate bands. See "
                     "docs/knockout.md.")
    p.add_argument("--scenario", default=None, metavar="FILE",
                   help="base scenario (default: the template's, "
                        "experiments/scenarios/england_default.toml)")
    p.add_argument("--replications", type=int, default=None, metavar="N",
                   help="paired replications per variant, >= 2 (default: the template's, 10)")
    p.add_argument("--scale", type=float, default=DEFAULT_SCALE, metavar="X",
                   help=f"fraction of each LA's children to simulate, in (0, 1] (default "
                        f"{DEFAULT_SCALE})")
    p.add_argument("--seed", type=int, default=None, metavar="N",
                   help="root seed (default: the template's)")
    p.add_argument("--posterior", default=None, metavar="FOLDER",
                   help="draw each replication's parameters from this finished calibration "
                        "(e.g. results/calibration/abc; the same draw in every variant), so "
                        "the contributions carry the parameters' uncertainty too")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default: the CPUs available; 0 or 1: serial)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address (default: $DASK_SCHEDULER_ADDRESS if set)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="finish or extend the knockout in --out (finished runs are kept)")
    again.add_argument("--replace", action="store_true",
                       help="discard the knockout runs in --out and run afresh (e.g. after "
                            "the model changed); checked inputs first, so a mistake loses "
                            "nothing")
    p.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR",
                   help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--spec", default=str(DEFAULT_TEMPLATE), metavar="TEMPLATE",
                   help="sweep spec with a variants design to use as the template (default "
                        "experiments/sweeps/loop_knockout.toml)")
    p.add_argument("--report-only", action="store_true",
                   help="rebuild the report from the runs in --out; run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar or messages")


def run(args) -> int:
    from abm.core.io import out_path
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    out = out_path(args.out)
    if args.report_only:
        from abm.core.io import refuse_foreign
        refuse_foreign(out, OURS, what="knockout")  # reads and writes only a folder of its own
        path = write_report(out, log=log)
        if not args.quiet:
            print(f"wrote {path}")
        return 0
    _check_args(args)
    t0 = time.perf_counter()
    doc, text = prepare_inputs(args, out, log)

    from abm.batch.runner import SweepRunError, run_sweep
    from abm.batch.summary import summarise

    spec = _build(doc, text, out / "inputs", Path(args.spec))
    try:
        res = run_sweep(spec, out / "sweep", workers=args.workers, scheduler=args.scheduler,
                        resume=args.resume, progress=not args.quiet, log=log)
    except SweepRunError as e:
        from abm.cli import run_failed
        return run_failed(e, args)
    summarise(out / "sweep", log=log)
    wall = time.perf_counter() - t0
    path = write_report(out, log=log, run_info={
        "command": " ".join(["cpabm knockout", *(shlex.quote(a) for a in _argv(args))]),
        "executed_runs": res.executed, "runs_on_disk_before": res.done_before,
        "executor": res.executor, "wall_seconds": round(wall, 1),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None})
    if not args.quiet:
        print(f"wrote {path} ({res.total} runs, {res.executed} run now, {wall:.0f} s)")
    return 0


def _argv(args) -> list[str]:
    """The arguments that decide the results, for the record (and the regeneration line)."""
    out = []
    for flag, value, default in (("--scenario", args.scenario, None),
                                 ("--replications", args.replications, None),
                                 ("--scale", args.scale, DEFAULT_SCALE),
                                 ("--seed", args.seed, None),
                                 ("--posterior", getattr(args, "posterior", None), None),
                                 ("--spec", args.spec, str(DEFAULT_TEMPLATE)),
                                 ("--out", args.out, str(DEFAULT_OUT))):
        if value is not None and value != default:
            out += [flag, str(value)]
    return out


def _check_args(args) -> None:
    if args.replications is not None and (isinstance(args.replications, bool)
                                          or args.replications < 2):
        raise ConfigError(f"--replications = {args.replications} is out of range: valid range "
                          f"is >= 2 (paired confidence intervals need two replications)")
    s = args.scale
    if not (isinstance(s, (int, float)) and math.isfinite(s) and 0 < s <= 1):
        raise ConfigError(f"--scale = {s} is out of range: valid range is (0, 1] (the "
                          f"fraction of each LA's children to simulate)")
    if args.seed is not None and not 0 <= args.seed < 2**63:
        raise ConfigError(f"--seed = {args.seed} is out of range: valid range is [0, 2**63)")
    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"--workers = {args.workers} is out of range: valid range is >= 0 "
                          f"(0 or 1: serial)")
    from abm.core.io import out_path, refuse_foreign
    refuse_foreign(out_path(args.out), OURS, what="knockout")


# ------------------------------------------------------------------ inputs
def _read_toml(path: Path, what: str) -> dict:
    from abm.core import tomlio
    return tomlio.read(path, f"{what} = {str(path)!r}")


def _build(doc: dict, text: str, base: Path, template_path: Path):
    """The sweep spec from its document, with relative paths from ``base`` (OUT/inputs, or
    the folder it is being built in); errors name the template."""
    from abm.batch.spec import build_spec

    inputs = base.parent / "inputs"
    try:
        return build_spec(doc, base, where=str(template_path), name=Path(SPEC_NAME).stem,
                          path=inputs / SPEC_NAME, text=text)
    except ConfigError as e:  # name OUT/inputs, not the folder it is checked in
        msg = str(e)
        for b in (str(base.resolve()), str(base)):
            msg = msg.replace(b, str(inputs))
        raise ConfigError(msg) from None


def prepare_inputs(args, out: Path, log) -> tuple[dict, str]:
    """Check every input and write OUT/inputs/: the scaled scenario (which the runs read)
    and a record of the sweep spec. Return the spec's document and that record's text.

    The spec is built in memory from the template; the record is for provenance and for
    ``cpabm sweep``, and is never read back. Everything is validated first (in a temporary
    folder next to OUT/inputs, so relative paths are the same); nothing in OUT changes
    when an input or the folder is refused."""
    from abm.batch.store import ResultStore
    from abm.core import tomlio
    from abm.core.io import atomic_dir, atomic_write_text

    template_path = Path(args.spec)
    template = _read_toml(template_path, "--spec")
    design = template.get("design", {})
    if not isinstance(design, dict) or design.get("type") != "variants":
        raise ConfigError(f"--spec = {str(template_path)!r}: the template must have a variants "
                          f"design (design.type = \"variants\"), like "
                          f"experiments/sweeps/loop_knockout.toml")
    model = template.get("model", {})
    if args.scenario is not None:
        scenario = Path(args.scenario)
    elif isinstance(model, dict) and isinstance(model.get("scenario"), str):
        scenario = template_path.parent / model["scenario"]
    else:
        raise ConfigError(f"--spec = {str(template_path)!r}: [model] names no scenario; give "
                          f"--scenario")
    if not scenario.is_file():
        raise ConfigError(f"--scenario = {str(scenario)!r}: no such scenario file")
    from abm.core.scenario import load_scenario
    base = load_scenario(scenario)  # validated here, with its own file in the messages

    inputs = out / "inputs"
    rel = os.path.relpath(scenario.resolve(), inputs.resolve())
    scenario_doc = {"scenario": {"base": rel, "name": base.name, "scale": float(args.scale)}}
    spec = {k: v for k, v in template.items()}
    spec["sweep"] = dict(spec.get("sweep", {}))
    if args.replications is not None:
        spec["sweep"]["replications"] = args.replications
    if args.seed is not None:
        spec["sweep"]["seed"] = args.seed
    spec["model"] = {**(model if isinstance(model, dict) else {}), "scenario": SCENARIO_NAME}
    if getattr(args, "posterior", None) is not None:
        spec["posterior"] = {"folder": os.path.relpath(Path(args.posterior).resolve(),
                                                       inputs.resolve())}
    notes = _fit_metric_periods(spec, base)
    text = tomlio.comment(
        f"Written by `cpabm knockout` from {_shown(template_path)}: the sweep it ran. To "
        f"rerun the same sweep:\n"
        f"  cpabm sweep {_shown(inputs / SPEC_NAME)} --out {_shown(out / 'sweep')} --resume"
    ) + tomlio.dumps(spec)

    created = not out.exists()
    try:
        with atomic_dir(inputs) as tmp:
            tomlio.write(tmp / SCENARIO_NAME, scenario_doc, note="Written by `cpabm knockout`: "
                         "the base scenario at a sample of each LA's children.")
            atomic_write_text(tmp / SPEC_NAME, text)
            checked = _build(spec, text, tmp, template_path)
            if checked.design.type != "variants":
                raise ConfigError(f"--spec = {str(template_path)!r}: not a variants design")
            m = ResultStore(out / "sweep").manifest()
            if getattr(args, "replace", False):
                m = None  # the old runs go below, once everything is checked
            if m is not None and not args.resume:
                raise ConfigError(
                    f"--out = {str(out)!r} already holds a knockout ({out / 'sweep'}); add "
                    f"--resume to finish or extend it (finished runs are kept), --replace "
                    f"to run it afresh, --report-only to rebuild the report, or choose "
                    f"another --out")
            if m is not None and m["identity_sha256"] != checked.identity_hash():
                from abm.batch.runner import diff_keys
                what = ", ".join(diff_keys(m["spec"]["identity"], checked.identity())[:6])
                raise ConfigError(
                    f"--out = {str(out)!r} holds a knockout of a different model or scenario "
                    f"(differs in: {what}); cannot resume into it. Use --replace to run it "
                    f"afresh, or choose another --out")
            if getattr(args, "replace", False) and (out / "sweep").exists():
                _discard_sweep(out / "sweep", log)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise
    for n in notes:
        log(n)
    return spec, text


def _discard_sweep(sweep: Path, log) -> None:
    """Remove a knockout's sweep folder (only one that holds nothing but a sweep's entries)."""
    from abm.batch.store import ResultStore

    ResultStore(sweep).discard()
    log(f"--replace: removed the earlier runs in {sweep}")


def _shown(p: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def _fit_metric_periods(spec: dict, scenario) -> list[str]:
    """Metrics over periods the scenario does not have are moved to its last financial
    years (so the same template serves a short test scenario)."""
    from abm.core.calendar import Calendar

    labels = Calendar(scenario.start, scenario.end).labels("fy")
    window = labels[-WINDOW_YEARS:]
    notes = []
    metrics = spec.get("metrics")
    if not isinstance(metrics, dict):
        return notes
    for name, m in metrics.items():
        if not isinstance(m, dict) or not isinstance(m.get("periods"), list):
            continue
        if not set(m["periods"]) <= set(labels):
            notes.append(f"metric {name}: periods {m['periods']} are not all in "
                         f"{scenario.name} ({', '.join(labels)}); using {', '.join(window)}")
            metrics[name] = {**m, "periods": window}
    return notes[:1] + ([f"... and {len(notes) - 1} more metrics likewise"] if len(notes) > 1
                        else [])


# ------------------------------------------------------------------ the report
def knockout_tables(sweep: Path, scale: float = 1.0):
    """From a summarised sweep folder: (table, matrix, manifest). ``table`` has one row per
    (knockout, metric) with the reference and knockout medians and bands, and the
    contribution = reference - knockout (paired by replication) with its CI and band.
    Counts are divided by ``scale`` (shown for the whole population)."""
    import pandas as pd
    from scipy import stats

    from abm.batch.store import ResultStore

    m = ResultStore(sweep).manifest()
    if m is None:
        raise ConfigError(f"{sweep}: no knockout sweep here (no manifest.json); run "
                          f"`cpabm knockout` first")
    if m["design"]["type"] != "variants":
        raise ConfigError(f"{sweep}: not a variants sweep (design {m['design']['type']!r})")
    runs_csv = sweep / "summary" / "metrics_runs.csv"
    if not runs_csv.exists():
        raise ConfigError(f"{sweep}: not summarised yet (no summary/metrics_runs.csv); run "
                          f"`cpabm sweep --summarise {sweep}`")
    runs = pd.read_csv(runs_csv)
    variants = list(m["design"]["params"]["variants"])
    ref = m["design"]["params"]["reference"]
    lo, hi = m["summary"]["band"]
    conf = m["summary"]["confidence"]
    rows = []
    for metric in m["metrics"]:
        name, ind = metric["name"], metric["indicator"]
        unit = m["units"].get(ind, "")
        factor = 1.0 / scale if unit in EXTENSIVE_UNITS else 1.0
        w = runs.pivot(index="replication", columns="variant", values=name) * factor
        a = w[ref]
        for v in variants:
            if v == ref or v not in w:
                continue
            b = w[v]
            ok = a.notna() & b.notna()
            d = (a - b)[ok]  # the mechanism's contribution: full - knockout, same seed
            n = int(ok.sum())
            mean = float(d.mean()) if n else math.nan
            se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
            t = float(stats.t.ppf(0.5 + conf / 2, n - 1)) if n > 1 else math.nan
            ref_mean = float(a[ok].mean()) if n else math.nan
            rows.append({
                "variant": v, "metric": name, "indicator": ind,
                "unit": unit + (" (÷ scale)" if factor != 1.0 else ""),
                "n_pairs": n,
                "full_median": float(a.median()), "full_lo": float(a.quantile(lo)),
                "full_hi": float(a.quantile(hi)),
                "knockout_median": float(b.median()), "knockout_lo": float(b.quantile(lo)),
                "knockout_hi": float(b.quantile(hi)),
                "contribution": mean, "ci_lo": mean - t * se, "ci_hi": mean + t * se,
                "contribution_lo": float(d.quantile(lo)) if n else math.nan,
                "contribution_hi": float(d.quantile(hi)) if n else math.nan,
                "relative": mean / abs(ref_mean) if ref_mean else math.nan,
                "ci_excludes_zero": bool(n > 1 and (mean - t * se > 0 or mean + t * se < 0)),
                "identical": bool(n and (d == 0).all()),
            })
    table = pd.DataFrame(rows)
    matrix = table.pivot(index="metric", columns="variant", values="relative")
    matrix = matrix.reindex(index=[x["name"] for x in m["metrics"]],
                            columns=[v for v in variants if v != ref])
    return table, matrix, m


def _scale_of(out: Path) -> float:
    """The sample scale the knockout ran at (OUT/inputs/scenario.toml)."""
    p = out / "inputs" / SCENARIO_NAME
    if not p.exists():
        return 1.0
    return float(_read_toml(p, "scenario").get("scenario", {}).get("scale", 1.0))


def _fmt(x, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if "share" in unit or unit.startswith("per year"):
        return f"{x:.3g}"
    a = abs(x)
    if a >= 1e4:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:,.1f}"
    return f"{x:.3g}"


def _pct(x) -> str:
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return ""
    return f"{100 * x:+.1f}%"


def write_report(out: Path, log=None, run_info: dict | None = None) -> Path:
    """Write OUT/report.md, knockout_table.csv, knockout_matrix.csv, knockout.png and
    knockout.json from the summarised sweep in OUT/sweep."""
    from abm.batch.draws import describe_text
    from abm.core.io import atomic_write_text

    log = log or (lambda msg: None)
    out = Path(out)
    sweep = out / "sweep"
    if not (sweep / "summary" / "metrics_runs.csv").exists() and (sweep / "manifest.json").exists():
        from abm.batch.summary import summarise
        summarise(sweep, log=log)
    import numpy as np

    scale = _scale_of(out)
    table, matrix, m = knockout_tables(sweep, scale)
    ref = m["design"]["params"]["reference"]
    variants = m["design"]["params"]["variants"]
    conf = m["summary"]["confidence"]
    lo, hi = m["summary"]["band"]
    band = f"{100 * lo:g}-{100 * hi:g}%"
    import pandas as pd

    # the runs the summary holds (the run files themselves are not committed)
    n_done = len(pd.read_csv(sweep / "summary" / "metrics_runs.csv", usecols=["run"]))

    atomic_write_text(out / "knockout_table.csv", table.to_csv(index=False,
                                                               float_format="%.8g"))
    atomic_write_text(out / "knockout_matrix.csv", matrix.to_csv(float_format="%.6g"))
    _figure(sweep, table, m, out / "knockout.png")

    periods = {tuple(x["periods"]) if x["periods"] != "all" else ("all",) for x in m["metrics"]}
    window = ", ".join(next(iter(periods))) if len(periods) == 1 else "see the metrics"
    prev = {}
    if (out / "knockout.json").exists():
        try:
            prev = json.loads((out / "knockout.json").read_text())
        except json.JSONDecodeError:
            prev = {}
    info = run_info or prev.get("run", {})
    seconds = _run_seconds(sweep)
    timing = ({"median_seconds_per_run": round(float(np.median(seconds)), 3),
               "compute_seconds": round(float(sum(seconds)), 1), "runs_timed": len(seconds)}
              if seconds else prev.get("timing", {}))
    env = m["environment"]
    lines = [f"# Loop knockout: {m['name']}", "",
             m.get("description", ""), "",
             f"- scenario: `{m['spec']['identity']['inputs'].get('scenario_name', '?')}` at "
             f"scale {scale:g} (a {100 * scale:g}% sample of each LA's children)"
             + ("; counts (marked ÷ scale) are shown for the whole population, i.e. "
                "divided by the scale" if scale != 1 else ""),
             f"- {len(variants)} variants x {m['replications']} replications = "
             f"{len(m['runs'])} runs; finished: {n_done}"
             + (" **(PARTIAL)**" if n_done < len(m['runs']) else ""),
             f"- common random numbers: replication r has the same seed in every variant "
             f"(root seed {m['seeds']['root']})",
             *([f"- parameters: replication r runs with {describe_text(m['posterior'])}; "
                f"the intervals and bands carry the parameters' uncertainty as well as the "
                f"noise"] if m.get("posterior") else []),
             f"- metrics: mean per financial year over {window}",
             f"- contribution of a mechanism = full model - knockout, paired by replication; "
             f"[{100 * conf:g}% CI] of the mean; band = {band} of the replicates",
             ]
    if timing:
        lines.append(f"- run time: median {timing['median_seconds_per_run']:.3g} s per run, "
                     f"{timing['compute_seconds']:,.0f} s of compute"
                     + (f"; wall clock {info['wall_seconds']:.0f} s on {info.get('executor')}"
                        if info.get("wall_seconds") else ""))
    lines += [f"- code: model fingerprint {m['spec']['identity']['inputs'].get('code_sha256', '')[:12]}, "
              f"numpy {env['versions'].get('numpy')}, numba {env['versions'].get('numba')}, "
              f"mesa {env['versions'].get('mesa')}; created {m.get('created', '')}"]
    if info.get("command"):
        lines.append(f"- regenerate: `{info['command'].strip()} --replace` (after a model change; "
                     f"`--resume` instead finishes or extends these runs)")
    lines += ["", "## Variants", "", "| variant | overrides | meaning |", "|---|---|---|"]
    for v, ov in variants.items():
        o = ", ".join(f"`{k} = {str(x).lower() if isinstance(x, bool) else x}`"
                      for k, x in ov.items()) or "(none)"
        lines.append(f"| {v} | {o} | {MEANINGS.get(v, '')} |")

    # the contribution matrix: outcomes x knockouts, relative to the full model
    ko = [v for v in variants if v != ref]
    lines += ["", "## Contributions at a glance", "",
              "Each mechanism's contribution (full model - knockout) as a share of the full "
              f"model's value; **bold**: the {100 * conf:g}% CI excludes zero; `=`: identical in "
              "every replication (the mechanism does nothing here). Loop pulls are in "
              "prescription per year.", ""]
    lines.append("| outcome | full model: median [band] | " + " | ".join(ko) + " |")
    lines.append("|---|---|" + "---|" * len(ko))
    t = table.set_index(["metric", "variant"])
    for metric in [x["name"] for x in m["metrics"]]:
        first = t.loc[(metric, ko[0])]
        unit = first["unit"]
        cells = []
        for v in ko:
            r = t.loc[(metric, v)]
            if r["identical"]:
                cells.append("=")
                continue
            s = _pct(r["relative"]) if "pull" not in metric else _fmt(r["contribution"])
            cells.append(f"**{s}**" if r["ci_excludes_zero"] else s)
        lines.append(f"| {metric} ({unit}) | {_fmt(first['full_median'], unit)} "
                     f"[{_fmt(first['full_lo'], unit)}, {_fmt(first['full_hi'], unit)}] | "
                     + " | ".join(cells) + " |")

    # per knockout, in full
    lines += ["", "## Each knockout in full", ""]
    for v in ko:
        lines += [f"### {v}", "", MEANINGS.get(v, ""), "",
                  f"| outcome | full model [band] | {v} [band] | contribution (full - {v}) "
                  f"[{100 * conf:g}% CI] | band of the paired differences | relative |",
                  "|---|---|---|---|---|---|"]
        for metric in [x["name"] for x in m["metrics"]]:
            r = t.loc[(metric, v)]
            u = r["unit"]
            lines.append(
                f"| {metric} | {_fmt(r['full_median'], u)} [{_fmt(r['full_lo'], u)}, "
                f"{_fmt(r['full_hi'], u)}] | {_fmt(r['knockout_median'], u)} "
                f"[{_fmt(r['knockout_lo'], u)}, {_fmt(r['knockout_hi'], u)}] | "
                f"{_fmt(r['contribution'], u)} [{_fmt(r['ci_lo'], u)}, {_fmt(r['ci_hi'], u)}] | "
                f"[{_fmt(r['contribution_lo'], u)}, {_fmt(r['contribution_hi'], u)}] | "
                f"{_pct(r['relative'])} |")
        lines.append("")
    lines += ["## Files", "",
              "`knockout_table.csv` (every knockout x outcome), `knockout_matrix.csv` (the "
              "relative contributions), `knockout.png`, `knockout.json` (how it was run); "
              "`sweep/` is the batch results folder (`sweep/summary/` has per-run metrics, "
              "bands per financial year and paired differences; the per-run parquet files are "
              "not committed).", ""]
    atomic_write_text(out / "report.md", "\n".join(lines))
    record = {"format": "cpabm-knockout/1", "run": info, "timing": timing, "scale": scale,
              "variants": variants, "reference": ref, "replications": m["replications"],
              "runs_finished": n_done, "runs_total": len(m["runs"]),
              "seeds": m["seeds"]["by_replication"],
              "sweep_identity_sha256": m["identity_sha256"],
              "sweep_canonical_sha256": m["canonical_sha256"],
              "code_sha256": m["spec"]["identity"]["inputs"].get("code_sha256"),
              "environment": env, "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    atomic_write_text(out / "knockout.json", json.dumps(record, indent=1) + "\n")
    return out / "report.md"


def _run_seconds(sweep: Path) -> list[float]:
    import pyarrow.parquet as pq

    out = []
    for p in (sweep / "runs").glob("*.parquet"):
        meta = (pq.read_schema(p).metadata or {}).get(b"cpabm.run")
        if meta:
            out.append(json.loads(meta)["seconds"])
    return out


def _figure(sweep: Path, table, m: dict, path: Path) -> None:
    """Left: prescription per financial year by variant (median and band). Right: the
    relative contributions as a heat map (outcome x knockout)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from abm.core.io import atomic_write_bytes

    ref = m["design"]["params"]["reference"]
    variants = list(m["design"]["params"]["variants"])
    ko = [v for v in variants if v != ref]
    bands = pd.read_csv(sweep / "summary" / "bands.csv")
    lo, hi = m["summary"]["band"]
    qlo, qhi = f"q{100 * lo:g}", f"q{100 * hi:g}"
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(15, 6.5),
                                 gridspec_kw={"width_ratios": [1, 1.5]})
    pres = bands[bands["indicator"] == "prescription"]
    colours = plt.get_cmap("tab10")
    for i, v in enumerate(variants):
        b = pres[pres["variant"] == v]
        if b.empty:
            continue
        x = np.arange(len(b))
        style = {"lw": 2.5, "color": "black"} if v == ref else {"lw": 1.3, "color": colours(i % 10)}
        a1.plot(x, b["median"], label=v, marker="o", ms=3, **style)
        a1.fill_between(x, b[qlo], b[qhi], alpha=0.12, color=style["color"])
        a1.set_xticks(x, b["period"], rotation=45)
    a1.set_title("Prescription (mean per financial year): median and "
                 f"{100 * lo:g}-{100 * hi:g}% band")
    a1.set_ylabel("prescription (multiplier of recording demand)")
    a1.legend(fontsize=7, ncol=2)
    metrics = [x["name"] for x in m["metrics"] if "pull" not in x["name"]]
    t = table.set_index(["metric", "variant"])
    Z = np.array([[t.loc[(mt, v), "relative"] for v in ko] for mt in metrics], float)
    sig = np.array([[t.loc[(mt, v), "ci_excludes_zero"] for v in ko] for mt in metrics], bool)
    lim = max(0.05, float(np.nanpercentile(np.abs(Z), 95))) if np.isfinite(Z).any() else 1.0
    im = a2.imshow(np.clip(np.nan_to_num(Z), -lim, lim), cmap="RdBu_r", vmin=-lim, vmax=lim,
                   aspect="auto")
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            if np.isfinite(Z[i, j]) and abs(Z[i, j]) >= 0.0005:
                a2.text(j, i, f"{100 * Z[i, j]:+.1f}" + ("*" if sig[i, j] else ""),
                        ha="center", va="center", fontsize=6.5,
                        fontweight="bold" if sig[i, j] else "normal")
    a2.set_xticks(range(len(ko)), ko, rotation=35, ha="right", fontsize=8)
    a2.set_yticks(range(len(metrics)), metrics, fontsize=8)
    a2.set_title(f"Contribution (full - knockout) as % of the full model; * = "
                 f"{100 * m['summary']['confidence']:g}% CI excludes 0", fontsize=10)
    fig.colorbar(im, ax=a2, fraction=0.03, label="relative contribution")
    fig.suptitle(f"{m['name']}: {len(variants)} variants x {m['replications']} paired "
                 f"replications", fontsize=11)
    fig.tight_layout()
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    """``python -m abm.studies.knockout ...``: the same as ``cpabm knockout ...``."""
    import argparse

    p = argparse.ArgumentParser(prog="cpabm knockout")
    configure(p)
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        return run(args)
    except ConfigError as e:
        print(f"cpabm: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
