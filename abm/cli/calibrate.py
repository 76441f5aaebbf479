"""``cpabm calibrate``: run (or resume) an ABC-SMC calibration spec.

    cpabm calibrate SPEC [--out DIR] [--workers N] [--scheduler ADDRESS] [--resume]
                         [--check] [--status] [--quiet] [--top-up ESS]
                         [--save-checkpoint FILE] [--from-checkpoint FILE]

``configure(parser)`` and ``run(args) -> int`` for ``abm.cli.EXTENSIONS``; nothing heavy is
imported at module level. ``python -m abm.cli.calibrate SPEC ...`` works the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path

from abm.core.errors import ConfigError


def configure(p) -> None:
    p.description = ("Calibrate a model's parameters to targets by ABC-SMC (population Monte "
                     "Carlo ABC with an adaptive tolerance), with replicates per candidate; "
                     "resumable. See docs/calibration_method.md.")
    p.add_argument("spec", help="calibration spec (TOML), e.g. experiments/calibration/toy.toml")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="results folder (default results/calibration/<calibration name>)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default: the CPUs available; 0 or 1: serial "
                        "in this process)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://host:8786 (default: "
                        "$DASK_SCHEDULER_ADDRESS if set; 'local' ignores the variable)")
    p.add_argument("--resume", action="store_true",
                   help="continue the calibration in --out, reusing finished simulations")
    p.add_argument("--check", action="store_true",
                   help="validate the spec and print the plan; run nothing")
    p.add_argument("--status", action="store_true",
                   help="say where the calibration in --out stands (generations finished, the "
                        "one in progress, cost so far and to come) and whether this spec "
                        "could resume it; run and change nothing (safe beside a running one)")
    p.add_argument("--save-checkpoint", default=None, metavar="FILE",
                   help="pack the calibration in --out into FILE (.tar.xz; written atomically, "
                        "safe beside a running one) to carry it to another machine or sitting; "
                        "run nothing")
    p.add_argument("--from-checkpoint", default=None, metavar="FILE",
                   help="first unpack the checkpoint FILE into --out (a new or empty folder), "
                        "then go on as asked (--resume continues the run, --status reports)")
    p.add_argument("--top-up", type=float, default=None, metavar="ESS",
                   help="continue the final generation of the finished calibration in --out "
                        "until its effective sample size is about ESS (the same tolerance and "
                        "proposal; its particles kept), after checking that this code "
                        "replays the run and reproduces its simulations")
    p.add_argument("--quiet", action="store_true", help="no progress bars or messages")


def run(args) -> int:
    from abm.batch.abc import CalibrationRunError, calibrate, load_calibration_spec

    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
    spec = load_calibration_spec(args.spec)
    from abm.core.io import out_path
    out = out_path(args.out) if args.out is not None else Path("results") / "calibration" / spec.name
    if args.save_checkpoint is not None:
        return _save_checkpoint(spec, out, args)
    if args.from_checkpoint is not None:
        from abm.batch.abc.checkpoint import restore
        head = restore(out_path(args.from_checkpoint, "--from-checkpoint"), out)
        log(f"restored {args.from_checkpoint} into {out}/ ({head['simulation_files']} "
            f"simulation files, {head['generations']} generation(s); saved {head['created']})")
    if args.check:
        return _check(spec, out, args)
    if args.status:
        return _status(spec, out, args)
    if args.top_up is not None:
        from abm.batch.abc.topup import top_up
        try:
            rec = top_up(spec, out, args.top_up, workers=args.workers,
                         scheduler=args.scheduler, progress=not args.quiet, log=log)
        except CalibrationRunError as e:
            from abm.cli import run_failed
            return run_failed(e, args)
        if not args.quiet:
            print(f"wrote {out}/: generation {rec['generation']} has {rec['particles']} "
                  f"particles, ESS {rec['ess']:.0f}")
        return 0
    try:
        res = calibrate(spec, out, workers=args.workers, scheduler=args.scheduler,
                        resume=args.resume, progress=not args.quiet, log=log)
    except CalibrationRunError as e:
        from abm.cli import run_failed
        return run_failed(e, args)
    if not args.quiet:
        print(f"wrote {out}/ (posterior.md, calibrated.toml); stopped: {res.stop_reason}")
    return 0


def _save_checkpoint(spec, out, args) -> int:
    from abm.batch.abc.checkpoint import save
    from abm.core.io import out_path

    archive = out_path(args.save_checkpoint, "--save-checkpoint")
    head = save(out, archive)
    size = archive.stat().st_size
    print(f"saved {out}/ to {args.save_checkpoint} ({head['simulation_files']} simulation "
          f"files, {head['generations']} generation(s), {size / 1e6:.1f} MB)")
    if head["identity_sha256"] != spec.identity_hash():
        print(f"  note: {spec.path} does not match this run's identity, so `--resume` from "
              f"this checkpoint needs the spec, code and environment the run was started with")
    return 0


def _check(spec, out, args) -> int:
    from abm.batch.executors import choose

    plan = choose(args.workers, args.scheduler)
    print(f"spec {spec.path}: OK")
    print(f"  calibration {spec.name}: {spec.description}")
    print(f"  model       {spec.adapter_name}")
    print(f"  method      ABC-SMC: {spec.particles} particles, up to {spec.generations} "
          f"generations, {spec.replicates} replicates per candidate (median), epsilon = "
          f"{spec.quantile} quantile of the previous distances, {spec.kernel} kernel")
    print(f"  budget      at most {spec.max_simulations_per_generation} simulations per "
          f"generation ({spec.generations * spec.max_simulations_per_generation} in all); "
          f"after {spec.min_generations} generation(s), stop below acceptance "
          f"{spec.min_acceptance}, epsilon decrease < {spec.min_epsilon_decrease}, or "
          f"epsilon <= {spec.min_epsilon}")
    for p in spec.priors:
        kind = " (whole numbers)" if p.kind == "int" else ""
        print(f"  prior       {p.name}: {p.dist} on [{p.low}, {p.high}]{kind}")
    if spec.fixed:
        print(f"  fixed       {spec.fixed}")
    for t in spec.targets:
        print(f"  target      {t.id} = {t.value:g} in [{t.lo:g}, {t.hi:g}], weight {t.weight:g}")
    print(f"  seed        root {spec.seed}")
    print(f"  executor    {plan.describe()}")
    print(f"  out         {out}")
    return 0


def _status(spec, out, args) -> int:
    import os

    from abm.batch.abc.status import format_status, read_status
    from abm.batch.abc.store import AbcStore, topped_up

    st = read_status(out)
    workers = args.workers if args.workers and args.workers > 1 else (os.cpu_count() or 1)
    print(format_status(st, workers))
    if st.identity != spec.identity_hash():
        print(f"  note: {spec.path} does not match this run's identity (its code, inputs, "
              f"priors, targets or settings changed), so `--resume` would refuse it")
    elif topped_up(AbcStore(out)) is not None:
        print(f"  {spec.path} matches this run, whose final generation was topped up: "
              f"`--top-up ESS` extends it further; `--resume` refuses it (it would drop the "
              f"top-up)")
    else:
        print(f"  {spec.path} matches this run: `--resume` continues it")
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="cpabm calibrate")
    configure(p)
    args = p.parse_args(argv)
    try:
        return run(args)
    except ConfigError as e:
        print(f"cpabm: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
