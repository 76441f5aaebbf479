"""Benchmarks (not timed tests): speed, memory and start-up, recorded with the machine.

``cpabm bench`` (or ``python -m benchmarks.engine run``) runs every case in fresh subprocesses, so
that peak memory and start-up are each run's own, and writes ``results/benchmarks/<date>.json``
and a readable ``results/benchmarks/README.md``. Every figure is the median of repeated runs;
every ratio is measured side by side in the same invocation. The cases (issue 8):

1. ``engine_vs_reference``: the engine against the plain-Mesa reference
   (``abm.reference``) on the same one-LA scenario, in family-weeks per second.
2. ``england``: England at 1:1 over the default scenario's 7 years: wall time from
   constructing the model to the last step (warm-up included, and split), CPU time, peak
   resident memory.
3. ``floor``: in the same England runs, after each calendar week of the engine, the same
   week of the trivial floor kernel (``benchmarks.floor``, :class:`Floor`), which touches
   as many rows and takes the same number of random words from the same streams as the
   engine did that week; also a fuller floor that reads the contact proposals' rows, and a
   time-stepped floor that touches every family's row every week.
4. ``scaling``: cost against the number of LAs and against simulated years, with a linear fit.
5. ``startup``: import time, Numba compile time (empty cache in a temporary folder) and
   start-up with the warm cache.

``--quick`` runs the same machinery on tiny scenarios with one repeat (for tests and a smoke
check); only the full mode is recorded in ``results/benchmarks``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

ENGLAND = "experiments/scenarios/england_default.toml"
SMALL_LA = "abm/data/scenarios/small_la.toml"

#: Kept for ``cpabm bench --repeats``: the names of the repeated cases.
CASES = {"engine_vs_reference": 3, "england": 3, "scaling": 3}

#: Each case as scenario descriptions (see :func:`make_scenario`).
FULL = {
    # a typical English LA (60,000 children) for one calendar year after the warm-up
    "reference_la": {"path": SMALL_LA, "children": 60_000, "years": 1},
    "england": {"path": ENGLAND},
    "scaling_las": [{"path": ENGLAND, "las": k, "years": 1, "overrides": {"warmup_weeks": 52}}
                    for k in (19, 38, 76, 152)],
    "scaling_years": [{"path": ENGLAND, "las": 38, "years": y, "overrides": {"warmup_weeks": 52}}
                      for y in (1, 2, 4, 7)],
    "startup": {"path": SMALL_LA, "children": 2_000, "years": 1, "overrides": {"warmup_weeks": 4}},
    "cold_compile": True,
}
QUICK = {
    "reference_la": {"path": SMALL_LA, "children": 600, "years": 1, "overrides": {"warmup_weeks": 8}},
    "england": {"path": ENGLAND, "las": 3, "scale": 0.01, "years": 1, "overrides": {"warmup_weeks": 8}},
    "scaling_las": [{"path": ENGLAND, "las": k, "scale": 0.01, "years": 1,
                     "overrides": {"warmup_weeks": 4}} for k in (2, 4)],
    "scaling_years": [{"path": ENGLAND, "las": 2, "scale": 0.01, "years": y,
                       "overrides": {"warmup_weeks": 4}} for y in (1, 2)],
    "startup": {"path": SMALL_LA, "children": 500, "years": 1, "overrides": {"warmup_weeks": 4}},
    "cold_compile": False,
}


def make_scenario(desc: dict):
    """A scenario from a description: a scenario file (``path``) with optional parameter
    ``overrides``, the first ``las`` of its places, one place resized to ``children``, a
    ``scale`` and a calendar cut to ``years`` from its start."""
    from abm.core.errors import ConfigError
    from abm.core.scenario import load_scenario

    unknown = set(desc) - {"path", "overrides", "las", "children", "scale", "years"}
    if unknown:
        raise ConfigError(f"bench scenario {desc}: unknown key {sorted(unknown)[0]!r}")
    sc = load_scenario(PROJECT_ROOT / desc["path"], desc.get("overrides") or None)
    if "las" in desc:
        sc = dataclasses.replace(sc, places=sc.places[: int(desc["las"])])
    if "children" in desc:
        if len(sc.places) != 1:
            raise ConfigError(f"bench scenario {desc}: 'children' needs a one-LA scenario")
        sc = dataclasses.replace(sc, places=[dataclasses.replace(sc.places[0],
                                                                 children=int(desc["children"]))])
    if "scale" in desc:
        sc = dataclasses.replace(sc, scale=float(desc["scale"]))
    if "years" in desc:
        end = sc.start + dt.timedelta(days=int(365.25 * float(desc["years"])))
        sc = dataclasses.replace(sc, end=end, events=[e for e in sc.events if e.date < end])
    return sc


# ---------------------------------------------------------------------------- one run
# Each run is one subprocess (``python -m benchmarks.engine child KIND DESC``) printing one JSON line.

def _usage() -> dict:
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": r.ru_utime + r.ru_stime, "peak_rss_mib": r.ru_maxrss / 1024}


def child(kind: str, desc: dict, seed: int = 1) -> dict:
    """One measured run in this process (the subprocess side). ``kind``: ``engine``,
    ``engine_warm`` (the engine, measured on a second model after a first one in the same
    process, so the kernels are already loaded from the Numba cache, as in sweeps, calibration
    and replicates), ``engine_floor`` (the engine, then the floor on the same weeks),
    ``reference``, ``startup`` (import, build and one week, for compile and cache-load times)."""
    t0 = time.perf_counter()
    import abm  # noqa: F401
    from abm.core.model import ChildProtectionModel
    if kind == "reference":
        from abm.reference import ReferenceModel, family_weeks
    t_import = time.perf_counter()
    sc = make_scenario(desc)
    if kind == "engine_warm":  # a first model, untimed: loads the kernels
        ChildProtectionModel(sc, rng=seed + 10_000, agent_views=False).run()
    cpu0 = _usage()["cpu_s"]
    t1 = time.perf_counter()
    if kind == "reference":
        m = ReferenceModel(sc, rng=seed)
    else:
        m = ChildProtectionModel(sc, rng=seed, agent_views=False)
    t2 = time.perf_counter()
    out = {"kind": kind, "import_s": t_import - t0}
    if kind == "startup":
        m.step()
        t3 = time.perf_counter()
        return {**out, "build_and_first_week_s": t3 - t1, "total_s": t3 - t0, **_usage()}
    words, n_prop, step_s = [], [], 0.0
    if kind == "engine_floor":
        # each engine week, then the floor's week with that week's counts (the open cases at
        # its start, the words each stream took, the contact proposals), timed apart
        # (the floor and its bookkeeping are left out of the engine's wall and CPU time)
        fl = Floor(m)
        before = _stream_states(m)
        aside_s = aside_cpu = 0.0
        while m.week < m.calendar.n_weeks:
            k = int(m.open.n[0])
            a = time.perf_counter()
            m.step()
            b = time.perf_counter()
            c = time.process_time()
            step_s += b - a
            after = _stream_states(m)
            words.append([pcg64_distance(x, y) for x, y in zip(before, after, strict=True)])
            before = after
            n_prop.append(int(m.contact_proposals))
            fl.week(m.open.idx[:max(1, int(m.open.n[0]))], k, words[-1], n_prop[-1])
            aside_s += time.perf_counter() - b
            aside_cpu += time.process_time() - c
    elif kind == "reference":
        m.run()
    else:
        # the calendar weeks, with the time taken so far at the end of each simulated year
        # (one process, so the years are timed in the same spells of the machine)
        a = time.perf_counter()
        weeks_at, at = [], []

        def progress(done: int, total: int) -> None:
            if done % 52 == 0 or done == total:
                weeks_at.append(done)
                at.append(time.perf_counter() - a)

        m.run(progress=progress)
        out.update({"weeks_at": weeks_at, "calendar_s_at": at})
    t3 = time.perf_counter()
    cpu = _usage()["cpu_s"] - cpu0
    if kind == "engine_floor":
        t3 -= aside_s
        cpu -= aside_cpu
    warm = m.p.warmup_weeks
    weeks = m.calendar.n_weeks + warm
    fw = int(m.n_families) * weeks
    if kind == "reference":
        fw = family_weeks(m)  # the reference's own count (the same definition)
    out.update({"build_and_warmup_s": t2 - t1, "run_s": t3 - t2, "wall_s": t3 - t1,
                "cpu_s": cpu, "peak_rss_mib": _usage()["peak_rss_mib"],
                "families": int(m.n_families), "las": len(sc.places),
                "children": int(sum(max(1, round(p.children * sc.scale)) for p in sc.places)),
                "weeks_simulated": weeks, "warmup_weeks": warm, "calendar_weeks": m.calendar.n_weeks,
                "family_weeks": fw, "family_weeks_per_s": fw / (t3 - t1)})
    if kind == "engine_floor":
        cal_fw = int(m.n_families) * m.calendar.n_weeks
        out.update({"engine_calendar_s": step_s, "floor_s": fl.floor_s,
                    "proposal_rows_s": fl.rows_s,
                    "contact_proposals": int(sum(n_prop)),
                    "engine_over_floor_with_proposals": step_s / (fl.floor_s + fl.rows_s),
                    "random_words": int(sum(map(sum, words))),
                    "engine_calendar_fw_per_s": cal_fw / step_s,
                    "floor_fw_per_s": cal_fw / fl.floor_s,
                    "engine_over_floor": step_s / fl.floor_s,
                    "floor_draws_s": fl.draws_s, "floor_families_touch_s": fl.families_s,
                    "family_floor_s": fl.family_floor_s,
                    "family_floor_fw_per_s": cal_fw / fl.family_floor_s,
                    "engine_over_family_floor": step_s / fl.family_floor_s})
    return out


# ---------------------------------------------------------------------------- the floor
PCG64_MULT = (2549297995355413924 << 64) | 4865540595714422341
MASK128 = (1 << 128) - 1


def _stream_states(m) -> list[dict]:
    return [g.bit_generator.state for g in m.streams.values()]


def pcg64_distance(a: dict, b: dict) -> int:
    """How many 64-bit words a PCG64 generator produced between states ``a`` and ``b``
    (``bit_generator.state`` dicts): the LCG jump-distance algorithm (O'Neill, pcg-cpp
    ``distance``). Counts every draw of every kind exactly, without touching the kernels."""
    if a["bit_generator"] != "PCG64" or b["bit_generator"] != "PCG64":
        raise ValueError("pcg64_distance needs PCG64 states")
    cur, new, inc = a["state"]["state"], b["state"]["state"], a["state"]["inc"]
    if inc != b["state"]["inc"]:
        raise ValueError("states of two different PCG64 streams")
    mult, plus, bit, dist = PCG64_MULT, inc, 1, 0
    while cur != new:
        if (cur & bit) != (new & bit):
            cur = (cur * mult + plus) & MASK128
            dist |= bit
        bit <<= 1
        plus = ((mult + 1) * plus) & MASK128
        mult = (mult * mult) & MASK128
    return dist


class Floor:
    """The floor kernel, week by week, beside a model (``benchmarks.floor``).

    Each :meth:`week` first touches every family's row and every post (``families_s``: the
    time-stepped floor's touch); then that week's number of open-case rows and every post
    (``touch_s``); then takes that week's number of words from each stream, from the floor's
    own generators (``draws_s``); then reads as many scattered family rows as the front door
    drew contact proposals, from a pool of random rows far larger than the cache
    (``rows_s``). Each part is timed apart. The floor as first defined (the goal has been judged
    against it; which floor the goal means is the owner's call) is ``floor_s`` = touch
    + draws; the fuller floor adds the proposal rows; the time-stepped floor is every
    family's row + draws (docs/performance.md, sections 5, 9 and 10). It writes back the
    values it reads, so it can run between the engine's weeks: both are then timed in the
    same spell of the shared machine. The touch of every row comes first, so the rows the
    engine visits are the last the floor touched, as they were before it was added."""

    POOL = 2_000_000

    def __init__(self, model, seed: int = 0):
        import numpy as np

        from benchmarks.floor import floor_draws, floor_families, floor_rows, floor_touch

        self.np, self.model = np, model
        self.touch, self.draws, self.rows = floor_touch, floor_draws, floor_rows
        self.families = floor_families
        seqs = np.random.SeedSequence(seed).spawn(len(model.streams))
        self.gens = [np.random.default_rng(s) for s in seqs]
        self.pool = np.random.default_rng(seed).integers(0, len(model.fam.state), self.POOL,
                                                          np.int32)  # as the open list
        self.at, self.check = 0, 0.0
        self.families_s = self.touch_s = self.draws_s = self.rows_s = 0.0
        self.touch(model.fam, model.work, self.pool, 0, 0, 1.0)  # load the kernels first
        self.families(model.fam, model.work, 0, 1.0)
        self.draws(self.gens[0], 0)
        self.rows(model.fam, self.pool, 0, 0, 0)

    def week(self, rows, n_open: int, words: list[int], n_prop: int) -> None:
        np, m = self.np, self.model
        if len(rows) < n_open:  # the open rows, repeated if the week had more
            rows = np.resize(rows, n_open)
        ta = time.perf_counter()
        self.check += self.families(m.fam, m.work, 0, 1.0)
        t0 = time.perf_counter()
        self.check += self.touch(m.fam, m.work, rows, n_open, 0, 1.0)
        tb = time.perf_counter()
        for g, nw in zip(self.gens, words, strict=True):
            self.check += float(self.draws(g, nw) & np.uint64(1))
        t1 = time.perf_counter()
        while n_prop > 0:  # the pool's next rows, from its start again when it runs out
            if self.at >= len(self.pool):
                self.at = 0
            k = min(n_prop, len(self.pool) - self.at)
            self.check += self.rows(m.fam, self.pool, self.at, k, 0)
            self.at += k
            n_prop -= k
        self.rows_s += time.perf_counter() - t1
        self.families_s += t0 - ta
        self.touch_s += tb - t0
        self.draws_s += t1 - tb

    @property
    def floor_s(self) -> float:
        """The floor as first defined: the open rows, the posts and the random words."""
        return self.touch_s + self.draws_s

    @property
    def family_floor_s(self) -> float:
        """The time-stepped floor: every family's row, the posts and the random words."""
        return self.families_s + self.draws_s


# ---------------------------------------------------------------------------- the driver
def _spawn(kind: str, desc: dict, env: dict | None = None, seed: int = 1) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.engine", "child", kind, json.dumps(desc), str(seed)]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=PROJECT_ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"bench run {kind} {desc} failed:\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process_s"] = time.perf_counter() - t0
    return res


def _median(runs: list[dict]) -> dict:
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return {k: statistics.median(r[k] for r in runs) for k in keys}


def linear_fit(x: list[float], y: list[float]) -> dict:
    """Least-squares y = a + b x, with R^2 and the largest relative residual."""
    n = len(x)
    if n < 2 or len(y) != n:
        raise ValueError("linear_fit needs two or more (x, y) pairs of equal length")
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((xi - mx) ** 2 for xi in x)
    b = sum((xi - mx) * (yi - my) for xi, yi in zip(x, y, strict=True)) / sxx if sxx else 0.0
    a = my - b * mx
    ss_res = sum((yi - a - b * xi) ** 2 for xi, yi in zip(x, y, strict=True))
    ss_tot = sum((yi - my) ** 2 for yi in y)
    worst = max(abs(yi - a - b * xi) / abs(yi) for xi, yi in zip(x, y, strict=True) if yi)
    return {"intercept": a, "slope": b, "r2": 1.0 - ss_res / ss_tot if ss_tot else 1.0,
            "max_rel_residual": worst}


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def _case_startup(plan: dict, n: int, log) -> dict:
    """5. Start-up: import, warm-cache build, and the cold compile in a throwaway cache."""
    runs = [_spawn("startup", plan["startup"]) for _ in range(n)]
    start = {"scenario": plan["startup"], "warm": {"median": _median(runs), "runs": runs}}
    if plan["cold_compile"]:
        cold = []
        for _ in range(min(n, 2)):  # each cold compile costs a minute or more
            with tempfile.TemporaryDirectory() as tmp:
                cold.append(_spawn("startup", plan["startup"], env={**os.environ, "NUMBA_CACHE_DIR": tmp}))
        start["cold"] = {"median": _median(cold), "runs": cold}
        start["compile_s"] = (start["cold"]["median"]["build_and_first_week_s"]
                              - start["warm"]["median"]["build_and_first_week_s"])
    return start


def _case_reference(plan: dict, n: int, log) -> dict:
    """1. The engine against the reference: same scenario and seeds, run alternately."""
    eng, warm, ref = [], [], []
    try:
        for i in range(n):
            la = _load()
            eng.append({**_spawn("engine", plan["reference_la"], seed=i + 1), "load_before": la})
            warm.append({**_spawn("engine_warm", plan["reference_la"], seed=i + 1),
                         "load_before": la})
            ref.append({**_spawn("reference", plan["reference_la"], seed=i + 1), "load_before": la})
    except RuntimeError as e:  # the reference implementation is missing or broken here
        err = str(e).strip().splitlines()[-1]
        log(f"bench: engine vs reference not measured: {err}")
        return {"scenario": plan["reference_la"], "error": err}
    em, wm, rm = _median(eng), _median(warm), _median(ref)
    return {"scenario": plan["reference_la"], "engine": {"median": em, "runs": eng},
            "engine_warm": {"median": wm, "runs": warm},
            "reference": {"median": rm, "runs": ref},
            "speedup": em["family_weeks_per_s"] / rm["family_weeks_per_s"],
            "speedup_warm": wm["family_weeks_per_s"] / rm["family_weeks_per_s"],
            "speedup_per_pair": [e["family_weeks_per_s"] / f["family_weeks_per_s"]
                                 for e, f in zip(eng, ref, strict=True)],
            "speedup_warm_per_pair": [e["family_weeks_per_s"] / f["family_weeks_per_s"]
                                      for e, f in zip(warm, ref, strict=True)]}


def _case_england(plan: dict, n: int, log) -> dict:
    """2 and 3. England 1:1, and the floor on the same weeks in the same processes."""
    runs = []
    for _ in range(n):
        la = _load()
        runs.append({**_spawn("engine_floor", plan["england"]), "load_before": la,
                     "load_after": _load()})
    return {"scenario": plan["england"], "median": _median(runs), "runs": runs}


def _case_scaling(plan: dict, n: int, log) -> dict:
    """4. Cost against the number of LAs and against simulated years, with linear fits.

    The repeats go round the sizes in turn (every size once, then again), so that a slow
    spell of the shared machine falls on every size rather than on one point of the fit."""
    sc = {}
    for name, descs in (("las", plan["scaling_las"]), ("years", plan["scaling_years"])):
        runs = [[] for _ in descs]
        for _ in range(n):
            for j, desc in enumerate(descs):
                runs[j].append(_spawn("engine", desc))
        rows = []
        for desc, rr in zip(descs, runs, strict=True):
            m = _median(rr)
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


CASE_RUNNERS = {"startup": _case_startup, "engine_vs_reference": _case_reference,
                "england": _case_england, "scaling": _case_scaling}


def run(repeats: dict | int | None = None, out_dir: Path | None = None, quick: bool = False,
        log=print, only: str | None = None) -> dict:
    """Run every case (or re-run ``only`` one of them into today's existing record); write
    ``<date>.json`` and ``README.md`` into ``out_dir``."""
    from abm.core.errors import ConfigError
    from abm.core.io import atomic_write_text

    plan = QUICK if quick else FULL
    if isinstance(repeats, dict):
        repeats = max(repeats.values()) if repeats else None
    n = int(repeats) if repeats else (1 if quick else 3)
    if n < 1:
        raise ConfigError(f"repeats = {n} is out of range: valid range is [1, 100]")
    if only is not None and only not in CASE_RUNNERS:
        raise ConfigError(f"--only = {only!r}: valid cases are {', '.join(CASE_RUNNERS)}")
    out_dir = Path(out_dir) if out_dir else PROJECT_ROOT / "results" / "benchmarks"
    date = dt.date.today().isoformat()
    json_path = out_dir / f"{date}{'-quick' if quick else ''}.json"
    cmd = ("python -m benchmarks.engine run" + (" --quick" if quick else "")
           + (f" --repeats {repeats}" if repeats else ""))
    if only is not None:
        if not json_path.exists():
            raise ConfigError(f"--only {only}: no record {json_path} of today to update; "
                              "run the whole bench first")
        r = json.loads(json_path.read_text())
        if r["repeats"] != n:
            raise ConfigError(f"--only {only}: today's record has {r['repeats']} repeats, not {n}")
        r.setdefault("reruns", []).append({"case": only, "command": f"{cmd} --only {only}",
                                           "load_average_at_start": _load()})
    else:
        r = {"date": date, "quick": quick, "command": cmd, "machine": machine(), "repeats": n,
             "load_average_at_start": _load(), "cases": {}}
    t_start = time.perf_counter()
    log(f"bench: warming the Numba cache (load {_load()})")
    _spawn("startup", plan["startup"])
    for name, runner in CASE_RUNNERS.items():
        if only is not None and name != only:
            continue
        r["cases"][name] = runner(plan, n, log)
        log(f"bench: {name} done ({time.perf_counter() - t_start:.0f} s, load {_load()})")
    e = r["cases"]["england"]
    r["cases"]["floor"] = {
        "engine_over_floor": e["median"]["engine_over_floor"],
        "per_run": [x["engine_over_floor"] for x in e["runs"]],
        "engine_over_floor_with_proposals": e["median"]["engine_over_floor_with_proposals"],
        "per_run_with_proposals": [x["engine_over_floor_with_proposals"] for x in e["runs"]],
        "engine_over_family_floor": e["median"]["engine_over_family_floor"],
        "per_run_family_floor": [x["engine_over_family_floor"] for x in e["runs"]]}
    if only is None:
        r["load_average_at_end"] = _load()
        r["elapsed_s"] = time.perf_counter() - t_start
    else:
        r["reruns"][-1].update({"load_average_at_end": _load(),
                                "elapsed_s": time.perf_counter() - t_start})
    log(f"bench: done in {time.perf_counter() - t_start:.0f} s")
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(json_path, json.dumps(r, indent=1))
    atomic_write_text(out_dir / "README.md", readme(r))
    return r


# ---------------------------------------------------------------------------- the machine
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
    import mesa
    import numba
    import numpy

    mem = memory_gib()
    return {"cpu": cpu_model(), "cores": os.cpu_count(),
            "memory": f"{mem:.1f} GiB" if mem is not None else "unknown",
            "python": platform.python_version(), "platform": platform.platform(),
            "numpy": numpy.__version__, "numba": numba.__version__, "mesa": mesa.__version__}


# ---------------------------------------------------------------------------- the report
def _desc(d: dict) -> str:
    return "`" + d["path"] + "`" + "".join(f", {k} = {v}" for k, v in d.items() if k != "path")


def readme(r: dict) -> str:
    """The readable report of one bench invocation (``results/benchmarks/README.md``)."""
    m, c = r["machine"], r["cases"]
    a, b = r["load_average_at_start"], r["load_average_at_end"]
    L = [
        "# Benchmarks" + (" (quick mode: tiny scenarios, not a record)" if r["quick"] else ""), "",
        f"Recorded {r['date']} by `{r['command']}` (the same as `cpabm bench`); raw figures in "
        f"`{r['date']}{'-quick' if r['quick'] else ''}.json`. Exact-behaviour guard: "
        "`cpabm baseline --fingerprints` (see `docs/performance.md`).", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM; {m['platform']}; "
        f"Python {m['python']}, NumPy {m['numpy']}, Numba {m['numba']}, Mesa {m['mesa']}.", "",
        f"Every figure is the median of {r['repeats']} run{'s' if r['repeats'] > 1 else ''} "
        "(the cold compile: of at most 2), each in a fresh process with a warm Numba cache "
        "(except the cold compile), loading the kernels from it during the build. *Wall* is from constructing the model to the "
        "last step: the set-up, the unrecorded warm-up weeks (done in the constructor) and the "
        "calendar weeks. *CPU* is user + system time of the same span. Peak memory is the "
        "process's maximum resident set.", "",
        f"Load average (1, 5, 15 min) at start {a[0]:.2f}, {a[1]:.2f}, {a[2]:.2f}; at end "
        f"{b[0]:.2f}, {b[1]:.2f}, {b[2]:.2f}. The machine has {m['cores']} cores and is shared with "
        "other sessions: a load above the core count means other work competed for the CPU, and "
        "wall times are then pessimistic (CPU time is the steadier figure).", "",
    ]
    e = c["england"]["median"]
    L += ["## England at 1:1 over 7 years (goal: at most 30 s wall and 4 GiB)"
          + (" -- in quick mode a tiny stand-in" if r["quick"] else ""), "",
          f"Scenario: {_desc(c['england']['scenario'])}: {e['children']:,.0f} children in "
          f"{e['families']:,.0f} families, {e['las']:.0f} LAs, {e['warmup_weeks']:.0f} warm-up + "
          f"{e['calendar_weeks']:.0f} calendar weeks.", "",
          "| | median | runs |", "|---|---|---|"]
    runs = c["england"]["runs"]
    for key, label, fmt in (("wall_s", "wall, construction to last step (s)", "{:.1f}"),
                            ("build_and_warmup_s", "of which set-up + warm-up (s)", "{:.1f}"),
                            ("run_s", "of which calendar weeks (s)", "{:.1f}"),
                            ("cpu_s", "CPU user + sys (s)", "{:.1f}"),
                            ("import_s", "import before it (s)", "{:.2f}"),
                            ("peak_rss_mib", "peak RSS (MiB)", "{:.0f}"),
                            ("family_weeks_per_s", "family-weeks per second", "{:.3g}")):
        L.append(f"| {label} | {fmt.format(e[key])} | "
                 + ", ".join(fmt.format(x[key]) for x in runs) + " |")
    L.append("| load average (1 min) before each run | | "
             + ", ".join(f"{x['load_before'][0]:.2f}" for x in runs) + " |")
    L += ["", "## Engine against the floor (goal: within 3x)", "",
          "In each England run above, after each of the engine's calendar weeks, the same week "
          "of the floor kernel (`experiments/benchmarks/floor.py`), timed apart (the engine's times above "
          "leave it out; its peak memory includes the floor's 8 MB pool of rows): the floor "
          "reads and writes back that week's number of open-case rows, prefetched as the "
          "engine prefetches them, and every social-work post, and takes from each of the nine "
          "random streams exactly the number of 64-bit words the engine took that week "
          f"({e['random_words']:,.0f} words in all, counted from the generators' states). "
          "Interleaved week by week, both are timed in the same spells of the shared machine.",
          "",
          "| | engine | floor | engine / floor |", "|---|---|---|---|",
          f"| calendar weeks (s) | {e['engine_calendar_s']:.2f} | {e['floor_s']:.2f} | "
          f"{e['engine_over_floor']:.2f} |",
          f"| family-weeks per second | {e['engine_calendar_fw_per_s']:.3g} | "
          f"{e['floor_fw_per_s']:.3g} | |",
          "", "Per run: " + ", ".join(f"{x:.2f}" for x in c["floor"]["per_run"]) + ".", "",
          "The floor above does not read the rows of the front door's contact proposals, which "
          "the engine must read (and whose risk it advances) to thin them. Read as well, "
          f"{e['contact_proposals']:,.0f} scattered rows in all (the engine's count, week by "
          "week; `floor_rows`), they take "
          f"{e['proposal_rows_s']:.2f} s, and the engine is "
          f"**{e['engine_over_floor_with_proposals']:.2f}x** that fuller floor (per run "
          + ", ".join(f"{x:.2f}" for x in c["floor"]["per_run_with_proposals"])
          + "). The goal has been judged against the floor above.", "",
          "A floor read as a *time-stepped* trivial kernel touches every family's row every "
          f"week ({e['families']:,.0f} rows; `floor_families`), with the same random words. "
          "The engine does not: it visits the open cases and the contact proposals, and "
          "advances every other family's risk only when something next reads it (the exact "
          "transition over the weeks elapsed), i.e. it is event-driven for idle families. "
          f"That floor takes {e['family_floor_s']:.2f} s "
          f"({e['floor_families_touch_s']:.2f} s of rows, {e['floor_draws_s']:.2f} s of random "
          f"words), and the engine is **{e['engine_over_family_floor']:.2f}x** it (per run "
          + ", ".join(f"{x:.2f}" for x in c["floor"]["per_run_family_floor"])
          + ("): it beats that floor." if e["engine_over_family_floor"] < 1 else ").")
          + " Which floor the goal means is the owner's decision (docs/performance.md, "
          "section 10)."]
    v = c["engine_vs_reference"]
    L += ["", "## Engine against the plain-Mesa reference (goal: at least 100x)", ""]
    if "error" in v:
        L += [f"Not measured: the reference run failed ({v['error']}). The case runs "
              "`abm.reference.ReferenceModel` on " + _desc(v["scenario"]) + "."]
    else:
        em, rm = v["engine"]["median"], v["reference"]["median"]
        L += [f"Scenario: {_desc(v['scenario'])} ({em['families']:,.0f} families, "
              f"{em['weeks_simulated']:.0f} weeks with the warm-up), seeds 1..{r['repeats']}, run "
              "alternately. Throughput counts every family-week simulated, warm-up included "
              "(`abm.reference.family_weeks`), over the wall time from construction to the last "
              "step.", "", "| | wall (s) | CPU (s) | family-weeks per second |", "|---|---|---|---|",
              f"| engine (`ChildProtectionModel`) | {em['wall_s']:.2f} | {em['cpu_s']:.2f} | "
              f"{em['family_weeks_per_s']:.3g} |"]
        if "engine_warm" in v:
            wm = v["engine_warm"]["median"]
            L += [f"| engine, a second model in the same process | {wm['wall_s']:.2f} | "
                  f"{wm['cpu_s']:.2f} | {wm['family_weeks_per_s']:.3g} |"]
        L += [f"| reference (`abm.reference.ReferenceModel`) | {rm['wall_s']:.2f} | "
              f"{rm['cpu_s']:.2f} | {rm['family_weeks_per_s']:.3g} |", ""]
        if "speedup_warm" in v:
            per = v.get("speedup_warm_per_pair")
            L += [f"Speed-up in throughput, kernels loaded: **{v['speedup_warm']:.0f}x**"
                  + (" (per seed: " + ", ".join(f"{x:.0f}x" for x in per) + ")" if per else "")
                  + ". This is the goal's measure: family-weeks per second once the code of "
                  "each side is loaded, as in sweeps, calibration and replicates. The "
                  "reference's Python code is loaded by its import, which is outside the timed "
                  "span; the engine's compiled kernels are loaded from the Numba cache by the "
                  "first model built in a process, so the timed model is the second one.", ""]
        load = (f", here {em['wall_s'] - v['engine_warm']['median']['wall_s']:.2f} s (the "
                "first row less the second)" if "engine_warm" in v else "")
        L += [f"Including that one-off load in a fresh process (the first row): "
              f"**{v['speedup']:.0f}x** (per seed: "
              + ", ".join(f"{x:.0f}x" for x in v["speedup_per_pair"]) + "). The load is a "
              f"fixed cost per process{load}; Start-up below measures it on a tiny LA."]
    s = c["scaling"]
    L += ["", "## Scaling", "",
          "Cost against the number of LAs (England's first *k* LAs at 1:1) and against "
          "simulated years (warm-up shortened to 52 weeks in both series, so the series "
          "isolate size and length). Wall = construction to last step.", ""]
    for name, label in (("las", "LAs"), ("years", "calendar years")):
        f = s[name]["fit_wall_vs_family_weeks"]
        L += [f"| {label} | families | weeks | family-weeks | wall (s) | CPU (s) | "
              "peak RSS (MiB) | family-weeks per second |", "|---|---|---|---|---|---|---|---|"]
        for row in s[name]["rows"]:
            L.append(f"| {row[name]} | {row['families']:,.0f} | {row['weeks']:.0f} | "
                     f"{row['family_weeks']:,.0f} | {row['wall_s']:.2f} | {row['cpu_s']:.2f} | "
                     f"{row['peak_rss_mib']:.0f} | {row['family_weeks_per_s']:.3g} |")
        L += ["", f"Linear fit wall = a + b x family-weeks: a = {f['intercept']:.2f} s, "
              f"b = {f['slope'] * 1e9:.2f} s per 10^9 family-weeks, R^2 = {f['r2']:.4f}, "
              f"largest relative residual {f['max_rel_residual']:.1%}.", ""]
        wr = s[name].get("within_run")
        if wr:
            g = wr["fit"]
            L += ["Each run above is its own process, so a slow spell of the shared machine "
                  "moves one point of this series. Within the longest runs, the time the "
                  "calendar weeks had taken at the end of each simulated year (median of the "
                  "runs): " + ", ".join(f"{s_:.2f} s at week {w_}" for w_, s_ in
                                        zip(wr["weeks"], wr["calendar_s"], strict=True))
                  + f". Linear fit: {g['slope'] * 1e3:.2f} ms a week, R^2 = {g['r2']:.4f}, "
                  f"largest relative residual {g['max_rel_residual']:.1%}.", ""]
    st = c["startup"]
    w = st["warm"]["median"]
    L += ["## Start-up", "",
          f"Scenario: {_desc(st['scenario'])}; build and one week.", "",
          "| | import `abm` and the model (s) | build + first week (s) | total process (s) |",
          "|---|---|---|---|",
          f"| warm Numba cache | {w['import_s']:.2f} | {w['build_and_first_week_s']:.2f} | "
          f"{w['total_s']:.2f} |"]
    if "cold" in st:
        k = st["cold"]["median"]
        L += [f"| empty Numba cache (temporary `NUMBA_CACHE_DIR`) | {k['import_s']:.2f} | "
              f"{k['build_and_first_week_s']:.2f} | {k['total_s']:.2f} |", "",
              f"Compiling every kernel costs {st['compile_s']:.0f} s, once per machine and "
              "version of the kernels' source (the cache folder is keyed on it)."]
    else:
        L += ["", "(Cold compile not measured in quick mode.)"]
    L += ["", f"The whole invocation took {r['elapsed_s']:.0f} s."]
    for x in r.get("reruns", []):
        a, b = x["load_average_at_start"], x["load_average_at_end"]
        L.append(f"The case `{x['case']}` was run again afterwards by `{x['command']}` "
                 f"({x['elapsed_s']:.0f} s; load average at start {a[0]:.2f}, {a[1]:.2f}, "
                 f"{a[2]:.2f}, at end {b[0]:.2f}, {b[1]:.2f}, {b[2]:.2f}).")
    L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------------------- command line
def configure(ap) -> None:
    """Arguments of ``cpabm bench`` (for ``abm.cli``'s extension registry)."""
    ap.add_argument("--quick", action="store_true",
                    help="tiny scenarios, one repeat (a smoke check; not a record)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per case (default 3)")
    ap.add_argument("--out", default=None, help="output folder (default results/benchmarks)")
    ap.add_argument("--only", default=None, metavar="CASE",
                    help="re-run one case (startup, engine_vs_reference, england, scaling) "
                         "into today's record")


def main(args) -> int:
    from abm.core.errors import ConfigError
    if args.repeats is not None and not 1 <= args.repeats <= 100:
        raise ConfigError(f"--repeats = {args.repeats} is out of range: valid range is [1, 100]")
    out = Path(args.out) if args.out else None
    run(args.repeats, out, quick=args.quick, log=lambda s: print(s, file=sys.stderr),
        only=args.only)
    print(f"wrote {(out or PROJECT_ROOT / 'results' / 'benchmarks') / 'README.md'}")
    return 0



def _main(argv=None) -> int:
    import argparse

    from abm.core.errors import ConfigError

    ap = argparse.ArgumentParser(prog="python -m benchmarks.engine", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    configure(sub.add_parser("run", help="run the benchmarks and write results/benchmarks"))
    c = sub.add_parser("child", help=argparse.SUPPRESS)
    c.add_argument("kind", choices=("engine", "engine_warm", "engine_floor", "reference", "startup"))
    c.add_argument("desc")
    c.add_argument("seed", type=int, nargs="?", default=1)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "run":
            return main(args)
        if args.cmd == "child":
            print(json.dumps(child(args.kind, json.loads(args.desc), args.seed)))
            return 0
    except ConfigError as e:
        print(f"cpabm bench: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(_main())
