"""The engine benchmark: speed, memory, start-up and the development loop, with the machine.

    PYTHONPATH=experiments .venv/bin/python -m benchmarks.engine run             # make bench
    PYTHONPATH=experiments .venv/bin/python -m benchmarks.engine run --quick     # a smoke check
    PYTHONPATH=experiments .venv/bin/python -m benchmarks.engine run --only loop # one case again
    PYTHONPATH=experiments .venv/bin/python -m benchmarks.engine report          # README again

Every run is its own subprocess (``benchmarks.measure``), so that peak memory and start-up
are each run's own. Every figure is the median of repeated runs; every ratio is measured
side by side in the same invocation. It writes ``results/benchmarks/<date>.json`` and the
readable ``results/benchmarks/README.md`` (``benchmarks.report``). The cases:

1. ``engine_vs_reference``: the engine against the plain-Mesa reference (``abm.reference``)
   on the same one-LA scenario, in family-weeks per second, in a fresh process and for a
   second model in the same process.
2. ``england``: England at 1:1 over the default scenario's 7 years: wall time from
   constructing the model to the last step (warm-up included, and split), CPU time, peak
   resident memory; and after each calendar week the floors' same week (``benchmarks.floor``),
   timed apart, for the engine's ratio to each floor.
3. ``scaling``: cost against the number of LAs and against simulated years, with linear fits.
4. ``startup``: import time and start-up (build and one week) with the warm kernel cache.
5. ``loop``: cold start and the development loop, each on a fresh clone of the current
   commit with an empty kernel cache: compiling the kernels, ``make run``, ``make test``, and
   how long a sweep takes to start its first run (``benchmarks.loop``).

``--quick`` runs the same machinery on tiny scenarios with one repeat, and the loop case
without cloning or running the suite; it writes ``<date>-quick.json`` and its README into
``tmp/benchmarks-quick`` unless ``--out`` is given, never over the record.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.machine import load_average, machine
from benchmarks.plans import FULL, PROJECT_ROOT, QUICK
from benchmarks.stats import linear_fit, median_fields

RESULTS = PROJECT_ROOT / "results" / "benchmarks"
QUICK_OUT = PROJECT_ROOT / "tmp" / "benchmarks-quick"  # git-ignored: quick runs are no record
EXPERIMENTS = PROJECT_ROOT / "experiments"


def spawn(kind: str, desc: dict, env: dict | None = None, seed: int = 1) -> dict:
    """One measured run (``benchmarks.measure``) in a fresh process; its JSON result."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join([str(EXPERIMENTS)]
                                        + [p for p in [env.get("PYTHONPATH")] if p])
    cmd = [sys.executable, "-m", "benchmarks.measure", kind, json.dumps(desc), str(seed)]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=PROJECT_ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"bench run {kind} {desc} failed:\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process_s"] = time.perf_counter() - t0
    return res


# ---------------------------------------------------------------------------- the cases
def case_startup(plan: dict, n: int, log) -> dict:
    """Import, build and one week, with the warm kernel cache."""
    runs = [spawn("startup", plan["startup"]) for _ in range(n)]
    return {"scenario": plan["startup"], "warm": {"median": median_fields(runs), "runs": runs}}


def case_reference(plan: dict, n: int, log) -> dict:
    """The engine against the reference: same scenario and seeds, run alternately."""
    eng, warm, ref = [], [], []
    try:
        for i in range(n):
            la = load_average()
            eng.append({**spawn("engine", plan["reference_la"], seed=i + 1), "load_before": la})
            warm.append({**spawn("engine_warm", plan["reference_la"], seed=i + 1),
                         "load_before": la})
            ref.append({**spawn("reference", plan["reference_la"], seed=i + 1), "load_before": la})
    except RuntimeError as e:  # the reference implementation is missing or broken here
        err = str(e).strip().splitlines()[-1]
        log(f"bench: engine vs reference not measured: {err}")
        return {"scenario": plan["reference_la"], "error": err}
    em, wm, rm = median_fields(eng), median_fields(warm), median_fields(ref)
    return {"scenario": plan["reference_la"], "engine": {"median": em, "runs": eng},
            "engine_warm": {"median": wm, "runs": warm},
            "reference": {"median": rm, "runs": ref},
            "speedup": em["family_weeks_per_s"] / rm["family_weeks_per_s"],
            "speedup_warm": wm["family_weeks_per_s"] / rm["family_weeks_per_s"],
            "speedup_per_pair": [e["family_weeks_per_s"] / f["family_weeks_per_s"]
                                 for e, f in zip(eng, ref, strict=True)],
            "speedup_warm_per_pair": [e["family_weeks_per_s"] / f["family_weeks_per_s"]
                                      for e, f in zip(warm, ref, strict=True)]}


def case_england(plan: dict, n: int, log) -> dict:
    """England 1:1, and the floors on the same weeks in the same processes."""
    runs = []
    for _ in range(n):
        la = load_average()
        runs.append({**spawn("engine_floor", plan["england"]), "load_before": la,
                     "load_after": load_average()})
    return {"scenario": plan["england"], "median": median_fields(runs), "runs": runs}


def floor_summary(england: dict) -> dict:
    """The engine's ratios to the three floors, median and per run, from the England case."""
    e, runs = england["median"], england["runs"]
    return {"engine_over_floor": e["engine_over_floor"],
            "per_run": [x["engine_over_floor"] for x in runs],
            "engine_over_floor_with_proposals": e["engine_over_floor_with_proposals"],
            "per_run_with_proposals": [x["engine_over_floor_with_proposals"] for x in runs],
            "engine_over_family_floor": e["engine_over_family_floor"],
            "per_run_family_floor": [x["engine_over_family_floor"] for x in runs]}


def case_scaling(plan: dict, n: int, log) -> dict:
    """Cost against the number of LAs and against simulated years, with linear fits.

    The repeats go round the sizes in turn (every size once, then again), so that a slow
    spell of the shared machine falls on every size rather than on one point of the fit."""
    sc = {}
    for name, descs in (("las", plan["scaling_las"]), ("years", plan["scaling_years"])):
        runs = [[] for _ in descs]
        for _ in range(n):
            for j, desc in enumerate(descs):
                runs[j].append(spawn("engine", desc))
        rows = []
        for desc, rr in zip(descs, runs, strict=True):
            m = median_fields(rr)
            rows.append({name: desc[name], "families": m["families"], "weeks": m["weeks_simulated"],
                         "family_weeks": m["family_weeks"], "wall_s": m["wall_s"],
                         "run_s": m["run_s"], "build_and_warmup_s": m["build_and_warmup_s"],
                         "cpu_s": m["cpu_s"], "peak_rss_mib": m["peak_rss_mib"],
                         "family_weeks_per_s": m["family_weeks_per_s"]})
        fit = linear_fit([x["family_weeks"] for x in rows], [x["wall_s"] for x in rows])
        sc[name] = {"rows": rows, "fit_wall_vs_family_weeks": fit}
        if name == "years":  # within the longest runs: time so far against weeks so far
            longest = [r for r in runs[-1] if len(r.get("weeks_at", [])) >= 2]
            if longest:
                weeks = longest[0]["weeks_at"]
                at = [statistics.median(r["calendar_s_at"][j] for r in longest)
                      for j in range(len(weeks))]
                sc[name]["within_run"] = {"weeks": weeks, "calendar_s": at,
                                          "fit": linear_fit(weeks, at)}
    return sc


def case_loop(plan: dict, n: int, log) -> dict:
    """Cold start and the development loop (``benchmarks.loop``), measured once."""
    from benchmarks.loop import case_loop as measure_loop
    return measure_loop(plan, n, log)


CASES = {"startup": case_startup, "engine_vs_reference": case_reference,
         "england": case_england, "scaling": case_scaling, "loop": case_loop}


# ---------------------------------------------------------------------------- the record
def dated_records(out_dir: Path, quick: bool = False) -> list[Path]:
    """The ``<date>.json`` records (or ``<date>-quick.json``) in ``out_dir``, oldest first."""
    def is_record(p: Path) -> bool:
        stem = p.stem.removesuffix("-quick") if quick else p.stem
        if quick != p.stem.endswith("-quick"):
            return False
        try:
            dt.date.fromisoformat(stem)
        except ValueError:
            return False
        return True

    return sorted(p for p in out_dir.glob("*.json") if is_record(p))


def latest_record(out_dir: Path, quick: bool = False) -> Path | None:
    """The newest ``<date>.json`` (or ``<date>-quick.json``) in ``out_dir``, or None."""
    found = dated_records(out_dir, quick)
    return found[-1] if found else None


def run(repeats: int | None = None, out_dir: Path | None = None, quick: bool = False,
        log=print, only: str | None = None) -> dict:
    """Run every case into a new record of today, or run ``only`` one case into the latest
    record of this machine (the record lists the re-run), or, without one, into a new record
    of today holding that case alone; write the record's JSON and ``README.md`` into
    ``out_dir``."""
    from abm.core.errors import ConfigError
    from abm.core.io import atomic_write_text
    from benchmarks.report import elsewhere, readme

    plan = QUICK if quick else FULL
    n = int(repeats) if repeats else (1 if quick else 3)
    if not 1 <= n <= 100:
        raise ConfigError(f"repeats = {n} is out of range: valid range is [1, 100]")
    if only is not None and only not in CASES:
        raise ConfigError(f"--only = {only!r}: valid cases are {', '.join(CASES)}")
    out_dir = Path(out_dir) if out_dir else (QUICK_OUT if quick else RESULTS)
    date = dt.date.today().isoformat()
    cmd = ("python -m benchmarks.engine run" + (" --quick" if quick else "")
           + (f" --repeats {repeats}" if repeats else ""))
    here = machine()
    json_path = latest_record(out_dir, quick) if only is not None else None
    r = json.loads(json_path.read_text()) if json_path else None
    if r is not None and (r["machine"]["cpu"], r["machine"]["cores"]) != (here["cpu"],
                                                                          here["cores"]):
        log(f"bench: {json_path.name} was recorded on another machine ({r['machine']['cpu']}); "
            f"starting a record of {date} with the case {only} alone")
        r = None
    rerun = r is not None  # --only CASE into the latest record of this machine
    if rerun:
        if r["repeats"] != n:
            raise ConfigError(f"--only {only}: {json_path.name} has {r['repeats']} repeats, "
                              f"not {n}")
        r.setdefault("reruns", []).append({"case": only, "date": date,
                                           "command": f"{cmd} --only {only}",
                                           "load_average_at_start": load_average()})
    else:
        json_path = out_dir / f"{date}{'-quick' if quick else ''}.json"
        r = {"date": date, "quick": quick, "command": cmd + (f" --only {only}" if only else ""),
             "machine": here, "repeats": n, "load_average_at_start": load_average(),
             "cases": {}}
    t_start = time.perf_counter()
    if only != "loop":
        log(f"bench: warming the Numba cache (load {load_average()})")
        spawn("startup", plan["startup"])
    for name, case in CASES.items():
        if only is not None and name != only:
            continue
        r["cases"][name] = case(plan, n, log)
        log(f"bench: {name} done ({time.perf_counter() - t_start:.0f} s, load {load_average()})")
    if "england" in r["cases"]:
        r["cases"]["floor"] = floor_summary(r["cases"]["england"])
    if rerun:
        r["reruns"][-1].update({"load_average_at_end": load_average(),
                                "elapsed_s": time.perf_counter() - t_start})
    else:
        r["load_average_at_end"] = load_average()
        r["elapsed_s"] = time.perf_counter() - t_start
    log(f"bench: done in {time.perf_counter() - t_start:.0f} s")
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(json_path, json.dumps(r, indent=1))
    atomic_write_text(out_dir / "README.md", readme(r, elsewhere(out_dir, r)))
    return r


# ---------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    import argparse

    from abm.core.errors import ConfigError

    ap = argparse.ArgumentParser(prog="python -m benchmarks.engine",
                                 description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run the benchmarks and write results/benchmarks")
    r.add_argument("--quick", action="store_true",
                   help="tiny scenarios, one repeat, no clone (a smoke check; not a record)")
    r.add_argument("--repeats", type=int, default=None, help="repeats per case (default 3)")
    r.add_argument("--out", default=None, help="output folder (default results/benchmarks; "
                   "quick: tmp/benchmarks-quick)")
    r.add_argument("--only", default=None, metavar="CASE", choices=list(CASES),
                   help="run one case (" + ", ".join(CASES) + ") into the latest record of "
                   "this machine (a new record if there is none)")
    p = sub.add_parser("report", help="write README.md again from the latest record")
    p.add_argument("--out", default=None, help="the record's folder (default results/benchmarks)")
    args = ap.parse_args(argv)
    out = Path(args.out) if args.out else (QUICK_OUT if getattr(args, "quick", False)
                                           else RESULTS)
    try:
        if args.cmd == "report":
            from abm.core.io import atomic_write_text
            from benchmarks.report import elsewhere, readme

            path = latest_record(out)
            if path is None:
                raise ConfigError(f"no record in {out}")
            rec = json.loads(path.read_text())
            atomic_write_text(out / "README.md", readme(rec, elsewhere(out, rec)))
        else:
            run(args.repeats, out, quick=args.quick, log=lambda s: print(s, file=sys.stderr),
                only=args.only)
    except ConfigError as e:
        print(f"benchmarks.engine: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
