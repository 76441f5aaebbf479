"""The sweep runner: executors give bit-identical results, sweeps resume after SIGKILL,
a killed Dask worker loses nothing, folders never mix sweeps, common random numbers.

Model runs are tiny (one LA of 3,000 children, one year, 26 warm-up weeks). The Numba
kernels are warmed once per test process by the ``warmed`` fixture (~45 s the first time
ever, then loaded from the on-disk cache).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import TINY_SCENARIO

from abm.batch.runner import SweepRunError, run_sweep
from abm.batch.seeds import replication_seeds
from abm.batch.spec import load_spec
from abm.batch.store import ResultStore
from abm.batch.summary import summarise
from abm.cli import main
from abm.core.errors import ConfigError
from abm.studies import adapter as cpmodel

CPABM = Path(sys.executable).with_name("cpabm")

SCENARIO = TINY_SCENARIO

MODEL_SPEC = """\
[sweep]
name = "tiny_sweep"
replications = {reps}
seed = 99

[model]
scenario = "tiny.toml"

[factors.referrer_threshold]
values = {values}

[outputs]
indicators = ["referrals_children", "ia_completed", "stock_cp_plan_children", "vacancy_rate",
              "care_mean_duration_weeks"]
"""

ISHIGAMI = """\
[sweep]
name = "ishi"
replications = {reps}
seed = 3

[model]
adapter = "abm.batch.testfunctions:Ishigami"
noise_sd = {noise}
delay = {delay}

[fixed]
x3 = 1.0

[factors.x1]
values = [-1.0, 0.0, 1.0, 2.0]

[factors.x2]
values = [0.5, 1.5]

[outputs]
indicators = ["y"]

[summary]
reference = {{ x1 = 0.0, x2 = 0.5 }}
"""


def model_spec(folder: Path, reps=3, values="[1.7, 1.9]", name="spec.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.toml").write_text(SCENARIO)
    p = folder / name
    p.write_text(MODEL_SPEC.format(reps=reps, values=values))
    return p


def ishigami_spec(folder: Path, reps=3, noise=0.5, delay=0.0, extra="", name="ishi.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(ISHIGAMI.format(reps=reps, noise=noise, delay=delay) + extra)
    return p


def table(out: Path) -> pd.DataFrame:
    return pd.read_parquet(summarise(out, log=lambda m: None) / "runs_long.parquet")


def quiet(_msg):
    pass


@pytest.fixture(scope="module")
def warmed():
    cpmodel.warm()


# --------------------------------------------------------------------------- executors

def test_serial_processes_dask_inprocess_identical(tmp_path, warmed):
    from distributed import LocalCluster

    spec = load_spec(model_spec(tmp_path))
    run_sweep(spec, tmp_path / "serial", workers=0, progress=False, log=quiet)
    run_sweep(spec, tmp_path / "procs", workers=2, progress=False, log=quiet)
    with LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                      dashboard_address=":0") as cluster:
        res = run_sweep(spec, tmp_path / "dask", scheduler=cluster.scheduler_address,
                        progress=False, log=quiet)
    assert res.executed == 6 and "Dask" in res.executor
    ref = table(tmp_path / "serial")
    assert len(ref) == 2 * 3 * 5  # points x replications x indicators (one FY)
    assert set(ref["period"]) == {"FY2008"}
    for other in ("procs", "dask"):
        pd.testing.assert_frame_equal(ref, table(tmp_path / other), check_exact=True)
        # and every run file holds the same table under the same name
        a, b = ResultStore(tmp_path / "serial"), ResultStore(tmp_path / other)
        assert a.done_keys() == b.done_keys()
        for k in a.done_keys():
            pd.testing.assert_frame_equal(pq.read_table(a.run_path(k)).to_pandas(),
                                          pq.read_table(b.run_path(k)).to_pandas(),
                                          check_exact=True)
    # every row records its seed; replication r has the same seed at both design points
    seeds = replication_seeds(99, 3)
    assert (ref["seed"] == ref["replication"].map(dict(enumerate(seeds)))).all()
    assert ref.groupby("replication")["seed"].nunique().eq(1).all()
    assert ref.loc[ref["indicator"] == "referrals_children", "value"].gt(0).all()


@pytest.fixture(scope="module")
def process_cluster():
    """A LocalCluster of two worker processes (one thread each), shared by the slow tests."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster:
        yield cluster


@pytest.mark.slow
def test_dask_process_cluster_identical(tmp_path, warmed, process_cluster):
    """A real LocalCluster of two worker processes gives the same tables as serial."""
    spec = load_spec(model_spec(tmp_path))
    run_sweep(spec, tmp_path / "serial", workers=1, progress=False, log=quiet)
    res = run_sweep(spec, tmp_path / "dask", scheduler=process_cluster.scheduler_address,
                    progress=False, log=quiet)
    assert res.executed == 6
    pd.testing.assert_frame_equal(table(tmp_path / "serial"), table(tmp_path / "dask"),
                                  check_exact=True)


def test_dask_scheduler_from_environment_is_used_and_an_unreachable_one_refused(tmp_path, monkeypatch):
    from distributed import LocalCluster

    spec = load_spec(ishigami_spec(tmp_path))
    with LocalCluster(processes=False, n_workers=1, threads_per_worker=1,
                      dashboard_address=":0") as cluster:
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
        res = run_sweep(spec, tmp_path / "env", progress=False, log=quiet)
        assert "Dask" in res.executor
        res = run_sweep(spec, tmp_path / "local", scheduler="local", workers=0,
                        progress=False, log=quiet)
        assert res.executor.startswith("serial")
    pd.testing.assert_frame_equal(table(tmp_path / "env"), table(tmp_path / "local"),
                                  check_exact=True)
    import dask

    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:9")  # nothing listens
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ConfigError, match="cannot connect to a Dask scheduler"):
            run_sweep(spec, tmp_path / "nowhere", progress=False, log=quiet)


# --------------------------------------------------------------------------- kill and resume

def _count(runs: Path) -> int:
    try:
        return sum(1 for p in runs.iterdir() if p.suffix == ".parquet" and not p.name.startswith("."))
    except FileNotFoundError:
        return 0


def _start(spec: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([str(CPABM), "sweep", str(spec), "--out", str(out), "--no-summary",
                             "--quiet", *extra], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when(proc: subprocess.Popen, runs: Path, n: int, timeout: float = 120) -> int:
    """SIGKILL the sweep's whole process group (parent, forkserver, workers) as soon as at
    least n run files exist; return how many exist after the kill."""
    t0 = time.monotonic()
    while _count(runs) < n and proc.poll() is None and time.monotonic() - t0 < timeout:
        time.sleep(0.002)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return _count(runs)


@pytest.mark.slow
def test_kill_and_resume_matches_uninterrupted(tmp_path, warmed):
    spec_path = model_spec(tmp_path, reps=10, values="[1.7, 1.8, 1.9]")  # 30 runs
    spec = load_spec(spec_path)
    run_sweep(spec, tmp_path / "uninterrupted", workers=0, progress=False, log=quiet)
    expected = table(tmp_path / "uninterrupted")

    out = tmp_path / "killed"
    runs = out / "runs"
    # 1. serial sweep, killed after a few runs
    p = _start(spec_path, out, "--workers", "1")
    n1 = _kill_when(p, runs, 4)
    assert p.returncode == -signal.SIGKILL, p.stderr.read().decode()
    assert 0 < n1 < 30, "the first sweep should be killed mid-way"
    # a writer killed mid-write leaves a temporary file: it must never count as a result
    (runs / ".0123456789abcdef.parquet.xyz.tmp").write_bytes(b"PAR1 half a file")
    # 2. resumed on two processes, killed again
    p = _start(spec_path, out, "--resume", "--workers", "2")
    n2 = _kill_when(p, runs, n1 + 4)
    assert n2 >= n1
    # 3. resumed to the end
    p = subprocess.run([str(CPABM), "sweep", str(spec_path), "--out", str(out), "--resume",
                        "--workers", "2", "--quiet"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    got = table(out)
    pd.testing.assert_frame_equal(expected, got, check_exact=True)  # identical, same order
    assert not got.duplicated(["point", "replication", "indicator", "period"]).any()
    store = ResultStore(out)
    manifest_keys = {r["key"] for r in store.manifest()["runs"]}
    assert store.done_keys() == manifest_keys and len(manifest_keys) == 30
    assert not [q.name for q in runs.iterdir() if q.name.endswith(".tmp")]
    # without --resume the finished folder is refused, not rerun
    p = subprocess.run([str(CPABM), "sweep", str(spec_path), "--out", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "already holds all 30 runs" in p.stderr


@pytest.mark.slow
def test_dask_worker_killed_mid_sweep_loses_no_run(tmp_path, process_cluster):
    """Kill one of two Dask worker processes mid-sweep: its runs are rescheduled, none lost."""
    from distributed import Client

    spec = load_spec(ishigami_spec(tmp_path, reps=10, delay=0.08))  # 80 runs, ~3 s on 2
    # the reference runs without the delay (a timing-only setting: same run identity)
    fast = load_spec(ishigami_spec(tmp_path, reps=10, delay=0.0, name="fast.toml"))
    assert fast.identity_hash() == spec.identity_hash()
    run_sweep(fast, tmp_path / "serial", workers=0, progress=False, log=quiet)
    runs = tmp_path / "dask" / "runs"
    killed = {}
    with Client(process_cluster) as c:
        pids = sorted(c.run(os.getpid).values())
    assert len(pids) == 2

    def killer():
        t0 = time.monotonic()
        while _count(runs) < 15 and time.monotonic() - t0 < 60:
            time.sleep(0.005)
        os.kill(pids[0], signal.SIGKILL)
        killed["at"] = _count(runs)

    th = threading.Thread(target=killer)
    th.start()
    res = run_sweep(spec, tmp_path / "dask", scheduler=process_cluster.scheduler_address,
                    progress=False, log=quiet)
    th.join()
    assert 15 <= killed["at"] < 80, killed
    assert res.executed == 80
    pd.testing.assert_frame_equal(table(tmp_path / "serial"), table(tmp_path / "dask"),
                                  check_exact=True)


# --------------------------------------------------------------------------- folder rules

def test_results_folder_refuses_other_sweeps_and_resumes_or_extends_its_own(tmp_path):
    spec_path = ishigami_spec(tmp_path)
    out = tmp_path / "out"
    spec = load_spec(spec_path)
    run_sweep(spec, out, workers=0, progress=False, log=quiet)
    store = ResultStore(out)
    assert len(store.done_keys()) == 8 * 3
    # same spec, finished: nothing to do
    with pytest.raises(ConfigError, match="already holds all 24 runs of this spec"):
        run_sweep(spec, out, workers=0, progress=False, log=quiet)
    # same spec, unfinished: needs --resume
    victim = sorted(store.done_keys())[0]
    store.run_path(victim).unlink()
    with pytest.raises(ConfigError, match="already holds 23 of 24 runs of this spec; add --resume"):
        run_sweep(spec, out, workers=0, progress=False, log=quiet)
    res = run_sweep(spec, out, workers=0, resume=True, progress=False, log=quiet)
    assert res.executed == 1 and victim in store.done_keys()
    # a different sweep (other model settings): refused, with or without --resume
    other = load_spec(ishigami_spec(tmp_path, noise=0.7, name="other.toml"))
    for resume in (False, True):
        with pytest.raises(ConfigError, match=r"holds results of a different sweep \(differs in: "
                                              r"identity.model.noise_sd"):
            run_sweep(other, out, workers=0, resume=resume, progress=False, log=quiet)
    # more replications: refused without --resume; with it, only the new runs execute and
    # the first three replications keep their files (their seeds do not change)
    before = {k: store.run_path(k).read_bytes() for k in store.done_keys()}
    more = load_spec(ishigami_spec(tmp_path, reps=5, name="more.toml"))
    with pytest.raises(ConfigError, match="add --resume to switch the folder to this spec"):
        run_sweep(more, out, workers=0, progress=False, log=quiet)
    res = run_sweep(more, out, workers=0, resume=True, progress=False, log=quiet)
    assert res.executed == 8 * 2 and res.done_before == 24
    assert all(store.run_path(k).read_bytes() == v for k, v in before.items())
    assert store.manifest()["replications"] == 5
    ext = table(out)
    run_sweep(more, tmp_path / "fresh", workers=0, progress=False, log=quiet)
    pd.testing.assert_frame_equal(ext, table(tmp_path / "fresh"), check_exact=True)
    # a folder holding anything else is refused
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="is not empty .*notes.txt.* holds no cpabm sweep manifest"):
        run_sweep(spec, junk, workers=0, progress=False, log=quiet)
    # a second sweep writing into the same folder at the same time is refused
    with ResultStore(out).locked():
        with pytest.raises(ConfigError, match="another sweep .* is writing into this folder"):
            run_sweep(more, out, workers=0, resume=True, progress=False, log=quiet)


def test_replace_runs_a_changed_sweep_afresh_and_removes_only_a_sweeps_own_entries(tmp_path,
                                                                                   capsys):
    spec_path = ishigami_spec(tmp_path)
    out = tmp_path / "out"
    argv = ["sweep", str(spec_path), "--out", str(out), "--workers", "0", "--quiet"]
    assert main(argv) == 0
    first = table(out)
    # a changed model: refused into the same folder, run afresh with --replace
    changed = ishigami_spec(tmp_path, noise=0.7, name="changed.toml")
    assert main(["sweep", str(changed), *argv[2:]]) == 2
    assert "holds results of a different sweep" in capsys.readouterr().err
    assert main(["sweep", str(changed), *argv[2:], "--replace", "--resume"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["sweep", str(changed), *argv[2:], "--replace"]) == 0
    assert ResultStore(out).manifest()["spec"]["identity"]["model"]["noise_sd"] == 0.7
    again = table(out)
    assert len(again) == len(first) and not again.equals(first)
    pd.testing.assert_frame_equal(again, table_of(changed, tmp_path / "fresh"), check_exact=True)
    # a file the sweep did not write, at the top or among the runs: nothing is removed
    for where in (out / "notes.txt", out / "runs" / "mine.csv"):
        where.write_text("mine")
        before = sorted(p.relative_to(out) for p in out.rglob("*"))
        assert main([*argv, "--replace"]) == 2
        err = capsys.readouterr().err
        assert "holds entries that no sweep wrote" in err and where.name in err
        assert "nothing was removed" in err
        assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
        where.unlink()
    # a folder that is not a sweep's at all
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("mine")
    assert main(["sweep", str(spec_path), "--out", str(mine), "--replace", "--quiet"]) == 2
    assert "thesis.tex" in capsys.readouterr().err
    assert (mine / "thesis.tex").read_text() == "mine"


def table_of(spec_path: Path, out: Path) -> pd.DataFrame:
    run_sweep(load_spec(spec_path), out, workers=0, progress=False, log=quiet)
    return table(out)


def test_failed_run_is_reported_and_resumable(tmp_path, capsys):
    spec_path = ishigami_spec(tmp_path, extra="")
    text = spec_path.read_text().replace("delay = 0.0", "delay = 0.0\nfail_above = 1.5")
    spec_path.write_text(text)
    out = tmp_path / "out"
    with pytest.raises(SweepRunError) as e:
        run_sweep(load_spec(spec_path), out, workers=0, progress=False, log=quiet)
    msg = str(e.value)
    assert "design point 6 {'x1': 2.0, 'x2': 0.5}" in msg and "replication 0" in msg
    assert f"seed {replication_seeds(3, 3)[0]}" in msg
    assert "ValueError: test function asked to fail" in msg and "--resume" in msg
    assert 0 < len(ResultStore(out).done_keys()) < 24  # finished runs are kept
    # the CLI reports it with exit status 1
    spec_path.write_text(text.replace('name = "ishi"', 'name = "ishi2"'))
    assert main(["sweep", str(spec_path), "--out", str(tmp_path / "cli"), "--workers", "2",
                 "--quiet"]) == 1
    assert "test function asked to fail" in capsys.readouterr().err


# --------------------------------------------------------------------------- summaries, CRN

def test_summary_tables_match_the_runs_and_paired_differences_cancel_the_noise(tmp_path):
    """Ishigami with noise drawn from the run's seed: every design point of replication r
    sees the same noise, so paired differences are exact while unpaired ones are not."""
    out = tmp_path / "out"
    run_sweep(load_spec(ishigami_spec(tmp_path, reps=6, noise=0.5)), out, workers=0,
              progress=False, log=quiet)
    assert main(["sweep", "--summarise", str(out), "--quiet"]) == 0
    s = out / "summary"
    for f in ("runs_long.parquet", "runs_long.csv", "bands.csv", "bands.parquet",
              "metrics_runs.csv", "metrics_bands.csv", "paired_differences.csv",
              "paired_differences.parquet", "summary.md"):
        assert (s / f).is_file(), f
    long = pd.read_parquet(s / "runs_long.parquet")
    assert list(long.columns) == ["run", "point", "replication", "seed", "x1", "x2",
                                  "indicator", "period", "value", "unit"]
    assert len(long) == 8 * 6
    b = pd.read_csv(s / "bands.csv")
    for p, g in long.groupby("point"):
        row = b[b["point"] == p].iloc[0]
        assert row["median"] == pytest.approx(np.median(g["value"]))
        assert row["q10"] == pytest.approx(np.quantile(g["value"], 0.1))
        assert row["q90"] == pytest.approx(np.quantile(g["value"], 0.9))
        assert row["n"] == 6
    d = pd.read_csv(s / "paired_differences.csv")
    d = d[d["kind"] == "metric"].set_index("point")
    ref = 2  # x1 = 0.0, x2 = 0.5 (x1 varies slowest)
    assert ref not in d.index and len(d) == 7

    def f(x1, x2):  # Ishigami at x3 = 1
        return np.sin(x1) + 7 * np.sin(x2) ** 2 + 0.1 * np.sin(x1)

    for p, row in d.iterrows():
        pt = load_spec(tmp_path / "ishi.toml").design.points[p]
        assert row["diff_mean"] == pytest.approx(f(pt["x1"], pt["x2"]) - f(0.0, 0.5))
        assert row["sd_diff"] == pytest.approx(0, abs=1e-9)  # the noise cancels exactly
        assert row["se_unpaired"] > 0.1
        assert row["variance_ratio"] == pytest.approx(0, abs=1e-9)
    md = (s / "summary.md").read_text()
    assert "## Paired differences vs point 2" in md and "| point | x1 | x2 | y |" in md


def test_paired_model_differences_are_less_noisy_and_zero_where_nothing_changes(tmp_path, warmed):
    """Replication r of both design points shares its seed, and pairing by seed makes the
    differences less noisy than unpaired comparisons (median variance ratio below 1)."""
    out = tmp_path / "out"
    spec = load_spec(model_spec(tmp_path, reps=10, values="[1.9, 1.8]"))
    run_sweep(spec, out, workers=0, progress=False, log=quiet)
    long = table(out)
    seeds = long.pivot_table(index="replication", columns="point", values="seed", aggfunc="first")
    assert (seeds[0] == seeds[1]).all() and seeds[0].nunique() == 10
    d = pd.read_csv(out / "summary" / "paired_differences.csv")
    d = d[(d["kind"] == "metric") & d["variance_ratio"].notna()]
    assert len(d) >= 3
    assert d["variance_ratio"].median() < 1.0, d[["name", "variance_ratio"]]
    # a parameter that only prices the workforce changes nothing else: the paired
    # differences of everything else are exactly zero, the unpaired ones are not
    text = MODEL_SPEC.format(reps=4, values="[900.0, 1100.0]").replace(
        "referrer_threshold", "worker_weekly_cost").replace(
        '"care_mean_duration_weeks"', '"workforce_cost_gbp"')
    (tmp_path / "cost.toml").write_text(text)
    run_sweep(load_spec(tmp_path / "cost.toml"), tmp_path / "cost", workers=0, progress=False,
              log=quiet)
    table(tmp_path / "cost")
    d = pd.read_csv(tmp_path / "cost" / "summary" / "paired_differences.csv")
    d = d[d["kind"] == "metric"].set_index("name")
    assert d.loc["referrals_children", "sd_diff"] == 0 and d.loc["referrals_children", "diff_mean"] == 0
    assert d.loc["referrals_children", "se_unpaired"] > 0
    assert d.loc["workforce_cost_gbp", "relative_diff"] == pytest.approx(200 / 900, rel=1e-9)


def test_adapter_outputs_are_the_summary_columns_at_every_period(warmed):
    """The adapter offers (without running the model) exactly the outputs a run's summary has,
    at every period, each with its unit."""
    from abm.outputs.tables import summary

    model = cpmodel._tiny_run()
    for period in ("fy", "quarter", "month"):
        assert set(cpmodel.outputs()) == set(summary(model, period).columns), period
    assert all(cpmodel.outputs().values())


def test_a_resume_under_a_spec_with_its_factors_reordered_still_summarises(tmp_path):
    """The runs written under one order of the factors and those added under another hold
    the same columns in another order: the folder summarises, with every run."""
    quiet = lambda m: None  # noqa: E731
    first = ishigami_spec(tmp_path, reps=2)
    run_sweep(load_spec(first), tmp_path / "out", workers=0, progress=False, log=quiet)
    text = first.read_text()
    x1 = "[factors.x1]\nvalues = [-1.0, 0.0, 1.0, 2.0]\n\n"
    x2 = "[factors.x2]\nvalues = [0.5, 1.5]\n\n"
    swapped = text.replace(x1 + x2, x2 + x1).replace("replications = 2", "replications = 3")
    assert swapped != text
    second = tmp_path / "swapped.toml"
    second.write_text(swapped)
    res = run_sweep(load_spec(second), tmp_path / "out", workers=0, resume=True,
                    progress=False, log=quiet)
    assert res.executed == 8  # the third replication of each point: the rest reused
    t = table(tmp_path / "out")
    assert t["replication"].nunique() == 3 and len(t.drop_duplicates(["run"])) == 24


def _cyclic_run(point, seed, context):
    """A run whose objects end as a reference cycle holding 40 MB, in a worker whose
    automatic collections are off (as a worker with many long-lived objects rarely runs a
    full one)."""
    import gc

    import numpy as np
    gc.disable()
    a = {"data": np.ones(5_000_000)}
    a["self"] = a
    return [("x", "FY2008", 1.0)]


def _worker_state(point, seed, context):
    import gc
    import os
    rss = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return [("rss_mb", "now", rss / 2**20), ("frozen", "now", float(gc.get_freeze_count()))]


def test_a_worker_frees_each_runs_objects_before_the_next():
    """Runs whose objects are reference cycles do not pile up in a pool worker: each run's
    are collected when it returns (12 runs of 40 MB leave the worker within 60 MB of where
    one left it), and after the first run the worker's long-lived objects are frozen out of
    later collections. The main process is left alone."""
    import gc

    from abm.batch.executors import Plan, open_executor, release_run_garbage
    from abm.batch.runner import execute

    def state(ex):
        rows, _ = ex.submit(execute, _worker_state, {}, 0, {}).result()
        return dict(zip(rows["indicator"], rows["value"], strict=True))

    with open_executor(Plan("processes", 1)) as (ex, _):
        fresh = state(ex)  # measured before this worker's first run ended
        ex.submit(execute, _cyclic_run, {}, 0, {}).result()
        first = state(ex)
        for seed in range(12):
            ex.submit(execute, _cyclic_run, {}, seed, {}).result()
        later = state(ex)
    assert first["frozen"] > fresh["frozen"] + 1000  # the modules, frozen after a run
    assert later["rss_mb"] < first["rss_mb"] + 60, (first, later)
    frozen = gc.get_freeze_count()
    release_run_garbage()  # in the main process: nothing
    assert gc.get_freeze_count() == frozen
