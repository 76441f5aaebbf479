"""Benchmarks (not timed tests): wall time and peak memory, recorded with the machine.

``cpabm bench`` runs each case in fresh subprocesses (so peak memory is the run's own) and
writes ``results/benchmarks/<date>.json`` and a readable ``results/benchmarks/README.md``.
Figures are medians of repeated runs. Each subprocess reports separately: import time, model
build (including the unrecorded warm-up weeks) and the calendar run. The Numba cache is
warmed first, so a cold compile is measured once on its own, in a throwaway cache folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from .scenario import PROJECT_ROOT

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import abm
from abm.model import ChildProtectionModel
t1 = time.perf_counter()
sc = abm.load_scenario(sys.argv[1])
m = ChildProtectionModel(sc, rng=1, agent_views=False)
t2 = time.perf_counter()
m.run()
t3 = time.perf_counter()
weeks = m.calendar.n_weeks + m.p.warmup_weeks
print(json.dumps({"import_s": t1 - t0, "build_and_warmup_s": t2 - t1, "run_s": t3 - t2,
                  "total_s": t3 - t0, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "families": m.n_families, "children": int(m.las.children.sum()),
                  "weeks_simulated": weeks, "calendar_weeks": m.calendar.n_weeks,
                  "family_weeks_per_s": m.n_families * weeks / (t3 - t1)}))
"""

CASES = {
    "one_la_7y": ("experiments/scenarios/bench_la_7y.toml", 5),
    "england_7y": ("experiments/scenarios/england_default.toml", 3),
}


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo ("unknown" where it cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def memory_gib() -> float | None:
    """Total memory in GiB from /proc/meminfo (None where it cannot be read)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine() -> dict:
    import numba
    import numpy

    mem = memory_gib()
    return {"cpu": cpu_model(), "cores": os.cpu_count(),
            "memory": f"{mem:.1f} GiB" if mem is not None else "unknown",
            "python": platform.python_version(), "platform": platform.platform(),
            "numpy": numpy.__version__, "numba": numba.__version__}


def _child(scenario: str, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(PROJECT_ROOT / scenario)],
                         capture_output=True, text=True, check=True, env=env, cwd=PROJECT_ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(repeats: dict[str, int] | None = None, out_dir: Path | None = None) -> dict:
    out_dir = out_dir or PROJECT_ROOT / "results" / "benchmarks"
    _child(CASES["one_la_7y"][0])  # warm the Numba cache
    with tempfile.TemporaryDirectory() as cold:
        env = {**os.environ, "NUMBA_CACHE_DIR": cold}
        cold_run = _child(CASES["one_la_7y"][0], env)
    results = {"date": dt.date.today().isoformat(), "machine": machine(),
               "command": "cpabm bench", "cold_compile_one_la_7y": cold_run, "cases": {},
               "load_average_at_start": os.getloadavg()}
    for name, (scenario, n) in CASES.items():
        n = (repeats or {}).get(name, n)
        runs = [_child(scenario) for _ in range(n)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        results["cases"][name] = {"scenario": scenario, "repeats": n, "median": med, "runs": runs}
        print(f"{name}: median total {med['total_s']:.1f} s, run {med['run_s']:.1f} s, "
              f"peak {med['peak_rss_mib']:.0f} MiB", file=sys.stderr)
    results["load_average_at_end"] = os.getloadavg()
    out_dir.mkdir(parents=True, exist_ok=True)
    from .io import atomic_write_text
    atomic_write_text(out_dir / f"{results['date']}.json", json.dumps(results, indent=1))
    atomic_write_text(out_dir / "README.md", readme(results))
    return results


def readme(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# Benchmarks", "",
        f"Recorded {r['date']} by `{r['command']}` (raw figures: `{r['date']}.json`).", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM; {m['platform']}; "
        f"Python {m['python']}, NumPy {m['numpy']}, Numba {m['numba']}.", "",
        "Each figure is the median of repeated runs, each in a fresh process with a warm Numba "
        "cache. *build* is the model build plus its unrecorded warm-up weeks; *run* is the "
        "calendar period; peak memory is the process's maximum resident set.", "",
        "| case | scenario | repeats | import (s) | build + warm-up (s) | run (s) | total (s) | peak RSS (MiB) | families | weeks simulated | family-weeks/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, c in r["cases"].items():
        d = c["median"]
        lines.append(f"| {name} | `{c['scenario']}` | {c['repeats']} | {d['import_s']:.2f} | "
                     f"{d['build_and_warmup_s']:.1f} | {d['run_s']:.1f} | {d['total_s']:.1f} | "
                     f"{d['peak_rss_mib']:.0f} | {d['families']:,.0f} | {d['weeks_simulated']:.0f} | "
                     f"{d['family_weeks_per_s']:.3g} |")
    if "load_average_at_start" in r:
        a, b = r["load_average_at_start"], r["load_average_at_end"]
        lines += ["", f"Load average (1, 5, 15 min) at start {a[0]:.2f}, {a[1]:.2f}, {a[2]:.2f}; at end "
                  f"{b[0]:.2f}, {b[1]:.2f}, {b[2]:.2f}. On 2 cores a load above 1 means other work "
                  "competed for the CPU and the times are pessimistic."]
    c = r["cold_compile_one_la_7y"]
    lines += ["", f"Cold start (empty Numba cache, one LA for 7 years): total {c['total_s']:.1f} s, "
              f"of which import {c['import_s']:.1f} s; the compile is paid once per machine and "
              "source version (the cache is keyed on the kernels' source).", ""]
    return "\n".join(lines) + "\n"
