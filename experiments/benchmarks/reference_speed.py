"""Throughput of the engine and the reference on the same LA scenario, in family-weeks per
second, measured side by side (repeats interleaved, so a change in machine load hits both).

    PYTHONPATH=experiments .venv/bin/python -m benchmarks.reference_speed --children 3000 --years 2 --warmup 104 --repeats 3
    PYTHONPATH=experiments .venv/bin/python -m benchmarks.reference_speed --quick

The recorded figures belong to the engine benchmark (``make bench``, its
``engine_vs_reference`` case); this is the small, direct measurement. ``--quick`` is a
smoke check on a tiny LA (600 children, one year, 8 warm-up weeks, one repeat).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from abm.reference.model import family_weeks


def time_run(make_model, scenario, seed: int) -> tuple[float, float, int]:
    """Wall and CPU seconds (this process) for construction (warm-up included) plus
    ``run()``, and the family-weeks that covered. CPU time is the steadier figure on a
    shared machine."""
    t0, c0 = time.perf_counter(), time.process_time()
    model = make_model(scenario, seed)
    if model.week < model.calendar.n_weeks:
        model.run()
    return time.perf_counter() - t0, time.process_time() - c0, family_weeks(model)


def throughput(scenario, repeats: int = 3, seed: int = 1) -> dict:
    """Median family-weeks per second of the engine and the reference, and their ratio."""
    from abm.reference.compare import engine_model, reference_model

    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a whole number >= 1, got {repeats!r}")
    time_run(engine_model, scenario, seed)  # load the Numba kernels (compile or cache) first
    wall: dict[str, list[float]] = {"engine": [], "reference": []}
    cpu: dict[str, list[float]] = {"engine": [], "reference": []}
    fw: dict[str, int] = {}
    for r in range(repeats):
        for name, make in (("engine", engine_model), ("reference", reference_model)):
            seconds, cpu_seconds, fw[name] = time_run(make, scenario, seed + r)
            wall[name].append(fw[name] / seconds)
            cpu[name].append(fw[name] / cpu_seconds)
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    return {"family_weeks_per_run": fw, "repeats": repeats,  # of the last repeat
            "engine_family_weeks_per_s": med["engine"],
            "reference_family_weeks_per_s": med["reference"],
            "speedup": med["engine"] / med["reference"],
            "engine_family_weeks_per_cpu_s": med_cpu["engine"],
            "reference_family_weeks_per_cpu_s": med_cpu["reference"],
            "speedup_cpu": med_cpu["engine"] / med_cpu["reference"],
            "wall_runs": wall, "cpu_runs": cpu}


def main(argv=None) -> int:
    import abm

    ap = argparse.ArgumentParser(prog="python -m benchmarks.reference_speed", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--children", type=int, default=3000)
    ap.add_argument("--years", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=104, help="warm-up weeks")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="600 children, 1 year, 8 warm-up weeks, "
                    "1 repeat (a smoke check)")
    args = ap.parse_args(argv)
    if args.quick:
        args.children, args.years, args.warmup, args.repeats = 600, 1, 8, 1
    sc = abm.small_la_scenario(children=args.children, years=args.years, warmup_weeks=args.warmup)
    print(json.dumps(throughput(sc, repeats=args.repeats), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
