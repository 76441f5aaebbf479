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


# ---------------------------------------------------------------------------- fingerprints
# Exact fingerprints of seeded runs: the guard that a speed-up changed nothing. For a fixed
# set of runs, the SHA-256 of every recorded weekly array, of every final state table and of
# every random stream's final state (a change in the number of draws is caught even when the
# outputs happen to agree). `python -m abm.bench fingerprint --save|--check FILE`.

FINGERPRINT_FILE = PROJECT_ROOT / "results" / "benchmarks" / "fingerprints.json"


def fingerprint_cases(full: bool = True) -> list[tuple[str, object, int]]:
    """(name, scenario, seed) of the runs fingerprinted; ``full`` adds 5% England."""
    from .scenario import load_scenario, small_la_scenario

    sc = PROJECT_ROOT / "experiments" / "scenarios"
    cases = [(f"small_la/seed{s}", load_scenario(sc / "small_la.toml"), s) for s in (1, 2, 3)]
    for regime in ("professional_judgment", "multi_agency_triage", "integrated_front_door",
                   "early_help", "fdac"):
        cases.append((f"small_la_{regime}/seed1",
                      small_la_scenario(children=20_000, years=2, regime=regime), 1))
    cases.append(("baseline_la/seed12345", load_scenario(sc / "baseline_la.toml"), 12345))
    if full:
        cases.append(("england_s05/seed1", load_scenario(sc / "england_2011_2015_s05.toml"), 1))
    return cases


def _sha(a) -> str:
    import hashlib

    import numpy as np
    a = np.ascontiguousarray(a)
    return hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes()).hexdigest()[:20]


def fingerprint(model) -> dict[str, str]:
    """SHA-256 (truncated) of a finished model's records, state tables and stream states."""
    import hashlib

    out = {f"rec.{k}": _sha(v) for k, v in model.rec.items()}
    for tname in ("fam", "work", "las", "courts", "cases"):
        table = getattr(model, tname)
        for field, arr in zip(table._fields, table, strict=True):
            out[f"{tname}.{field}"] = _sha(arr)
    for name, g in model.streams.items():
        state = json.dumps(g.bit_generator.state, sort_keys=True, default=str).encode()
        out[f"stream.{name}"] = hashlib.sha256(state).hexdigest()[:20]
    out["loops"] = repr(model.loops)
    out["status"] = repr((model.status_level, model.turnover_annual))
    return out


def fingerprints(full: bool = True) -> dict[str, dict[str, str]]:
    from .model import ChildProtectionModel

    res = {}
    for name, scenario, seed in fingerprint_cases(full):
        m = ChildProtectionModel(scenario, rng=seed, agent_views=False)
        m.run()
        res[name] = fingerprint(m)
        print(f"fingerprinted {name}", file=sys.stderr)
    return res


def fingerprint_diff(expected: dict, actual: dict) -> list[str]:
    lines = []
    for case in expected:
        if case not in actual:
            continue
        for key, v in expected[case].items():
            if actual[case].get(key) != v:
                lines.append(f"{case}: {key}")
    return lines


def _main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m abm.bench")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fingerprint", help="exact fingerprints of seeded runs")
    f.add_argument("--save", action="store_true")
    f.add_argument("--quick", action="store_true", help="without 5%% England")
    f.add_argument("--file", default=str(FINGERPRINT_FILE))
    args = ap.parse_args(argv)
    if args.cmd == "fingerprint":
        from .io import atomic_write_text
        path = Path(args.file)
        got = fingerprints(full=not args.quick)
        if args.save:
            atomic_write_text(path, json.dumps(got, indent=1, sort_keys=True) + "\n")
            print(f"wrote {path}")
            return 0
        lines = fingerprint_diff(json.loads(path.read_text()), got)
        print("\n".join(lines) if lines else f"identical ({len(got)} runs)")
        return 1 if lines else 0
    return 2


if __name__ == "__main__":
    sys.exit(_main())
