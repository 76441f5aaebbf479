"""Benchmarks of the sweep machinery: speed-up from 1 to 2 workers, and per-run overhead.

    PYTHONPATH=experiments .venv/bin/python -m benchmarks.batch        # ~6 min on 2 cores
    PYTHONPATH=experiments .venv/bin/python -m benchmarks.batch --repeats 5 --out results/benchmarks
    PYTHONPATH=experiments .venv/bin/python -m benchmarks.batch --quick  # a smoke check

Writes ``batch.json`` (every timing) and ``batch.md`` (medians, machine, versions, commands)
into ``--out``. The configurations are measured side by side in one session, interleaved
(serial, 2 workers, serial, 2 workers, ...), so a change in machine load hits both alike.

1. **Speed-up.** Real model runs through ``run_sweep`` with ``workers=1`` (serial, in this
   process) and ``workers=2`` (a local process pool), wall clock including the pool's
   start-up; two workloads: long runs (England FY2011-FY2015 at a 5% sample) and short
   runs (one LA of 60,000 children, FY2011-FY2014).
2. **Overhead per run.** A trivial evaluate function (Ishigami, microseconds) run N times
   directly, then through ``run_sweep`` on each executor; overhead = (sweep wall clock -
   direct time) / N. The atomic parquet write of one run's table is timed alone as well.

``--quick`` runs the same machinery on one tiny workload (one LA of 3,000 children for a year,
two runs), one repeat and 20 trivial runs, into ``tmp/benchmarks-quick`` (never the record).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.machine import cpu_model, load_average, memory_gib

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "experiments" / "scenarios"
QUICK_OUT = ROOT / "tmp" / "benchmarks-quick"
WORKLOADS = {
    "long": (SCENARIOS / "england_2011_2015_s05.toml", 8,
             "England FY2011-FY2015, 5% sample of every LA (8 runs)"),
    "short": (SCENARIOS / "la_60k_2011_2014.toml", 16,
              "one LA of 60,000 children, FY2011-FY2014 (16 runs)"),
}
MODEL_SPEC = """\
[sweep]
name = "bench_{name}"
replications = {runs}
seed = {seed}
[model]
scenario = "{scenario}"
[outputs]
indicators = ["referrals_children", "stock_cp_plan_children", "stock_looked_after_children",
              "vacancy_rate", "turnover_rate", "direct_time_share", "court_applications",
              "workforce_cost_gbp"]
"""
TINY_SCENARIO = """\
[scenario]
name = "bench_tiny"
start = 2008-04-07
end = 2009-03-31
regime = "prescriptive"
places = { children = 3000 }

[parameters]
warmup_weeks = 26
"""
TRIVIAL_SPEC = """\
[sweep]
name = "bench_trivial"
replications = {runs}
seed = {seed}
[model]
adapter = "abm.batch.testfunctions:Ishigami"
[fixed]
x2 = 1.0
x3 = 1.0
[factors.x1]
values = [0.5]
[outputs]
indicators = ["y"]
"""


def machine() -> dict:
    cpu = cpu_model()
    mem = memory_gib()
    mem = round(mem, 1) if mem is not None else None
    from abm.batch.executors import default_workers
    return {"cpu_model": cpu, "nproc": os.cpu_count(), "cpus_available": default_workers(),
            "ram_gib": mem, "platform": platform.platform(), "python": sys.version.split()[0]}


_load = load_average


def _spec(folder: Path, text: str):
    from abm.batch.spec import load_spec
    p = folder / "spec.toml"
    p.write_text(text)
    return load_spec(p)


def _sweep(spec, folder: Path, cpu: list | None = None, **kw) -> float:
    """Wall clock of one sweep; appends each run's CPU seconds (from its file) to ``cpu``."""
    import pyarrow.parquet as pq

    from abm.batch.runner import run_sweep
    out = folder / f"out{time.perf_counter_ns()}"
    t0 = time.perf_counter()
    run_sweep(spec, out, progress=False, log=lambda m: None, **kw)
    dt = time.perf_counter() - t0
    if cpu is not None:
        for f in (out / "runs").glob("*.parquet"):
            meta = pq.read_schema(f).metadata[b"cpabm.run"]
            cpu.append(json.loads(meta)["cpu_seconds"])
    shutil.rmtree(out)
    return dt


POOL_START = """
import time, sys
t0 = time.perf_counter()
from concurrent.futures import ProcessPoolExecutor
from abm.batch.executors import process_context
from abm.studies.adapter import CPModelAdapter, warm
t1 = time.perf_counter()
with ProcessPoolExecutor(2, mp_context=process_context(CPModelAdapter.preload)) as ex:
    list(ex.map(warm, [None, None]))   # each worker: forked, model imported, kernels loaded
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def bench_pool_start(repeats: int, log) -> dict:
    """Cold start of a 2-process pool in a fresh interpreter: forkserver, preloading the
    model's modules, forking two workers, and each loading the Numba kernels from the cache
    (what every `cpabm sweep --workers 2` pays once)."""
    import subprocess

    imports, pools = [], []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", POOL_START], capture_output=True,
                             text=True, check=True, cwd=ROOT).stdout.split()
        imports.append(float(out[0]))
        pools.append(float(out[1]))
    log(f"  pool cold start: {statistics.median(pools):.2f} s (imports {statistics.median(imports):.2f} s)")
    return {"import_seconds": imports, "pool_ready_seconds": pools,
            "median_pool_ready_seconds": statistics.median(pools)}


def bench_speedup(tmp: Path, repeats: int, log, workloads: dict | None = None) -> dict:
    """Both configurations with the forkserver already running (started by a throwaway pool
    first), so every 2-worker sweep pays the same start-up: two fresh workers that load the
    kernels. The cold start of the forkserver itself is measured by bench_pool_start."""
    from concurrent.futures import ProcessPoolExecutor

    from abm.batch.executors import process_context
    from abm.studies.adapter import CPModelAdapter, warm
    with ProcessPoolExecutor(2, mp_context=process_context(CPModelAdapter.preload)) as ex:
        list(ex.map(warm, [None, None]))
    out = {}
    for name, (scenario, runs, desc) in (workloads or WORKLOADS).items():
        spec = _spec(tmp, MODEL_SPEC.format(name=name, runs=runs, seed=1, scenario=scenario))
        times: dict[str, list[float]] = {"1": [], "2": []}
        loads: dict[str, list[float]] = {"1": [], "2": []}
        cpu: dict[str, list[float]] = {"1": [], "2": []}
        for i in range(repeats):
            for w in ("1", "2"):
                times[w].append(_sweep(spec, tmp, cpu[w], workers=int(w)))
                loads[w].append((_load() or [float("nan")])[0])
                log(f"  {name} repeat {i + 1}: {w} worker(s) {times[w][-1]:.2f} s "
                    f"(load {loads[w][-1]})")
        med = {w: statistics.median(v) for w, v in times.items()}
        out[name] = {"description": desc, "runs": runs, "seconds": times, "load_1min": loads,
                     "median_seconds": med, "speedup_median": med["1"] / med["2"],
                     "cpu_seconds_per_run_median": {w: statistics.median(v)
                                                    for w, v in cpu.items()},
                     "seconds_per_run_serial": med["1"] / runs}
    return out


def bench_overhead(tmp: Path, runs: int, repeats: int, log) -> dict:
    import numpy as np

    from abm.batch.runner import RunItem, execute, run_table
    from abm.batch.store import ResultStore
    from abm.batch.testfunctions import ishigami_evaluate

    spec = _spec(tmp, TRIVIAL_SPEC.format(runs=runs, seed=2))
    point, ctx = spec.design.points[0], spec.context
    res: dict = {"runs": runs}
    direct = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for s in range(runs):
            ishigami_evaluate(point, s, ctx)
        direct.append(time.perf_counter() - t0)
    res["direct_seconds"] = direct
    t_direct = statistics.median(direct)
    # one run's write: arrow table -> parquet bytes -> temp file, fsync, rename
    store = ResultStore(tmp / "writes")
    store.runs.mkdir(parents=True)
    rows = {"indicator": [f"i{k}" for k in range(8) for _ in range(5)],
            "period": [f"FY{2011 + j}" for _ in range(8) for j in range(5)],
            "value": list(np.arange(40.0))}
    item = RunItem("0" * 32, 0, 0, 1)
    t0 = time.perf_counter()
    for k in range(200):
        store.write_run(f"{k:032d}", run_table(spec, item, rows, {"seconds": 0.0}))
    res["write_40_rows_ms"] = (time.perf_counter() - t0) / 200 * 1e3
    t0 = time.perf_counter()
    for _ in range(200):
        execute(ishigami_evaluate, point, 1, ctx)
    res["execute_wrapper_us"] = (time.perf_counter() - t0) / 200 * 1e6
    configs = {"serial": dict(workers=1), "processes_2": dict(workers=2)}
    timings: dict[str, list[float]] = {k: [] for k in configs}
    timings["dask_inprocess"] = []
    timings["dask_2_processes"] = []
    from distributed import LocalCluster
    for i in range(repeats):
        for k, kw in configs.items():
            timings[k].append(_sweep(spec, tmp, **kw))
        with LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                          dashboard_address=":0") as c:
            timings["dask_inprocess"].append(_sweep(spec, tmp, scheduler=c.scheduler_address))
        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as c:
            timings["dask_2_processes"].append(_sweep(spec, tmp, scheduler=c.scheduler_address))
        log(f"  overhead repeat {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s"
                                                    for k, v in timings.items()))
    res["sweep_seconds"] = timings
    res["overhead_ms_per_run"] = {k: (statistics.median(v) - t_direct) / runs * 1e3
                                  for k, v in timings.items()}
    res["direct_us_per_run"] = t_direct / runs * 1e6
    return res


def markdown(r: dict) -> str:
    m = r["machine"]
    v = r["versions"]
    lines = ["# Batch machinery benchmarks" + (" (quick mode: a smoke check, not a record)"
                                           if r.get("quick") else ""), "",
             f"Measured {r['date']} with `{r['command']}` (one session; configurations "
             f"interleaved; medians of {r['repeats']} repeats).", "",
             f"- machine: {m['cpu_model']}, nproc {m['nproc']} ({m['cpus_available']} usable), "
             f"{m['ram_gib']} GiB RAM, {m['platform']}",
             f"- load average before / after: {r['load_before']} / {r['load_after']} "
             f"(other work on the machine inflates every figure alike)",
             f"- Python {m['python']}; " + ", ".join(f"{k} {x}" for k, x in v.items() if x),
             f"- requirements.lock SHA-256 {r['lock_sha256'][:16]}", "",
             "## Speed-up from 1 to 2 workers (real model runs)", "",
             "Wall clock of `run_sweep` (Numba cache warm; the 2-worker sweeps include "
             "starting their two workers, each loading the kernels).", "",
             "| workload | runs | 1 worker (serial) | 2 workers (processes) | speed-up | "
             "per run, serial | CPU per run, serial / in a worker | all timings 1 / 2 "
             "workers (1-min load after each) |",
             "|---|---|---|---|---|---|---|---|"]
    for w in r["speedup"].values():
        every = " / ".join(
            ", ".join(f"{t:.1f} ({ld:.1f})" for t, ld in zip(w["seconds"][k],
                                                            w.get("load_1min", {}).get(k, [])
                                                            or [float("nan")] * len(w["seconds"][k]),
                                                            strict=True))
            for k in ("1", "2"))
        lines.append(f"| {w['description']} | {w['runs']} | {w['median_seconds']['1']:.2f} s | "
                     f"{w['median_seconds']['2']:.2f} s | **{w['speedup_median']:.2f}x** | "
                     f"{w['seconds_per_run_serial']:.2f} s | "
                     f"{w['cpu_seconds_per_run_median']['1']:.2f} s / "
                     f"{w['cpu_seconds_per_run_median']['2']:.2f} s | {every} |")
    ps = r["pool_start"]
    lines += ["", f"Cold start of a 2-process pool in a fresh interpreter (forkserver, preloading "
              f"NumPy/Numba/Mesa/the model, forking 2 workers, each loading the kernels from "
              f"the cache): **{ps['median_pool_ready_seconds']:.2f} s**, paid once per "
              f"`cpabm sweep --workers 2` (not included above: the table's 2-worker sweeps "
              f"start with the forkserver running, as all but the first do in one session)."]
    o = r["overhead"]
    lines += ["", "## Overhead per run (executor + result file)", "",
              f"A trivial evaluate function ({o['direct_us_per_run']:.1f} us per direct call), "
              f"{o['runs']} runs per sweep; overhead = (sweep wall clock - direct calls) / runs. "
              f"Includes planning, the manifest, the result table and its atomic parquet write "
              f"(fsync + rename), and for pools their start-up.", "",
              "| executor | sweep wall clock (median) | overhead per run |", "|---|---|---|"]
    for k, secs in o["sweep_seconds"].items():
        lines.append(f"| {k} | {statistics.median(secs):.2f} s | "
                     f"{o['overhead_ms_per_run'][k]:.2f} ms |")
    lines += ["", f"- one run's result file alone (40 rows: build the Arrow table, write parquet, "
              f"temp file, fsync, rename): {o['write_40_rows_ms']:.2f} ms",
              f"- the worker-side wrapper around evaluate (timing, normalising rows): "
              f"{o['execute_wrapper_us']:.1f} us", "",
              "## Reading the numbers", "",
              "- A model run of a few seconds pays well under 1% overhead on any executor; "
              "overhead matters only for sub-second runs, where the fixed start-up of a pool "
              "(forkserver, preloading NumPy/Numba/Mesa, loading the kernels) is amortised "
              "over the sweep.",
              "- On an idle 2-core machine, runs of seconds should approach a speed-up of 2 "
              "(the parent only writes small files). Below that, the causes are the pool's "
              "start-up (two workers loading the kernels: a larger share of short sweeps) and, "
              "here, other sessions' processes on the same two cores: with a load of L other "
              "runnable processes, one worker gets about 2/(1+L) of a core and two get about "
              "4/(2+L) between them, a ratio of only 1.5 at L = 2. The load column shows "
              "what each measurement competed with.",
              "- CPU time per run in a worker / serial: " + ", ".join(
                  f"{name} runs "
                  f"{w['cpu_seconds_per_run_median']['2'] / w['cpu_seconds_per_run_median']['1']:.2f}"
                  for name, w in r["speedup"].items())
              + " (near 1: the runs do not slow each other down through shared memory or "
              "caches, so on idle cores the wall clock scales with the workers).", "",
              "Regenerate with:", "", "```", r["command"], "```", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.batch", description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=None, help="default 3 (quick: 1)")
    ap.add_argument("--overhead-runs", type=int, default=None, help="default 400 (quick: 20)")
    ap.add_argument("--out", default=None,
                    help="default results/benchmarks (quick: tmp/benchmarks-quick)")
    ap.add_argument("--quick", action="store_true",
                    help="one tiny workload, one repeat, 20 trivial runs (a smoke check)")
    ap.add_argument("--skip-speedup", action="store_true")
    ap.add_argument("--markdown-only", action="store_true",
                    help="re-render batch.md from an existing batch.json; measure nothing")
    args = ap.parse_args(argv)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.overhead_runs = args.overhead_runs or (20 if args.quick else 400)
    args.out = args.out or str(QUICK_OUT if args.quick else ROOT / "results" / "benchmarks")
    if args.markdown_only:
        from abm.core.io import atomic_write_text
        r = json.loads((Path(args.out) / "batch.json").read_text())
        atomic_write_text(Path(args.out) / "batch.md", markdown(r))
        return 0
    from abm.batch.adapter import package_versions, sha256_file
    from abm.core.io import atomic_write_text
    from abm.studies.adapter import warm

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    warm()
    r = {"date": time.strftime("%Y-%m-%d %H:%M"), "repeats": args.repeats, "quick": args.quick,
         "command": " ".join(["python -m benchmarks.batch",
                              *(argv if argv is not None else sys.argv[1:])]),
         "machine": machine(), "load_before": _load(),
         "versions": package_versions(("numpy", "numba", "mesa", "pandas", "pyarrow", "dask",
                                       "distributed", "SALib", "scipy")),
         "lock_sha256": sha256_file(ROOT / "requirements.lock")}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not args.skip_speedup:
            log("pool cold start:")
            r["pool_start"] = bench_pool_start(args.repeats, log)
            log("speed-up (real model runs):")
            workloads = None
            if args.quick:
                (tmp / "tiny.toml").write_text(TINY_SCENARIO)
                workloads = {"tiny": (tmp / "tiny.toml", 2,
                                      "one LA of 3,000 children, one year (2 runs)")}
            r["speedup"] = bench_speedup(tmp, args.repeats, log, workloads)
        log("overhead (trivial evaluate):")
        r["overhead"] = bench_overhead(tmp, args.overhead_runs, args.repeats, log)
    r["load_after"] = _load()
    out = Path(args.out)
    atomic_write_text(out / "batch.json", json.dumps(r, indent=1) + "\n")
    if "speedup" in r:
        atomic_write_text(out / "batch.md", markdown(r))
    print(f"wrote {out / 'batch.json'}" + (f" and {out / 'batch.md'}" if "speedup" in r else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
