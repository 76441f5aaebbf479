"""The ``cpabm`` command line.

    cpabm run SCENARIO [--seed N] [--out DIR] [--set key=value ...] [--quiet]
    cpabm compare-runs DIR_A DIR_B [--out DIR]
    cpabm params [--markdown]
    cpabm baseline [--update | --fingerprints [--quick]]

Bad input (scenario, parameter, value, path) exits with status 2 and a one-line message
naming the file, key, value and valid range; nothing is written.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

from abm.core.errors import ConfigError


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="cpabm", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a scenario and write tidy outputs, a summary and figures")
    r.add_argument("scenario", help="scenario file, or the name of a packaged scenario (small_la, baseline_la)")
    r.add_argument("--seed", type=int, default=1, help="root seed (default 1)")
    r.add_argument("--out", default=None, help="output folder (default results/<scenario>)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter (repeatable)")
    r.add_argument("--quiet", action="store_true", help="no progress bar or summary print")
    r.add_argument("--no-per-la", action="store_true", help="skip the per-LA weekly table")
    c = sub.add_parser("compare-runs", help="paired differences of two runs with the same seed")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--out", required=True)
    p = sub.add_parser("params", help="print the parameter table")
    p.add_argument("--markdown", action="store_true")
    fg = sub.add_parser("figures", help="redraw the review's Figures I-IV (Taylor-Russell) from runs")
    fg.add_argument("--out", default="results/figures")
    fg.add_argument("--seed", type=int, default=1)
    b = sub.add_parser("baseline", help="check (or --update) the exact seeded baseline; "
                                        "--fingerprints checks that runs are identical to the bit")
    b.add_argument("--update", action="store_true",
                   help="regenerate the baseline, the replicates and the fingerprints")
    b.add_argument("--fingerprints", action="store_true",
                   help="check the exact fingerprints of seeded runs (tests/golden/baseline/fingerprints.json)")
    b.add_argument("--quick", action="store_true", help="with --fingerprints: without England")
    for name, (module, helptext) in EXTENSIONS.items():
        mod = importlib.import_module(module)
        mod.configure(sub.add_parser(name, help=helptext))
    return ap


#: Subcommands that live in their own modules. Each module has ``configure(parser)`` and
#: ``run(args) -> int`` and imports nothing heavy at module level.
EXTENSIONS: dict[str, tuple[str, str]] = {
    "sweep": ("abm.cli.sweep", "run a sweep spec, or summarise a results folder"),
    "viz": ("abm.cli.viz", "start the workshop app (Solara) on 127.0.0.1"),
    "knockout": ("abm.studies.knockout", "switch each learning loop, the ripple effect and requisite "
                                 "variety off in turn (common random numbers)"),
    "calibrate": ("abm.cli.calibrate", "calibrate parameters to targets by ABC-SMC (resumable)"),
    "validate": ("abm.studies.validate", "run replicates and check the published figures (exit 1 on a miss)"),
}


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:  # argparse already printed the message; usage errors are 2
        return int(e.code or 0)
    try:
        if args.command == "run":
            return cmd_run(args)
        if args.command == "compare-runs":
            return cmd_compare(args)
        if args.command == "params":
            return cmd_params(args)
        if args.command == "figures":
            from abm.studies.taylor_russell import taylor_russell
            print(taylor_russell(Path(args.out), seed=args.seed).to_string(index=False))
            print(f"wrote {args.out}/taylor_russell_*.png")
            return 0
        if args.command == "baseline":
            from abm.studies import baseline
            if args.fingerprints:
                return baseline.check_fingerprints(quick=args.quick)
            return baseline.main(update=args.update)
        if args.command in EXTENSIONS:
            return importlib.import_module(EXTENSIONS[args.command][0]).run(args)
    except ConfigError as e:
        print(f"cpabm: error: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_run(args) -> int:
    from abm.core.params import parse_assignment
    from abm.core.scenario import load_scenario

    if args.seed < 0:
        raise ConfigError(f"--seed = {args.seed} is out of range: valid range is [0, 2**63)")
    overrides = dict(parse_assignment(s) for s in args.set)
    scenario = load_scenario(args.scenario, overrides)  # validates everything, writes nothing
    out = Path(args.out) if args.out else Path("results") / scenario.name
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out = {str(out)!r} exists and is not a folder")

    from abm.core.io import atomic_dir, atomic_write_text
    from abm.core.model import ChildProtectionModel
    from abm.outputs.plots import all_figures
    from abm.outputs.tables import (
        decision_table,
        la_summary,
        period_tidy,
        reunification_table,
        summary,
        summary_long,
        tidy,
        workforce_distributions,
    )

    t0 = time.perf_counter()
    model = ChildProtectionModel(scenario, rng=args.seed, agent_views=False)
    bar = None
    if not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm
        bar = tqdm(total=model.calendar.n_weeks, unit="wk", desc=scenario.name, file=sys.stderr)
    model.run(progress=(lambda d, n: bar.update(1)) if bar else None)
    if bar:
        bar.close()
    elapsed = time.perf_counter() - t0
    fy = summary(model, "fy")
    with atomic_dir(out) as tmp:
        tidy(model).to_parquet(tmp / "national_weekly.parquet", index=False)
        period_tidy(model, "month").to_parquet(tmp / "national_monthly.parquet", index=False)
        if not args.no_per_la:
            tidy(model, per_la=True).to_parquet(tmp / "la_weekly.parquet", index=False)
        la_summary(model, "fy").to_parquet(tmp / "la_summary_fy.parquet", index=False)
        workforce_distributions(model).to_parquet(tmp / "workforce_distributions.parquet",
                                                  index=False)
        decision_table(model).to_csv(tmp / "decisions_by_fy.csv", index=False)
        reunification_table(model).to_csv(tmp / "reunification_by_skill.csv", index=False)
        fy.to_csv(tmp / "summary_fy.csv", float_format="%.6g")
        summary_long(fy).to_parquet(tmp / "summary_fy.parquet", index=False)
        atomic_write_text(tmp / "summary_fy.md", _summary_markdown(fy, model))
        all_figures(model, tmp)
        meta = {**model.describe(), "source": scenario.source, "seconds": round(elapsed, 2),
                "overrides": {k: v for k, v in overrides.items()}}
        atomic_write_text(tmp / "run.json", json.dumps(meta, indent=2, default=str))
    if not args.quiet:
        from abm.core.indicators import INDICATORS

        headline = fy[[ind.name for ind in INDICATORS]]  # every series too: summary_fy.md
        print(headline.T.to_string(float_format=lambda x: f"{x:,.3f}" if abs(x) < 10 else f"{x:,.0f}"))
        print(f"\nwrote {out}/ in {elapsed:.1f} s (seed {args.seed}); every output per "
              f"financial year: {out}/summary_fy.md")
    return 0


def _summary_markdown(summary, model) -> str:
    from abm.core.indicators import units

    unit = units()
    lines = [f"# {model.spec.name}: per financial year (seed {model.seed})", "",
             f"{model.spec.description}.", "",
             "| indicator | unit | " + " | ".join(summary.index) + " |",
             "|---|---|" + "---|" * len(summary.index)]
    for col in summary.columns:
        vals = []
        for v in summary[col]:
            vals.append("" if v != v else (f"{v:.3f}" if abs(v) < 10 else f"{v:,.0f}"))
        lines.append(f"| {col} | {unit.get(col, '')} | " + " | ".join(vals) + " |")
    return "\n".join(lines) + "\n"


def cmd_compare(args) -> int:
    import pandas as pd

    from abm.core.io import atomic_dir

    paths = [Path(args.a) / "summary_fy.csv", Path(args.b) / "summary_fy.csv"]
    for p in paths:
        if not p.exists():
            raise ConfigError(f"{p}: not found; give two folders written by `cpabm run`")
    for d in (args.a, args.b):
        if not (Path(d) / "run.json").exists():
            raise ConfigError(f"{Path(d) / 'run.json'}: not found; give two folders written by "
                              f"`cpabm run`")
    runs = [json.loads((Path(d) / "run.json").read_text()) for d in (args.a, args.b)]
    if runs[0]["seed"] != runs[1]["seed"]:
        raise ConfigError(f"runs have different seeds ({runs[0]['seed']} vs {runs[1]['seed']}); "
                          f"paired differences need common random numbers")
    a, b = (pd.read_csv(p, index_col="fy") for p in paths)
    diff = (b - a)
    rel = diff / a.abs().where(a.abs() > 0)
    with atomic_dir(Path(args.out)) as tmp:
        diff.to_csv(tmp / "difference_fy.csv", float_format="%.6g")
        rel.to_csv(tmp / "relative_difference_fy.csv", float_format="%.6g")
        lines = [f"# {runs[1]['scenario']} minus {runs[0]['scenario']} (seed {runs[0]['seed']})",
                 "", "Same seed, so the difference is the policy effect (one replicate; the "
                 "batch issue adds replicate confidence intervals).", "",
                 "| indicator | " + " | ".join(diff.index) + " |", "|---|" + "---|" * len(diff.index)]
        for col in diff.columns:
            lines.append(f"| {col} | " + " | ".join(
                "" if v != v else f"{v:+,.3f}" for v in diff[col]) + " |")
        (tmp / "difference_fy.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}/")
    return 0


def cmd_params(args) -> int:
    from abm.core.params import PARAMETERS, parameter_table_markdown

    if args.markdown:
        print(parameter_table_markdown())
    else:
        for s in PARAMETERS.values():
            print(f"{s.name:32s} {s.default!s:>10}  [{s.lo}, {s.hi}]  {s.unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
