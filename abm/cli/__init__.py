"""The ``cpabm`` command line.

    cpabm [--debug] run SCENARIO [--seed N] [--out DIR] [--overwrite] [--set key=value ...]
    cpabm compare-runs DIR_A DIR_B --out DIR [--overwrite]
    cpabm figures [--out DIR] [--overwrite] [--seed N]
    cpabm params [--markdown]
    cpabm outputs
    cpabm baseline [--update | --fingerprints [--quick]]

Bad input (scenario, parameter, value, path, output folder) exits with status 2 and a
one-line message naming the file, key, value and valid range; nothing is written. Any other
failure exits with status 1 and one line; ``--debug`` adds the traceback. Output folders are
claimed through :func:`abm.core.io.output_folder` (see docs/reliability.md).
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
    ap.add_argument("--debug", action="store_true",
                    help="on an unexpected error, print the traceback too")
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a scenario and write tidy outputs, a summary and figures")
    r.add_argument("scenario", help="scenario file, or the name of a packaged scenario (small_la, baseline_la)")
    r.add_argument("--seed", type=int, default=1, help="root seed in [0, 2**63) (default 1)")
    r.add_argument("--regime-file", default=None, metavar="PATH",
                   help="a regime .toml file ([regime] and [parameters]) to use instead of the "
                        "scenario's regime; checked like the packaged regimes")
    r.add_argument("--out", default=None, help="output folder (default results/<scenario>)")
    r.add_argument("--overwrite", action="store_true",
                   help="replace an earlier cpabm output in --out (files cpabm did not write "
                        "are never touched)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter (repeatable)")
    r.add_argument("--quiet", action="store_true", help="no progress bar or summary print")
    r.add_argument("--no-per-la", action="store_true", help="skip the per-LA weekly table")
    c = sub.add_parser("compare-runs", help="paired differences of two runs with the same seed")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--out", required=True)
    c.add_argument("--overwrite", action="store_true",
                   help="replace an earlier cpabm output in --out")
    p = sub.add_parser("params", help="print the parameter table")
    p.add_argument("--markdown", action="store_true")
    sub.add_parser("outputs", help="list every output (series and derived indicators) with "
                   "its unit and definition (docs/outputs.md)")
    fg = sub.add_parser("figures", help="redraw the review's Figures I-IV (Taylor-Russell) from runs")
    fg.add_argument("--out", default="results/taylor_russell")
    fg.add_argument("--seed", type=int, default=1)
    fg.add_argument("--overwrite", action="store_true",
                    help="replace an earlier cpabm output in --out")
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
    return guarded(lambda: _dispatch(args), debug=args.debug)


#: exit status of a refused input (usage) and of a failure while running
USAGE, RUNTIME = 2, 1


def guarded(fn, debug: bool = False) -> int:
    """Run ``fn`` at the CLI boundary: a ConfigError is one line and exit 2; any other
    exception one line (its type and message) and exit 1, with the traceback only under
    ``--debug``; Ctrl-C exits 130."""
    try:
        return fn()
    except ConfigError as e:
        print(f"cpabm: error: {one_line(str(e))}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt:
        print("cpabm: interrupted", file=sys.stderr)
        return 130
    except RecursionError:
        print("cpabm: error: input nested too deeply", file=sys.stderr)
        return USAGE
    except MemoryError:
        print("cpabm: error: out of memory (reduce the size of the input: replications, "
              "levels, samples, places)", file=sys.stderr)
        return RUNTIME
    except Exception as e:  # noqa: BLE001 - the CLI boundary: one line, never a traceback
        if debug:
            import traceback
            traceback.print_exc()
        msg = one_line(" ".join(str(e).split())) or "no message"
        print(f"cpabm: error: {type(e).__name__}: {msg[:500]} (rerun with --debug for the "
              f"traceback)", file=sys.stderr)
        return RUNTIME


def run_failed(e: Exception, args) -> int:
    """Report a run that failed while running (a sweep's, a calibration's): its first line
    (what failed, and why) and its last (what to do); the worker's traceback between them
    only with --debug. Exit status 1."""
    lines = str(e).strip().split("\n")
    if getattr(args, "debug", False) or len(lines) == 1:
        text = "\n".join(lines)
    else:
        text = f"{lines[0]} {lines[-1]}" + (" (rerun with --debug for the traceback)"
                                            if len(lines) > 2 else "")
    print(f"cpabm: error: {text}", file=sys.stderr)
    return RUNTIME


def one_line(text: str) -> str:
    """``text`` on one line: line breaks and other control characters (which a hostile
    key or value may carry) escaped."""
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)


def _dispatch(args) -> int:
    if args.command == "run":
        return cmd_run(args)
    if args.command == "compare-runs":
        return cmd_compare(args)
    if args.command == "params":
        return cmd_params(args)
    if args.command == "outputs":
        return cmd_outputs()
    if args.command == "figures":
        from abm.core.io import output_folder
        from abm.studies.taylor_russell import taylor_russell
        check_seed(args.seed)
        with output_folder(args.out, "figures", overwrite=args.overwrite) as tmp:
            table = taylor_russell(tmp, seed=args.seed)
        print(table.to_string(index=False))
        print(f"wrote {args.out}/taylor_russell_*.png")
        return 0
    if args.command == "baseline":
        from abm.studies import baseline
        if args.fingerprints:
            return baseline.check_fingerprints(quick=args.quick)
        return baseline.main(update=args.update)
    if args.command in EXTENSIONS:
        return importlib.import_module(EXTENSIONS[args.command][0]).run(args)
    return 0


def check_seed(seed, option: str = "--seed") -> int:
    """A root seed in the documented range [0, 2**63)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ConfigError(f"{option} = {seed!r} is out of range: valid range is [0, 2**63)")
    return seed


def cmd_run(args) -> int:
    from abm.core.io import out_path
    from abm.core.params import parse_assignment
    from abm.core.scenario import load_scenario

    check_seed(args.seed)
    overrides = dict(parse_assignment(s) for s in args.set)
    scenario = load_scenario(args.scenario, overrides, args.regime_file)  # validates everything, writes nothing
    out = out_path(args.out) if args.out is not None else Path("results") / scenario.name

    from abm.core.io import atomic_write_text, output_folder
    from abm.core.model import ChildProtectionModel
    from abm.outputs.plots import all_figures
    from abm.outputs.tables import (
        care_table,
        decision_table,
        la_summary,
        period_tidy,
        reunification_table,
        summary,
        summary_long,
        tidy,
        workforce_distributions,
    )

    # claimed before the simulation: a refused folder costs nothing and loses nothing
    with output_folder(out, "run", overwrite=args.overwrite) as tmp:
        t0 = time.perf_counter()
        model = ChildProtectionModel(scenario, rng=args.seed, agent_views=False)
        bar = None
        if not args.quiet and sys.stderr.isatty():
            from tqdm import tqdm
            bar = tqdm(total=model.calendar.n_weeks, unit="wk", desc=scenario.name,
                       file=sys.stderr)
        model.run(progress=(lambda d, n: bar.update(1)) if bar else None)
        if bar:
            bar.close()
        elapsed = time.perf_counter() - t0
        fy = summary(model, "fy")
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
        for period in ("quarter", "month"):
            care_table(model, period).to_csv(tmp / f"care_{period}.csv", float_format="%.6g")
        atomic_write_text(tmp / "summary_fy.md", _summary_markdown(fy, model))
        all_figures(model, tmp)
        meta = {**model.describe(), "source": scenario.source, "seconds": round(elapsed, 2),
                "overrides": {k: v for k, v in overrides.items()},
                **({"regime_file": str(Path(args.regime_file).resolve())}
                   if args.regime_file else {})}
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
    from abm.core.io import atomic_write_text, output_folder

    runs = [_read_run(Path(d)) for d in (args.a, args.b)]
    if runs[0]["seed"] != runs[1]["seed"]:
        raise ConfigError(f"runs have different seeds ({runs[0]['seed']} vs {runs[1]['seed']}); "
                          f"paired differences need common random numbers")
    a, b = (_read_summary(Path(d) / "summary_fy.csv") for d in (args.a, args.b))
    diff = (b - a)
    rel = diff / a.abs().where(a.abs() > 0)
    with output_folder(args.out, "comparison", overwrite=args.overwrite) as tmp:
        diff.to_csv(tmp / "difference_fy.csv", float_format="%.6g")
        rel.to_csv(tmp / "relative_difference_fy.csv", float_format="%.6g")
        lines = [f"# {runs[1]['scenario']} minus {runs[0]['scenario']} (seed {runs[0]['seed']})",
                 "", "Same seed, so the difference is the policy effect (one replicate; the "
                 "batch issue adds replicate confidence intervals).", "",
                 "| indicator | " + " | ".join(diff.index) + " |", "|---|" + "---|" * len(diff.index)]
        for col in diff.columns:
            lines.append(f"| {col} | " + " | ".join(
                "" if v != v else f"{v:+,.3f}" for v in diff[col]) + " |")
        atomic_write_text(tmp / "difference_fy.md", "\n".join(lines) + "\n")
    print(f"wrote {args.out}/")
    return 0


def _read_run(folder: Path) -> dict:
    """The run.json of a folder written by `cpabm run`, checked (one-line errors)."""
    p = folder / "run.json"
    hint = "give two folders written by `cpabm run`"
    try:
        meta = json.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{p}: not found; {hint}") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"{p}: not a valid run record ({type(e).__name__}); {hint}") from None
    if not isinstance(meta, dict) or not {"seed", "scenario"} <= set(meta):
        raise ConfigError(f"{p}: not a run record (needs 'seed' and 'scenario'); {hint}")
    return meta


def _read_summary(p: Path):
    import pandas as pd

    try:
        df = pd.read_csv(p, index_col="fy")
    except FileNotFoundError:
        raise ConfigError(f"{p}: not found; give two folders written by `cpabm run`") from None
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise ConfigError(f"{p}: not a valid run summary ({type(e).__name__}: "
                          f"{' '.join(str(e).split())[:200]})") from None
    return df


def cmd_params(args) -> int:
    from abm.core.params import PARAMETERS, parameter_table_markdown

    if args.markdown:
        print(parameter_table_markdown())
    else:
        for s in PARAMETERS.values():
            print(f"{s.name:32s} {s.default!s:>10}  [{s.lo}, {s.hi}]  {s.unit}")
    return 0


def cmd_outputs() -> int:
    from abm.core import indicators as I

    for s in I.SERIES:
        print(f"{s.name:40s} {s.unit:28s} {s.description}")
    for i in I.INDICATORS:
        print(f"{i.name:40s} {i.unit:28s} {i.description} (= {i.formula})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
