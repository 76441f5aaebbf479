"""The engine benchmark's machinery (``experiments/benchmarks``: the driver, the floors, the
word counts, the scenarios, the warm-process run, the cold-start loop, the report). No timed
assertions: speed is recorded by ``make bench``, never asserted."""

import json

import numpy as np
import pytest
from benchmarks import engine as bench
from benchmarks import floor as floor_module
from benchmarks.floor import Floor, floor_draws, floor_families, floor_rows
from benchmarks.measure import measure
from benchmarks.plans import ENGLAND, SMALL_LA, make_scenario
from benchmarks.stats import linear_fit
from benchmarks.words import pcg64_distance, stream_states, words_between


def test_pcg64_distance_counts_words_of_every_kind_of_draw():
    g = np.random.default_rng(7)
    s0 = g.bit_generator.state
    g.random(1000)          # 1000 words
    g.integers(0, 10, 4)    # 32-bit draws: two words for four
    g.exponential(1.0, 5)   # ziggurat: at least one word each
    d = pcg64_distance(s0, g.bit_generator.state)
    assert 1000 + 2 + 5 <= d <= 1000 + 2 + 10
    assert pcg64_distance(s0, s0) == 0
    h = np.random.default_rng(7)
    h.random(d)
    assert h.bit_generator.state["state"] == g.bit_generator.state["state"]


def test_pcg64_distance_refuses_other_streams():
    a, b = np.random.default_rng(1), np.random.default_rng(2)
    with pytest.raises(ValueError, match="two different PCG64 streams"):
        pcg64_distance(a.bit_generator.state, b.bit_generator.state)


def test_floor_draws_take_exactly_the_requested_words():
    g = np.random.default_rng(3)
    s0 = g.bit_generator.state
    floor_draws(g, 12_345)
    assert pcg64_distance(s0, g.bit_generator.state) == 12_345


def test_floor_generators_advance_by_the_engines_words_stream_by_stream():
    """Run the engine a few weeks counting its words per stream, then the floor on those
    weeks: each of the floor's own generators has advanced by exactly its stream's words
    (which differ between streams, so words taken from the wrong generator are caught)."""
    import abm
    from abm.core.model import ChildProtectionModel

    m = ChildProtectionModel(abm.small_la_scenario(children=800, years=1, warmup_weeks=2),
                             rng=4, agent_views=False)
    states, n_open = [stream_states(m)], []
    for _ in range(5):
        n_open.append(int(m.open.n[0]))
        m.step()
        states.append(stream_states(m))
    words = [words_between(a, b) for a, b in zip(states, states[1:], strict=False)]
    per_stream = [sum(w[s] for w in words) for s in range(len(m.streams))]
    assert len(set(per_stream)) > 1 and sum(per_stream) > 0
    fl = Floor(m, seed=0)
    start = [g.bit_generator.state for g in fl.gens]
    for ws, k in zip(words, n_open, strict=True):
        fl.week(m.open.idx[:max(1, int(m.open.n[0]))], k, ws, 0)
    taken = [pcg64_distance(a, g.bit_generator.state) for a, g in zip(start, fl.gens, strict=True)]
    assert taken == per_stream


def test_floor_rows_reads_the_given_rows_and_writes_back_what_it_read():
    from abm.core import state as S

    fam = S.empty_families(50)
    fam.risk[:] = np.arange(50) / 10
    fam.risk_t[:] = np.arange(50) * 2
    before = fam.risk_t.copy()
    rows = np.array([3, 7, 7, 40, 11], np.int32)
    check = floor_rows(fam, rows, 1, 3, 0)  # rows[1:4]: 7, 7, 40
    assert check == pytest.approx(sum(float(fam.risk[i]) + 2 * i for i in (7, 7, 40)))
    assert np.array_equal(fam.risk_t, before)


def test_floor_families_reads_every_row_and_post_and_writes_back_what_it_read():
    from abm.core import state as S

    fam = S.empty_families(40)
    fam.state[:] = np.arange(40) % 8
    fam.la[:] = 3
    fam.worker[:] = np.arange(40) - 5
    fam.risk[:] = np.arange(40) / 4
    fam.due[:] = 2 * np.arange(40)
    fam.risk_t[:] = np.arange(40) * 3
    work = S.empty_workers(6)
    work.status[:] = 1
    work.caseload[:] = np.arange(6)
    work.direct_hours[:] = np.arange(6) * 1.5
    before = (fam.risk_t.copy(), work.direct_hours.copy())
    expected = sum(i % 8 + 3 + (i - 5) + i / 4 + 2 * i for i in range(40)) + sum(1 + w for w in range(6))
    assert floor_families(fam, work, 0, 1.0) == pytest.approx(expected)
    assert np.array_equal(fam.risk_t, before[0]) and np.array_equal(work.direct_hours, before[1])


def test_the_floor_between_the_engines_weeks_changes_nothing_in_the_engine():
    """The bench times the floor's week right after each engine week; its writes put back
    what they read, so the engine's run is the same to the last bit."""
    import abm
    from abm.core.model import ChildProtectionModel

    def run(with_floor):
        m = ChildProtectionModel(abm.small_la_scenario(children=3000, years=0.3, warmup_weeks=2),
                                 rng=6, agent_views=False)
        fl = Floor(m) if with_floor else None
        while m.week < m.calendar.n_weeks:
            k = int(m.open.n[0])
            m.step()
            if fl is not None:
                fl.week(m.open.idx[:max(1, int(m.open.n[0]))], k, [500] * len(m.streams),
                        m.contact_proposals)
        if fl is not None:
            assert min(fl.touch_s, fl.draws_s, fl.rows_s, fl.families_s) > 0
        from abm.studies.baseline import fingerprint
        return fingerprint(m)

    assert run(True) == run(False)


@pytest.mark.parametrize("part, floors", [
    ("touch", {"floor_s", "fuller_floor_s"}),
    ("draws", {"floor_s", "fuller_floor_s", "family_floor_s"}),
    ("rows", {"fuller_floor_s"}),
    ("families", {"family_floor_s"}),
])
def test_floor_times_each_part_apart_and_counts_it_only_in_its_floors(part, floors,
                                                                       monkeypatch):
    """Slow one part of the floor down by 0.1 s a call on a fake clock (the floor's
    ``time.perf_counter``, which moves only when that part is called): its own time and the
    floors that include it are exactly those pauses, and the other parts and floors zero, so
    a part timed in the wrong span, or a floor summing the wrong parts, is caught without a
    timed assertion."""
    import abm
    from abm.core.model import ChildProtectionModel

    m = ChildProtectionModel(abm.small_la_scenario(children=500, years=0.2, warmup_weeks=2),
                             rng=3, agent_views=False)
    fl = Floor(m)
    kernel = getattr(fl, part)
    clock = [0.0]
    n_calls = [0]

    def paused(*args):
        clock[0] += 0.1
        n_calls[0] += 1
        return kernel(*args)

    monkeypatch.setattr(floor_module, "time", type("FakeTime", (), {
        "perf_counter": staticmethod(lambda: clock[0])}))
    setattr(fl, part, paused)
    weeks = 2
    for _ in range(weeks):
        fl.week(m.open.idx[:max(1, int(m.open.n[0]))], 40, [100] * len(m.streams), 50)
    calls = weeks * (len(m.streams) if part == "draws" else 1)
    assert n_calls[0] == calls
    parts = {"touch": fl.touch_s, "draws": fl.draws_s, "rows": fl.rows_s,
             "families": fl.families_s}
    assert parts.pop(part) == pytest.approx(0.1 * calls)
    assert all(t == 0 for t in parts.values()), parts
    for name in ("floor_s", "fuller_floor_s", "family_floor_s"):
        t = getattr(fl, name)
        assert t == (pytest.approx(0.1 * calls) if name in floors else 0), (name, t)


def test_linear_fit_recovers_slope_intercept_and_r2_of_exact_data():
    f = linear_fit([1, 2, 3, 4], [3, 5, 7, 9])
    assert f["intercept"] == pytest.approx(1.0) and f["slope"] == pytest.approx(2.0)
    assert f["r2"] == pytest.approx(1.0) and f["max_rel_residual"] == pytest.approx(0.0)
    with pytest.raises(ValueError):
        linear_fit([1], [2])


def test_make_scenario_keeps_the_las_scale_and_years_asked_for_and_refuses_bad_keys():
    sc = make_scenario({"path": ENGLAND, "las": 3, "scale": 0.01, "years": 1})
    assert len(sc.places) == 3 and sc.scale == 0.01
    assert (sc.end - sc.start).days == 365
    assert all(e.date < sc.end for e in sc.events)
    one = make_scenario({"path": SMALL_LA, "children": 1234})
    assert one.places[0].children == 1234
    from abm.core.errors import ConfigError
    with pytest.raises(ConfigError, match="unknown key"):
        make_scenario({"path": SMALL_LA, "chidren": 5})
    with pytest.raises(ConfigError, match="one-LA"):
        make_scenario({"path": ENGLAND, "children": 5})


@pytest.mark.slow
def test_quick_bench_records_every_case_with_consistent_counts_and_a_readme(tmp_path):
    r = bench.run(out_dir=tmp_path, quick=True, log=lambda s: None)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"{r['date']}-quick.json", "README.md"]
    data = json.loads((tmp_path / f"{r['date']}-quick.json").read_text())
    assert set(data["cases"]) == {"startup", "engine_vs_reference", "england", "floor",
                                  "scaling", "loop"}
    desc = data["cases"]["england"]["scenario"]
    sc = make_scenario(desc)
    e = data["cases"]["england"]["median"]
    # what was run is what the description says: LAs, children, warm-up, every calendar week
    assert e["las"] == len(sc.places) == desc["las"]
    assert e["children"] == sum(max(1, round(p.children * sc.scale)) for p in sc.places)
    assert e["warmup_weeks"] == desc["overrides"]["warmup_weeks"]
    assert e["weeks_simulated"] == e["warmup_weeks"] + e["calendar_weeks"]
    assert e["family_weeks"] == e["families"] * e["weeks_simulated"]
    for key in ("wall_s", "cpu_s", "peak_rss_mib", "engine_over_floor", "random_words",
                "contact_proposals", "proposal_rows_s", "family_floor_s",
                "engine_over_family_floor"):
        assert e[key] > 0
    # the proposal rows are real work: the fuller floor is slower, so the ratio smaller
    assert e["engine_over_floor_with_proposals"] < e["engine_over_floor"]
    v = data["cases"]["engine_vs_reference"]
    assert v["engine"]["median"]["family_weeks"] == v["reference"]["median"]["family_weeks"]
    for series in ("las", "years"):
        rows = data["cases"]["scaling"][series]["rows"]
        assert len(rows) == 2 and rows[0]["family_weeks"] < rows[1]["family_weeks"]
    within = data["cases"]["scaling"]["years"]["within_run"]  # time so far, year by year
    assert within["weeks"][0] == 52 and len(within["weeks"]) == len(within["calendar_s"]) >= 2
    assert within["calendar_s"] == sorted(within["calendar_s"]) and within["fit"]["slope"] > 0
    loop = data["cases"]["loop"]
    assert not loop["fresh_clone"] and set(loop["figures"]) == set(loop["goals"])
    assert all(x is not None for x in loop["figures"].values())
    first = loop["sweep"]["first"]  # the run starts after the parent's warm-up, within the sweep
    assert first["parent_warm_s"] < first["first_run_start_s"] < first["wall_s"]
    assert len(data["load_average_at_start"]) == 3 and len(data["load_average_at_end"]) == 3
    md = (tmp_path / "README.md").read_text()
    assert "that fuller floor" in md and "Within the longest runs" in md
    assert "time-stepped" in md
    for heading in ("## England at 1:1", "## Engine against the floor",
                    "## Engine against the plain-Mesa reference", "## Scaling", "## Start-up",
                    "## Cold start and the development loop"):
        assert heading in md
    assert "quick mode" in md and "nan" not in md.lower()
    # the machine's reference workload, and the England wall time in units of it
    ref = data["machine"]["reference_loop_s"]
    assert 0.01 < ref < 10 and f"{ref:.3f} s" in md
    assert f"| wall in reference workloads (wall / {ref:.3f} s) | {e['wall_s'] / ref:.0f} |" in md


def test_engine_warm_run_times_a_second_model_built_after_a_first_one_ran(monkeypatch):
    """``engine_warm`` must time a second model, built with the run's seed after a first one
    (another seed) has run to its end in the same process, and report that model's
    family-weeks: the count an independent model of the same scenario simulates."""
    import abm.core.model as model_module
    from abm.reference import family_weeks

    events = []

    class Recording(model_module.ChildProtectionModel):
        def __init__(self, scenario, rng=None, **kw):
            super().__init__(scenario, rng=rng, **kw)
            self.bench_seed = rng
            events.append(("built", rng))

        def run(self, *a, **kw):
            out = super().run(*a, **kw)
            events.append(("ran", self.bench_seed))
            return out

    monkeypatch.setattr(model_module, "ChildProtectionModel", Recording)
    desc = {"path": SMALL_LA, "children": 400, "years": 1, "overrides": {"warmup_weeks": 4}}
    r = measure("engine_warm", desc, seed=2)
    first = events[0][1]
    assert first != 2 and events == [("built", first), ("ran", first), ("built", 2), ("ran", 2)]
    m = Recording(make_scenario(desc), rng=2, agent_views=False).run()
    assert r["family_weeks"] == family_weeks(m)
    assert r["weeks_simulated"] == 4 + m.calendar.n_weeks
    assert r["family_weeks_per_s"] > 0


# ------------------------------------------------------------------ cold start and the loop
def test_loop_environment_empties_the_kernel_cache_and_keeps_pips_cache(tmp_path):
    """Each loop measurement gets an empty kernel cache (under its own cache home, nothing of
    the invoking shell's Numba folder, Python path or make) but the invoking pip cache."""
    from benchmarks.loop import clean_env

    base = {"PATH": "/bin", "NUMBA_CACHE_DIR": "/old", "PYTHONPATH": "experiments",
            "MAKEFLAGS": "-j2", "VIRTUAL_ENV": "/v", "XDG_CACHE_HOME": "/home/me/cache"}
    env = clean_env(tmp_path, base)
    assert env == {"PATH": "/bin", "XDG_CACHE_HOME": str(tmp_path),
                   "PIP_CACHE_DIR": "/home/me/cache/pip"}
    assert clean_env(tmp_path, {"PIP_CACHE_DIR": "/p"})["PIP_CACHE_DIR"] == "/p"
    from pathlib import Path
    assert clean_env(tmp_path, {})["PIP_CACHE_DIR"] == str(Path.home() / ".cache" / "pip")


def test_loop_environment_makes_abm_compile_into_the_empty_cache_home(tmp_path):
    import subprocess
    import sys

    from benchmarks.loop import clean_env

    out = subprocess.run([sys.executable, "-c", "import abm, os; print(os.environ['NUMBA_CACHE_DIR'])"],
                         env=clean_env(tmp_path / "home"), capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out.startswith(str(tmp_path / "home" / "cpabm" / "numba-"))


def test_loop_fresh_clone_holds_the_commit_clean_and_without_a_venv(tmp_path):
    import subprocess

    from benchmarks.loop import fresh_clone, source_commit

    sha, _ = source_commit()
    dest = fresh_clone(tmp_path / "clone", sha)

    def git(*args):
        return subprocess.run(["git", "-C", str(dest), *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    assert git("rev-parse", "HEAD") == sha
    assert git("status", "--porcelain", "--ignored") == ""  # nothing but the commit's files
    assert (dest / "abm" / "__init__.py").exists() and not (dest / ".venv").exists()


def test_loop_reads_each_sweep_runs_start_from_its_file_time_less_its_seconds(tmp_path):
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq
    from benchmarks.loop import run_starts

    (tmp_path / "runs").mkdir()
    t_launch = 1_000_000.0
    for key, seconds, written, pid in (("b", 2.0, 7.5, 11), ("a", 1.0, 9.0, 12)):
        table = pa.table({"value": [1.0]}).replace_schema_metadata(
            {"cpabm.run": json.dumps({"seconds": seconds, "cpu_seconds": seconds, "pid": pid})})
        pq.write_table(table, tmp_path / "runs" / f"{key}.parquet")
        os.utime(tmp_path / "runs" / f"{key}.parquet", (t_launch + written, t_launch + written))
    runs = run_starts(tmp_path, t_launch)
    assert [(r["pid"], r["start_s"]) for r in runs] == [(11, pytest.approx(5.5)),
                                                        (12, pytest.approx(8.0))]


def test_loop_figures_are_missing_and_unmet_where_a_measurement_failed():
    from benchmarks.loop import GOALS, figures

    ok = {"rc": 0, "wall_s": 100.0}
    r = {"compile": {"compile_s": 20.0}, "make_run": {"run": ok},
         "make_test": {"test": {"rc": 1, "wall_s": 50.0}},
         "sweep": {"first": {"rc": 0, "first_run_start_s": 4.0}}}
    f = figures(r)
    assert f == {"compile_s": 20.0, "make_run_s": 100.0, "make_test_s": None, "sweep_warm_s": 4.0}
    assert set(f) == set(GOALS)
    assert figures({"compile": {"error": "clone failed"}})["compile_s"] is None


def _stub_spawn(kind, desc, env=None, seed=1):
    return {"kind": kind, "import_s": 0.5, "build_and_first_week_s": 0.25, "total_s": 0.75,
            "cpu_s": 1.0, "peak_rss_mib": 100.0, "process_s": 1.0}


def test_only_one_case_updates_this_machines_latest_record_and_never_anothers(tmp_path,
                                                                              monkeypatch):
    """``--only CASE`` adds the case to the latest record of this machine and lists the
    re-run; a record of another machine is left alone and today's record holds the case
    alone (runs stubbed: no subprocess)."""
    from benchmarks.machine import machine

    monkeypatch.setattr(bench, "spawn", _stub_spawn)
    here = machine()
    base = {"quick": True, "command": "c", "repeats": 1, "load_average_at_start": [0, 0, 0],
            "load_average_at_end": [0, 0, 0], "elapsed_s": 1.0, "cases": {"x": {}}}
    other = {**base, "date": "2026-01-03", "machine": {**here, "cpu": "another CPU"}}
    (tmp_path / "2026-01-03-quick.json").write_text(json.dumps(other))
    r = bench.run(out_dir=tmp_path, quick=True, only="startup", log=lambda s: None)
    assert json.loads((tmp_path / "2026-01-03-quick.json").read_text()) == other
    today = tmp_path / f"{r['date']}-quick.json"
    assert list(json.loads(today.read_text())["cases"]) == ["startup"] and "reruns" not in r
    assert "This record holds only `startup`" in (tmp_path / "README.md").read_text()
    r2 = bench.run(out_dir=tmp_path, quick=True, only="startup", log=lambda s: None)
    assert [x["case"] for x in r2["reruns"]] == ["startup"]
    assert json.loads(today.read_text())["reruns"][0]["date"] == r["date"]
    with pytest.raises(Exception, match="repeats"):
        bench.run(out_dir=tmp_path, quick=True, only="startup", repeats=2, log=lambda s: None)


def test_a_partial_record_names_where_the_cases_it_lacks_were_last_recorded(tmp_path):
    """A record holding only some cases (``--only``) says, in the README, which earlier
    record holds each of the others, newest first; quick records do not count."""
    from benchmarks.report import _elsewhere_text, elsewhere

    def rec(date, cases, cpu="CPU A", quick=False):
        return {"date": date, "quick": quick, "machine": {"cpu": cpu},
                "cases": {c: {} for c in cases}}
    recs = {"2026-01-01": rec("2026-01-01", ["england", "scaling", "startup"], "Old"),
            "2026-01-05": rec("2026-01-05", ["england"], "Mid"),
            "2026-01-07-quick": rec("2026-01-07", ["scaling"], quick=True),
            "2026-01-09": rec("2026-01-09", ["loop"], "New")}
    for name, r in recs.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(r))
    found = elsewhere(tmp_path, recs["2026-01-09"])
    assert found == {"england": "`2026-01-05.json` (2026-01-05, Mid)",
                     "scaling": "`2026-01-01.json` (2026-01-01, Old)",
                     "startup": "`2026-01-01.json` (2026-01-01, Old)"}
    assert _elsewhere_text(found) == (
        " `england` was last recorded in `2026-01-05.json` (2026-01-05, Mid). `scaling` and "
        "`startup` were last recorded in `2026-01-01.json` (2026-01-01, Old).")


@pytest.mark.slow
def test_only_loop_adds_the_loop_case_to_the_latest_record_and_its_readme(tmp_path):
    """``--only loop`` (quick: no clone, tiny stand-in commands, a real tiny sweep) updates
    the latest record in place, lists the re-run, and the README shows the section."""
    from benchmarks.machine import machine

    rec = {"date": "2026-01-02", "quick": True, "command": "python -m benchmarks.engine run --quick",
           "machine": machine(), "repeats": 1, "load_average_at_start": [0.1, 0.1, 0.1],
           "load_average_at_end": [0.1, 0.1, 0.1], "cases": {}}
    (tmp_path / "2026-01-02-quick.json").write_text(json.dumps(rec))
    (tmp_path / "2025-12-31-quick.json").write_text(json.dumps({**rec, "date": "2025-12-31"}))
    bench.run(out_dir=tmp_path, quick=True, only="loop", log=lambda s: None)
    data = json.loads((tmp_path / "2026-01-02-quick.json").read_text())
    assert list(data["cases"]) == ["loop"] and data["reruns"][0]["case"] == "loop"
    assert "loop" not in json.loads((tmp_path / "2025-12-31-quick.json").read_text())["cases"]
    lp = data["cases"]["loop"]
    assert lp["compile"]["cold"]["cache_files"] > 0 and lp["make_test"]["test"]["summary"]
    assert lp["sweep"]["first"]["runs"] and lp["sweep"]["second"]["runs"]
    md = (tmp_path / "README.md").read_text()
    assert "## Cold start and the development loop" in md and "was run again" in md


def test_calibration_projection_uses_what_the_pilot_saw_then_the_assumed_fall():
    """The calibration bench's acceptance path: 1 for generation 0, the pilot's observed
    acceptances, then RATIO per generation down to min_acceptance; its simulation count."""
    from types import SimpleNamespace

    from benchmarks import calibration as cal

    r = cal.RATIO
    assert cal.acceptance_path(4, [], 0.0) == pytest.approx([1, 0.6, 0.6 * r, 0.6 * r * r])
    assert cal.acceptance_path(5, [0.45, 0.3], 0.0) == pytest.approx(
        [1, 0.45, 0.3, 0.3 * r, 0.3 * r * r])
    assert cal.acceptance_path(5, [0.2], 0.12) == pytest.approx([1, 0.2, 0.14, 0.12, 0.12])
    assert cal.acceptance_path(2, [0.5, 0.4, 0.3], 0.0) == [1, 0.5]
    spec = SimpleNamespace(min_generations=2, generations=3, particles=10, replicates=2,
                           min_acceptance=0.0)
    p = cal.projection(spec, cpu_per_sim=3.6, observed=[0.5, 0.25], speedup=2.0, cores=2)
    assert [x["simulations"] for x in p] == [20 * (1 + 2), 20 * (1 + 2 + 4)]
    assert p[1]["cpu_hours"] == pytest.approx(round(140 * 3.6 / 3600, 1))
