"""``cpabm sweep``: run a sweep spec, or summarise a results folder.

    cpabm sweep SPEC [--workers N] [--scheduler ADDRESS] [--resume | --replace] [--out DIR]
                     [--precision REL [--max-replications N]] [--check] [--no-summary]
                     [--quiet]
    cpabm sweep --summarise DIR

Registered in ``abm.cli.EXTENSIONS``; imports nothing heavy at module level.
"""

from __future__ import annotations

import sys
from pathlib import Path

from abm.core.errors import ConfigError


def configure(p) -> None:
    p.description = ("Run every (design point x replication) of a sweep spec, each into its "
                     "own parquet file, then summarise; or summarise a results folder. "
                     "See docs/batch.md.")
    p.add_argument("spec", nargs="?", help="sweep spec (TOML), e.g. "
                   "experiments/sweeps/regime_comparison.toml")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default: the CPUs available; 0 or 1: serial "
                        "in this process)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://host:8786 (default: "
                        "$DASK_SCHEDULER_ADDRESS if set; 'local' ignores the variable); "
                        "'dask-local[:N]' starts a Dask LocalCluster of N worker processes")
    p.add_argument("--resume", action="store_true",
                   help="continue a sweep in --out: skip runs already on disk")
    p.add_argument("--replace", action="store_true",
                   help="run the sweep afresh: first remove --out's earlier runs (refused, and "
                        "nothing removed, if the folder holds anything a sweep did not write)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="results folder (default results/sweeps/<sweep name>)")
    p.add_argument("--summarise", "--summarize", dest="summarise", default=None, metavar="DIR",
                   help="summarise the results folder DIR (no spec needed) and exit")
    p.add_argument("--check", action="store_true",
                   help="validate the spec and print the plan; run nothing")
    p.add_argument("--precision", type=float, default=None, metavar="REL",
                   help="add replications (resumably) until every metric's CI half-width is "
                        "within REL of its mean at every design point (e.g. 0.05), or "
                        "--max-replications is reached")
    p.add_argument("--max-replications", type=int, default=200, metavar="N",
                   help="the cap for --precision (default 200)")
    p.add_argument("--no-summary", action="store_true", help="do not summarise at the end")
    p.add_argument("--quiet", action="store_true", help="no progress bar or messages")


def run(args) -> int:
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    if args.summarise is not None:
        if args.spec or args.replace or args.resume:
            raise ConfigError("--summarise DIR summarises a folder; it takes no spec, --resume "
                              "or --replace")
        from abm.batch.summary import summarise
        from abm.core.io import out_path
        folder = summarise(out_path(args.summarise, "--summarise"), log=log)
        if not args.quiet:
            print(f"wrote {folder}/ (see summary.md)")
        return 0
    if not args.spec:
        raise ConfigError("cpabm sweep needs a sweep spec (e.g. experiments/sweeps/"
                          "regime_comparison.toml), or --summarise DIR")
    from abm.batch.spec import load_spec

    spec = load_spec(args.spec)
    from abm.core.io import out_path
    out = out_path(args.out) if args.out is not None else Path("results") / "sweeps" / spec.name
    if args.replace and args.resume:
        raise ConfigError("give --resume (keep the runs in --out) or --replace (remove them "
                          "first), not both")
    if args.check:
        return _check(spec, out, args)
    from abm.batch.runner import SweepRunError, run_sweep

    if args.precision is not None:
        _check_precision(args, spec)
    if args.replace and out.exists():
        from abm.batch.store import ResultStore
        ResultStore(out).discard()
        log(f"--replace: removed the earlier runs in {out}")

    try:
        if args.precision is not None:
            from abm.batch.precision import run_until_precise
            res, _, met = run_until_precise(
                spec, out, args.precision, args.max_replications, resume=args.resume,
                log=log, workers=args.workers, scheduler=args.scheduler,
                progress=not args.quiet)
            if not args.quiet:
                print(f"wrote {out}/ ({spec.replications} replications); summary in "
                      f"{out}/summary/summary.md")
            return 0 if met else 3
        res = run_sweep(spec, out, workers=args.workers, scheduler=args.scheduler,
                        resume=args.resume, progress=not args.quiet, log=log)
    except SweepRunError as e:
        from abm.cli import run_failed
        return run_failed(e, args)
    if res.executed:
        log(f"ran {res.executed} runs in {res.seconds:.1f} s "
            f"({res.seconds / res.executed:.3g} s per run, wall clock)")
    if not args.no_summary:
        from abm.batch.summary import summarise
        folder = summarise(out, log=log)
        if not args.quiet:
            print(f"wrote {out}/ ({res.total} runs); summary in {folder}/summary.md")
    return 0


def _check_precision(args, spec) -> None:
    """--precision in (0, 1); --max-replications from the spec's replications up to the
    sweep limits (replications, and runs in all)."""
    from abm.batch.spec import MAX_REPLICATIONS, MAX_RUNS

    if not 0 < args.precision < 1:  # NaN fails too
        raise ConfigError(f"--precision = {args.precision!r} is out of range: valid range is "
                          f"(0, 1) (a relative CI half-width, e.g. 0.05)")
    points = len(spec.design.points)
    top = min(MAX_REPLICATIONS, MAX_RUNS // max(points, 1))
    if not spec.replications <= args.max_replications <= top:
        raise ConfigError(f"--max-replications = {args.max_replications} is out of range: valid "
                          f"range is [{spec.replications}, {top}] (from the spec's "
                          f"sweep.replications up to the limits of {MAX_REPLICATIONS} "
                          f"replications and {MAX_RUNS} runs)")


def _check(spec, out, args) -> int:
    from abm.batch.executors import choose
    from abm.batch.seeds import replication_seeds

    plan = choose(args.workers, args.scheduler)
    seeds = replication_seeds(spec.seed, spec.replications)
    print(f"spec {spec.path}: OK")
    print(f"  sweep      {spec.name}: {spec.description}")
    print(f"  design     {spec.design.type}: {len(spec.design.points)} points x "
          f"{spec.replications} replications = {spec.n_runs} runs")
    for f in spec.factors:
        what = (f"values {list(f.values)}" if f.values is not None else
                f"{f.distribution} on [{f.lo}, {f.hi}]" + (f", {f.levels} levels" if f.levels else ""))
        print(f"  factor     {f.name}: {what}")
    if spec.fixed:
        print(f"  fixed      {spec.fixed}")
    print(f"  outputs    {len(spec.indicators)} indicators per {spec.period}; metrics: "
          f"{', '.join(m.name for m in spec.metrics)}")
    print(f"  seeds      root {spec.seed}; replication seeds {seeds[:3]}"
          f"{' ...' if len(seeds) > 3 else ''} (shared by every design point)")
    if spec.posterior is not None:
        from abm.batch.draws import describe_text

        first = spec.posterior.describe(min(spec.replications, 3))["particles_by_replication"]
        print(f"  posterior  replication r runs with "
              f"{describe_text(spec.posterior.describe(0))}; particles {first}"
              f"{' ...' if spec.replications > 3 else ''}")
    if spec.design.type == "factorial" and len(spec.design.points) > 1:
        print(f"  reference  point {spec.reference} {spec.design.points[spec.reference]} "
              f"(paired differences)")
    print(f"  executor   {plan.describe()}")
    print(f"  out        {out}")
    return 0
