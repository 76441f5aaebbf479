"""The readable report of an engine-benchmark record: ``results/benchmarks/README.md``.

Rendered from the record (``<date>.json``) alone, so it can be written again from a record
without measuring anything (``python -m benchmarks.engine report``). A section appears only
for the cases the record holds.
"""

from __future__ import annotations

from benchmarks.loop import GOALS, LABELS


def _desc(d: dict) -> str:
    return "`" + d["path"] + "`" + "".join(f", {k} = {v}" for k, v in d.items() if k != "path")


def elsewhere(folder, r: dict) -> dict[str, str]:
    """For each case the record ``r`` lacks, the newest other dated record in ``folder`` that
    holds it: ``{case: "<file> (<date>, <cpu>)"}``."""
    import json
    from pathlib import Path

    from benchmarks.engine import dated_records

    found: dict[str, str] = {}
    for p in reversed(dated_records(Path(folder))):
        other = json.loads(p.read_text())
        if other.get("date") == r.get("date"):
            continue
        for case in other.get("cases", {}):
            if case not in r["cases"] and case != "floor" and case not in found:
                found[case] = f"`{p.name}` ({other['date']}, {other['machine']['cpu']})"
    return found


def _elsewhere_text(others: dict[str, str]) -> str:
    by: dict[str, list[str]] = {}
    for case, where in others.items():
        by.setdefault(where, []).append(f"`{case}`")
    parts = []
    for where, cases in by.items():
        names = cases[0] if len(cases) == 1 else ", ".join(cases[:-1]) + " and " + cases[-1]
        parts.append(f" {names} {'was' if len(cases) == 1 else 'were'} last recorded in {where}.")
    return "".join(parts)


def readme(r: dict, others: dict[str, str] | None = None) -> str:
    """The readable report of one bench invocation (``results/benchmarks/README.md``);
    ``others`` (from :func:`elsewhere`) names where the cases it lacks were last recorded."""
    m, c = r["machine"], r["cases"]
    a, b = r["load_average_at_start"], r["load_average_at_end"]
    L = [
        "# Benchmarks" + (" (quick mode: tiny scenarios, not a record)" if r["quick"] else ""), "",
        f"Recorded {r['date']} by `{r['command']}`; raw figures in "
        f"`{r['date']}{'-quick' if r['quick'] else ''}.json`. Re-run with `make bench`; how "
        "to read the figures and run one case: "
        "[docs/performance.md](../../docs/performance.md). Exact-behaviour guard: "
        "`cpabm baseline --fingerprints`.", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM; {m['platform']}; "
        f"Python {m['python']}, NumPy {m['numpy']}, Numba {m['numba']}, Mesa {m['mesa']}."
        + (f" Reference workload (`benchmarks.machine.reference_loop_s`: a Python loop, a NumPy "
           f"sort and matrix products) {m['reference_loop_s']:.3f} s: a wall time divided by "
           f"it compares across machines." if "reference_loop_s" in m else ""), "",
        f"Every figure is the median of {r['repeats']} run{'s' if r['repeats'] > 1 else ''} "
        "(except the cold start, measured once), each in a fresh process with a warm Numba "
        "cache, loading the kernels from it during the build. *Wall* is from constructing the model to the "
        "last step: the set-up, the unrecorded warm-up weeks (done in the constructor) and the "
        "calendar weeks. *CPU* is user + system time of the same span. Peak memory is the "
        "process's maximum resident set.", "",
        f"Load average (1, 5, 15 min) at start {a[0]:.2f}, {a[1]:.2f}, {a[2]:.2f}; at end "
        f"{b[0]:.2f}, {b[1]:.2f}, {b[2]:.2f}. The machine has {m['cores']} cores and is shared with "
        "other sessions: a load above the core count means other work competed for the CPU, and "
        "wall times are then pessimistic (CPU time is the steadier figure).", "",
    ]
    missing = [k for k in ("england", "engine_vs_reference", "scaling", "startup", "loop")
               if k not in c]
    if missing:
        L += ["This record holds only " + ", ".join(f"`{k}`" for k in c if k != "floor")
              + "; `make bench` records every case."
              + _elsewhere_text({k: v for k, v in (others or {}).items() if k in missing}), ""]
    if "england" in c:
        L += _england(r)
    if "engine_vs_reference" in c:
        L += _reference(r)
    if "scaling" in c:
        L += _scaling(r)
    if "startup" in c:
        L += _startup(r)
    if "loop" in c:
        L += _loop(r)
    if "elapsed_s" in r:
        L += ["", f"The whole invocation took {r['elapsed_s']:.0f} s."]
    for x in r.get("reruns", []):
        a, b = x["load_average_at_start"], x["load_average_at_end"]
        when = f" on {x['date']}" if "date" in x else ""
        L.append(f"The case `{x['case']}` was run again{when} by `{x['command']}` "
                 f"({x['elapsed_s']:.0f} s; load average at start {a[0]:.2f}, {a[1]:.2f}, "
                 f"{a[2]:.2f}, at end {b[0]:.2f}, {b[1]:.2f}, {b[2]:.2f}).")
    L.append("")
    return "\n".join(L)


def _england(r: dict) -> list[str]:
    c = r["cases"]
    e = c["england"]["median"]
    L = ["## England at 1:1 over 7 years (goal: at most 30 s wall and 4 GiB)"
          + (" -- in quick mode a tiny stand-in" if r["quick"] else ""), "",
          f"Scenario: {_desc(c['england']['scenario'])}: {e['children']:,.0f} children in "
          f"{e['families']:,.0f} families, {e['las']:.0f} LAs, {e['warmup_weeks']:.0f} warm-up + "
          f"{e['calendar_weeks']:.0f} calendar weeks.", "",
          "| | median | runs |", "|---|---|---|"]
    runs = c["england"]["runs"]
    ref = r["machine"].get("reference_loop_s")
    for key, label, fmt in (("wall_s", "wall, construction to last step (s)", "{:.1f}"),
                            ("build_and_warmup_s", "of which set-up + warm-up (s)", "{:.1f}"),
                            ("run_s", "of which calendar weeks (s)", "{:.1f}"),
                            ("cpu_s", "CPU user + sys (s)", "{:.1f}"),
                            ("import_s", "import before it (s)", "{:.2f}"),
                            ("peak_rss_mib", "peak RSS (MiB)", "{:.0f}"),
                            ("family_weeks_per_s", "family-weeks per second", "{:.3g}")):
        L.append(f"| {label} | {fmt.format(e[key])} | "
                 + ", ".join(fmt.format(x[key]) for x in runs) + " |")
    if ref:
        L.append(f"| wall in reference workloads (wall / {ref:.3f} s) | {e['wall_s'] / ref:.0f} | "
                 + ", ".join(f"{x['wall_s'] / ref:.0f}" for x in runs) + " |")
    L.append("| load average (1 min) before each run | | "
             + ", ".join(f"{x['load_before'][0]:.2f}" for x in runs) + " |")
    L += ["", "## Engine against the floor (goal: within 3x)", "",
          "In each England run above, after each of the engine's calendar weeks, the same week "
          "of the floor kernel (`experiments/benchmarks/floor.py`), timed apart (the engine's times above "
          "leave it out; its peak memory includes the floor's 8 MB pool of rows): the floor "
          "reads and writes back that week's number of open-case rows, prefetched as the "
          "engine prefetches them, and every social-work post, and takes from each of the model's "
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
          + "). These two floors measure the engine's own work more narrowly.", "",
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
          + " The goal's floor is this time-stepped one (docs/performance.md, *The floors*)."]
    return L


def _reference(r: dict) -> list[str]:
    v = r["cases"]["engine_vs_reference"]
    L = ["", "## Engine against the plain-Mesa reference (goal: at least 100x)", ""]
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
    return L


def _scaling(r: dict) -> list[str]:
    s = r["cases"]["scaling"]
    L = ["", "## Scaling", "",
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
    return L


def _startup(r: dict) -> list[str]:
    st = r["cases"]["startup"]
    w = st["warm"]["median"]
    L = ["## Start-up", "",
          f"Scenario: {_desc(st['scenario'])}; build and one week.", "",
          "| | import `abm` and the model (s) | build + first week (s) | total process (s) |",
          "|---|---|---|---|",
          f"| warm Numba cache | {w['import_s']:.2f} | {w['build_and_first_week_s']:.2f} | "
          f"{w['total_s']:.2f} |"]
    if "cold" in st:  # records before the loop case measured the compile here
        k = st["cold"]["median"]
        L += [f"| empty Numba cache (temporary `NUMBA_CACHE_DIR`) | {k['import_s']:.2f} | "
              f"{k['build_and_first_week_s']:.2f} | {k['total_s']:.2f} |", "",
              f"Compiling every kernel cost {st['compile_s']:.0f} s (the second row's build "
              "less the first's)."]
    else:
        L += ["", "Compiling the kernels into an empty cache: see *Cold start and the "
              "development loop*."]
    return L


def _loop(r: dict) -> list[str]:
    lp = r["cases"]["loop"]
    where = ("each on its own fresh `git clone` of commit "
             f"`{lp['commit'][:12]}` in a temporary folder, with its own empty kernel cache"
             + (" (the checkout had uncommitted changes, which the clones do not hold)"
                if lp["uncommitted_changes"] else "")
             if lp["fresh_clone"] else
             "quick mode: in this checkout with its caches, the set-up, `make run` and "
             "`make test` replaced by tiny commands (the machinery only, not a measurement)")
    L = ["", "## Cold start and the development loop", "",
         f"Measured once each, {where}. How each is taken: the docstring of "
         "`experiments/benchmarks/loop.py`.", "",
         "| measure | seconds | goal | met |", "|---|---|---|---|"]
    for key, goal in GOALS.items():
        v = lp["figures"].get(key)
        L.append(f"| {LABELS[key]} | {'failed' if v is None else f'{v:.1f}'} | "
                 f"<= {goal:.0f} | {'yes' if lp['met'].get(key) else '**no**'} |")
    c = lp.get("compile", {})
    notes = []
    if "cold" in c:
        empty = "with the cache empty" if lp["fresh_clone"] else "the first time"
        notes.append(f"The compile took {c['compile_s']:.1f} s {empty} and the "
                     f"same call {c['load_s']:.2f} s once it was filled "
                     f"({c['cold']['cache_files']} files); importing `abm` first took "
                     f"{c['cold']['import_s']:.2f} s"
                     + (" in the fresh clone." if lp["fresh_clone"] else "."))
    venvs = [d["venv"]["wall_s"] for d in (c, lp.get("make_test", {}), lp.get("sweep", {}))
             if isinstance(d.get("venv"), dict) and d["venv"].get("rc") == 0]
    if venvs and lp["fresh_clone"]:
        notes.append("`make venv` alone took " + ", ".join(f"{x:.0f}" for x in venvs)
                     + " s in the clones where it was run before the measurement.")
    t = lp.get("make_test", {}).get("test")
    if t:
        notes.append(f"`make test` ended with status {t['rc']}"
                     + (f" ({t['summary'].strip()})" if t.get("summary") else "") + ".")
    s = lp.get("sweep", {})
    for name, label in (("first", "The first sweep"), ("second", "A second sweep, cache filled")):
        x = s.get(name)
        if x and x.get("rc") == 0:
            warm = (f"; the parent's warm-up of the kernels {x['parent_warm_s']:.2f} s"
                    if x.get("parent_warm_s") is not None else "")
            notes.append(f"{label}: its first run started {x['first_run_start_s']:.2f} s after "
                         f"the command ({x['workers']} worker process"
                         f"{'es' if x['workers'] > 1 else ''}{warm}); the whole sweep took "
                         f"{x['wall_s']:.1f} s.")
    for name in ("compile", "make_run", "make_test", "sweep"):
        d = lp.get(name, {})
        if "error" in d:
            notes.append(f"`{name}` failed: {d['error']}")
        for x in d.values():
            if isinstance(x, dict) and "rc" in x and x["rc"] != 0:
                how = "timed out" if x["rc"] is None else f"exited with status {x['rc']}"
                notes.append(f"`{x['cmd']}` {how}: " + " / ".join(x.get("tail", [])[-2:]))
    if notes:
        L += [""] + [" ".join(notes)]
    return L
