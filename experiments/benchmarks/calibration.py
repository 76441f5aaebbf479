"""The cost of calibration: one simulation of the England calibration scenario, and a
projection of the final ABC-SMC run.

    PYTHONPATH=experiments .venv/bin/python -m benchmarks.calibration                 # ~1 min
    PYTHONPATH=experiments .venv/bin/python -m benchmarks.calibration --pilot tmp/abc_pilot/out --out results/benchmarks

Writes ``calibration.json`` (every timing) and ``calibration.md`` (medians, machine, load,
the projection) into ``--out`` (default ``tmp/benchmarks-calibration``; the record is
``results/benchmarks``).

1. **Per simulation.** The spec ``experiments/calibration/england.toml`` is loaded, the
   model's kernels warmed, then ``--sims`` simulations run in this process through the
   adapter's ``evaluate`` (exactly what a calibration worker runs), at the prior's centre,
   with seeds 1..n: wall and CPU seconds, medians quoted.
2. **The target statistics.** On one finished run, the statistics measured from only the
   indicators the targets need (``summary(..., only=...)``) against the full summary
   tables: both times, and whether the values are identical.
3. **The projection** of the spec's run: simulations = particles x replicates x sum over
   generations of 1 / acceptance. Generation 0 accepts all. With ``--pilot`` (a calibration
   folder of the same scenario, finished or still running, read by
   ``abm.batch.abc.status``), the acceptances it has seen are used (its finished
   generations, then the one in progress), and its own median CPU seconds per simulation
   (particles move to costlier regions as the run goes on); without one, generation 1
   accepts 0.6. Later generations are assumed to fall by ``RATIO`` per generation (the
   earlier England run fell 0.94 -> 0.63 -> 0.49, the 14-parameter toy of
   docs/calibration_method.md by 0.6-0.8), never below ``min_acceptance``. For the spec's
   minimum and maximum generations: simulations, CPU hours and wall hours on this machine's
   cores (speed-up of 2 workers from results/benchmarks/batch.json, when present).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

from benchmarks.machine import load_average, machine

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "experiments" / "calibration" / "england.toml"
QUICK_OUT = ROOT / "tmp" / "benchmarks-calibration"
#: assumed acceptance ratio from one generation to the next, after generation 1
RATIO = 0.7


def per_simulation(spec, n: int) -> dict:
    pt = {p.name: p.to_model(sum(p.bounds()) / 2) for p in spec.priors}
    walls, cpus = [], []
    for seed in range(1, n + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        spec.adapter.evaluate(pt, seed, spec.context)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return {"point": pt, "seconds": walls, "cpu_seconds": cpus,
            "median_seconds": statistics.median(walls),
            "median_cpu_seconds": statistics.median(cpus)}


def statistics_cost(spec, repeats: int = 3) -> dict:
    """Target statistics on one run: only the needed indicators vs the full tables."""
    import abm.outputs.tables as tables
    from abm.core.model import ChildProtectionModel
    from abm.studies.adapter import build_scenario
    from abm.studies.targets import target_statistics

    pt = {p.name: p.to_model(sum(p.bounds()) / 2) for p in spec.priors}
    m = ChildProtectionModel(build_scenario(pt, spec.context), rng=1, agent_views=False).run()
    targets = spec.context["target_specs"]
    full_summary = tables.summary

    def timed(fn):
        out, cpus = None, []
        for _ in range(repeats):
            c0 = time.process_time()
            out = fn()
            cpus.append(time.process_time() - c0)
        return out, statistics.median(cpus)

    only, t_only = timed(lambda: target_statistics(m, targets))
    tables.summary = lambda model, period, only=None: full_summary(model, period)
    try:
        full, t_full = timed(lambda: target_statistics(m, targets))
    finally:
        tables.summary = full_summary
    same = all(only[k] == full[k] or (math.isnan(only[k]) and math.isnan(full[k]))
               for k in full)
    return {"cpu_seconds_only_needed": t_only, "cpu_seconds_full_tables": t_full,
            "identical": same, "targets": len(targets)}


def acceptance_path(gens: int, observed: list[float], min_acceptance: float,
                    first: float = 0.6) -> list[float]:
    """Acceptance of generations 0..gens-1: 1, then the ``observed`` ones (generations
    1, 2, ...), then each ``RATIO`` times the one before (from ``first`` if nothing was
    observed), never below ``min_acceptance``."""
    acc = [1.0]
    for t in range(1, gens):
        if t - 1 < len(observed):
            acc.append(float(observed[t - 1]))
        else:
            acc.append(max(first if t == 1 else acc[-1] * RATIO, min_acceptance))
    return acc


def projection(spec, cpu_per_sim: float, observed: list[float], speedup: float,
               cores: int) -> list[dict]:
    out = []
    for gens in sorted({spec.min_generations, spec.generations}):
        acc = acceptance_path(gens, observed, spec.min_acceptance)
        sims = spec.particles * spec.replicates * sum(1 / a for a in acc)
        cpu_h = sims * cpu_per_sim / 3600
        out.append({"generations": gens, "acceptance": [round(a, 4) for a in acc],
                    "simulations": round(sims), "cpu_hours": round(cpu_h, 1),
                    "wall_hours": round(cpu_h / speedup, 1), "workers": cores})
    return out


def markdown(rec: dict) -> str:
    m, s, st = rec["machine"], rec["per_simulation"], rec["statistics"]
    lines = [
        "# Calibration cost benchmark", "",
        f"Recorded {rec['date']} by `{rec['command']}`; raw figures in `calibration.json`.", "",
        f"Machine: {m.get('cpu')}, {m.get('cores')} cores; load average at start "
        f"{rec['load_before']}, at end {rec['load_after']} (other sessions share the machine: "
        f"CPU seconds are the steadier figure).", "",
        "## One simulation of the calibration scenario", "",
        f"`{rec['scenario']}` (England, 10% sample, April 2005 to October 2010) through the "
        f"adapter in this process, {len(s['seconds'])} seeds, at the prior's centre, kernels "
        f"warm: median **{s['median_cpu_seconds']:.2f} CPU s** "
        f"(wall {s['median_seconds']:.2f} s) per simulation.", "",
        f"The target statistics of one run ({st['targets']} targets) take "
        f"{st['cpu_seconds_only_needed']:.3f} CPU s computed from only the indicators they "
        f"need, {st['cpu_seconds_full_tables']:.3f} CPU s from the full summary tables "
        f"(identical values: {'yes' if st['identical'] else 'NO'}).", "",
        "## Projection of the final run", "",
        f"Spec `{rec['spec']}`: {rec['particles']} particles x {rec['replicates']} replicates, "
        f"{rec['min_generations']} to {rec['generations']} generations. Acceptance: 1 in "
        f"generation 0, then {rec['acceptance_from']}, then x{RATIO} per generation (an "
        f"assumption; see the module docstring). CPU per simulation: "
        f"{rec['cpu_per_simulation']:.2f} s ({rec['cpu_from']}). Wall hours on "
        f"{rec['cores']} workers with the measured speed-up {rec['speedup']:.2f}x.", "",
        "| generations | acceptance by generation | simulations | CPU hours | wall hours |",
        "|---|---|---|---|---|"]
    for p in rec["projection"]:
        lines.append(f"| {p['generations']} | {', '.join(f'{a:.2f}' for a in p['acceptance'])} "
                     f"| {p['simulations']:,} | {p['cpu_hours']} | {p['wall_hours']} |")
    if rec.get("pilot"):
        pc = rec["pilot"]
        lines += ["", f"Pilot `{pc['folder']}` ({'finished' if pc['done'] else 'in progress'}): "
                  f"{pc['simulations']:,} simulations, {pc['cpu_seconds']:,.0f} CPU s"
                  + (f", {pc['wall_seconds'] / 3600:.1f} wall hours over {pc['sessions']} "
                     f"session(s) (a session ended at the end of a sitting counts to its last "
                     f"simulation file)" if "wall_seconds" in pc else "") + "; "
                  f"acceptance by generation {pc['acceptance']}; median CPU s per simulation "
                  f"in its latest generation {pc['cpu_seconds_per_simulation']:.2f}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=5, help="simulations to time (default 5)")
    ap.add_argument("--pilot", default=None, help="a calibration folder of the same scenario "
                                                  "(finished or running) whose acceptances "
                                                  "and cost per simulation to use")
    ap.add_argument("--out", default=str(QUICK_OUT), help="where to write the record")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from abm.batch.abc import load_calibration_spec

    load_before = load_average()
    spec = load_calibration_spec(SPEC)
    spec.adapter.warm(spec.context)
    sim = per_simulation(spec, args.sims)
    stats = statistics_cost(spec)
    observed, src, pilot = [], "0.6 in generation 1 (assumed)", None
    cpu, cpu_src = sim["median_cpu_seconds"], "measured above, at the prior's centre"
    if args.pilot:
        from abm.batch.abc.status import read_status

        st = read_status(args.pilot)
        observed = [g["acceptance"] for g in st.finished[1:]]
        if st.current and st.current["complete"]:
            observed.append(st.current["acceptance"])
        if observed:
            src = f"{', '.join(f'{a:.3f}' for a in observed)} (the pilot's, {args.pilot})"
        if st.cpu_per_simulation == st.cpu_per_simulation:  # not NaN
            cpu, cpu_src = st.cpu_per_simulation, "the pilot's latest generation"
        pilot = {"folder": str(args.pilot), "done": st.done, "simulations": st.simulations,
                 "cpu_seconds": st.cpu_seconds, "wall_seconds": round(st.wall_seconds, 1),
                 "sessions": st.sessions,
                 "cpu_seconds_per_simulation": st.cpu_per_simulation,
                 "acceptance": [round(g["acceptance"], 3) for g in st.finished]}
    batch = ROOT / "results" / "benchmarks" / "batch.json"
    speedup = 2.0
    if batch.exists():
        speedup = float(json.loads(batch.read_text())["speedup"]["long"]["speedup_median"])
    rec = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "command": "python -m benchmarks.calibration " + " ".join(argv or sys.argv[1:]),
           "machine": machine(), "load_before": load_before,
           "scenario": "experiments/scenarios/england_calibration_s10.toml",
           "spec": str(SPEC.relative_to(ROOT)), "particles": spec.particles,
           "replicates": spec.replicates, "generations": spec.generations,
           "min_generations": spec.min_generations, "acceptance_from": src,
           "cpu_per_simulation": cpu, "cpu_from": cpu_src, "speedup": speedup, "cores": 2,
           "per_simulation": sim, "statistics": stats, "pilot": pilot,
           "projection": projection(spec, cpu, observed, speedup, 2)}
    rec["load_after"] = load_average()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "calibration.json").write_text(json.dumps(rec, indent=1, default=str) + "\n")
    (out / "calibration.md").write_text(markdown(rec))
    print(markdown(rec))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
