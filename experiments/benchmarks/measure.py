"""One measured run, in the process that runs it: the subprocess side of the engine benchmark.

    python -m benchmarks.measure KIND 'DESC' [SEED]      # prints one JSON line

``KIND`` is one of :data:`KINDS`; ``DESC`` a scenario description (``benchmarks.plans``).
The driver (``benchmarks.engine``) starts each run in a fresh process, so that peak memory
and start-up are each run's own.

The model is read only through its public run surface (``week``, ``calendar``, ``streams``,
``open``, ``fam``, ``work``, ``contact_proposals``, ``step()``, ``run()``) and
:func:`model_size`, the one place that knows more of it.
"""

from __future__ import annotations

import json
import sys
import time

from benchmarks.plans import make_scenario

#: ``engine``: the engine in a fresh process (it loads its kernels from the Numba cache while
#: it builds the model); ``engine_warm``: the engine measured on a second model after a first
#: one in the same process, so the kernels are already loaded, as in sweeps, calibration and
#: replicates; ``engine_floor``: the engine, with the floors' week after each of its calendar
#: weeks, timed apart; ``reference``: the plain-Mesa reference (``abm.reference``);
#: ``startup``: import, build and one week.
KINDS = ("engine", "engine_warm", "engine_floor", "reference", "startup")


def model_size(model) -> tuple[int, int]:
    """(families, family-weeks simulated so far, warm-up included) of an engine or a reference
    model: the one thing the bench reads beyond the model's run surface. Family-weeks are
    the reference's own definition (``abm.reference.family_weeks``)."""
    from abm.reference import family_weeks

    return int(model.n_families), int(family_weeks(model))


def usage() -> dict:
    """CPU seconds (user + system) and peak resident memory (MiB) of this process so far."""
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": r.ru_utime + r.ru_stime, "peak_rss_mib": r.ru_maxrss / 1024}


def measure(kind: str, desc: dict, seed: int = 1) -> dict:
    """One measured run of ``kind`` (:data:`KINDS`) on the scenario ``desc``, in this
    process. Wall and CPU time span construction (the warm-up is done in the constructor)
    to the last step."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: one of {', '.join(KINDS)}")
    t0 = time.perf_counter()
    import abm  # noqa: F401
    from abm.core.model import ChildProtectionModel
    if kind == "reference":
        from abm.reference import ReferenceModel
    t_import = time.perf_counter()
    sc = make_scenario(desc)
    if kind == "engine_warm":  # a first model, untimed: loads the kernels
        ChildProtectionModel(sc, rng=seed + 10_000, agent_views=False).run()
    cpu0 = usage()["cpu_s"]
    t1 = time.perf_counter()
    if kind == "reference":
        m = ReferenceModel(sc, rng=seed)
    else:
        m = ChildProtectionModel(sc, rng=seed, agent_views=False)
    t2 = time.perf_counter()
    _, fw_built = model_size(m)
    out = {"kind": kind, "import_s": t_import - t0}
    if kind == "startup":
        m.step()
        t3 = time.perf_counter()
        return {**out, "build_and_first_week_s": t3 - t1, "total_s": t3 - t0, **usage()}
    extra: dict = {}
    aside_s = aside_cpu = 0.0
    if kind == "engine_floor":
        extra, aside_s, aside_cpu = _engine_and_floor(m)
    elif kind == "reference":
        m.run()
    else:
        # the time taken so far at the end of each simulated year (one process, so the
        # years are timed in the same spells of the machine)
        a = time.perf_counter()
        weeks_at, at = [], []

        def progress(done: int, total: int) -> None:
            if done % 52 == 0 or done == total:
                weeks_at.append(done)
                at.append(time.perf_counter() - a)

        m.run(progress=progress)
        extra = {"weeks_at": weeks_at, "calendar_s_at": at}
    t3 = time.perf_counter() - aside_s  # the floor and its bookkeeping are left out
    cpu = usage()["cpu_s"] - cpu0 - aside_cpu
    families, fw = model_size(m)
    weeks = fw // families
    out.update({"build_and_warmup_s": t2 - t1, "run_s": t3 - t2, "wall_s": t3 - t1,
                "cpu_s": cpu, "peak_rss_mib": usage()["peak_rss_mib"],
                "families": families, "las": len(sc.places),
                "children": int(sum(max(1, round(p.children * sc.scale)) for p in sc.places)),
                "weeks_simulated": weeks, "warmup_weeks": fw_built // families,
                "calendar_weeks": m.calendar.n_weeks,
                "family_weeks": fw, "family_weeks_per_s": fw / (t3 - t1), **extra})
    return out


def _engine_and_floor(m) -> tuple[dict, float, float]:
    """Each calendar week of the engine, then the floors' week with that week's counts (the
    open cases at its start, the words each stream took, the contact proposals), timed
    apart. Returns the floor's figures and the wall and CPU time spent beside the engine."""
    from benchmarks.floor import Floor
    from benchmarks.words import stream_states, words_between

    fl = Floor(m)
    before = stream_states(m)
    words, n_prop, step_s, aside_s, aside_cpu = [], [], 0.0, 0.0, 0.0
    while m.week < m.calendar.n_weeks:
        k = int(m.open.n[0])
        a = time.perf_counter()
        m.step()
        b = time.perf_counter()
        c = time.process_time()
        step_s += b - a
        after = stream_states(m)
        words.append(words_between(before, after))
        before = after
        n_prop.append(int(m.contact_proposals))
        fl.week(m.open.idx[:max(1, int(m.open.n[0]))], k, words[-1], n_prop[-1])
        aside_s += time.perf_counter() - b
        aside_cpu += time.process_time() - c
    cal_fw = model_size(m)[0] * m.calendar.n_weeks
    return ({"engine_calendar_s": step_s, "floor_s": fl.floor_s, "proposal_rows_s": fl.rows_s,
             "contact_proposals": int(sum(n_prop)),
             "engine_over_floor_with_proposals": step_s / fl.fuller_floor_s,
             "random_words": int(sum(map(sum, words))),
             "engine_calendar_fw_per_s": cal_fw / step_s,
             "floor_fw_per_s": cal_fw / fl.floor_s,
             "engine_over_floor": step_s / fl.floor_s,
             "floor_draws_s": fl.draws_s, "floor_families_touch_s": fl.families_s,
             "family_floor_s": fl.family_floor_s,
             "family_floor_fw_per_s": cal_fw / fl.family_floor_s,
             "engine_over_family_floor": step_s / fl.family_floor_s},
            aside_s, aside_cpu)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (2, 3) or argv[0] not in KINDS:
        print(f"usage: python -m benchmarks.measure {{{','.join(KINDS)}}} DESC [SEED]",
              file=sys.stderr)
        return 2
    seed = int(argv[2]) if len(argv) == 3 else 1
    print(json.dumps(measure(argv[0], json.loads(argv[1]), seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
