"""kill -9 at random moments (docs/reliability.md): a killed ``cpabm run`` leaves the
previous result whole and its staging folder is cleaned at the next run; killing only the
parent of a sweep or a calibration leaves no worker behind; every resume ends bit for bit
equal to an uninterrupted run, with no run lost or duplicated.

The kill moments are random (a seeded generator; the seed is in the assertion messages).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import TINY_SCENARIO

from abm.cli import main
from abm.core import io

pytestmark = pytest.mark.slow
CPABM = Path(sys.executable).with_name("cpabm")
SEED = int(os.environ.get("CPABM_KILL_SEED", "19"))

ISHI = """\
[sweep]
name = "ishi"
replications = 3
seed = 3

[model]
adapter = "abm.batch.testfunctions:Ishigami"
delay = {delay}

[fixed]
x3 = 1.0

[factors.x1]
values = [-1.0, 0.0, 1.0, 2.0]

[factors.x2]
values = [0.5, 1.5]

[outputs]
indicators = ["y"]
"""

CALIBRATION = """\
[calibration]
name = "small"
particles = 30
generations = 4
replicates = 2
seed = 5
batch_size = 7

[model]
adapter = "abm.batch.testfunctions:Gaussian"
delay = {delay}

[priors.mu]
low = -5.0
high = 5.0

[targets.y]
value = 1.0
lo = 0.0
hi = 2.0
"""


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(p.name))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def running(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":  # a zombie has ended; it only waits to be reaped
            alive.add(pid)
    return alive


def kill_parent_only(proc: subprocess.Popen, ready, what: str, timeout: float = 120) -> None:
    """SIGKILL only the parent once ``ready()``; then every worker must end by itself."""
    t0 = time.monotonic()
    while not ready() and proc.poll() is None and time.monotonic() - t0 < timeout:
        time.sleep(0.05)
    assert proc.poll() is None, f"the {what} finished before it could be killed"
    workers = descendants(proc.pid)
    assert workers, f"the {what} has no worker processes"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    t0 = time.monotonic()
    while running(workers) and time.monotonic() - t0 < 15:
        time.sleep(0.1)
    assert not running(workers), f"workers of the killed {what} still running: {workers}"


def run_tables(out: Path) -> dict[str, pd.DataFrame]:
    return {p.name: pq.read_table(p).replace_schema_metadata(None).to_pandas()
            for p in sorted((out / "runs").glob("*.parquet"))}


def kill_sweep_and_resume(tmp_path: Path, seed: int, scheduler: list[str], what: str,
                          env: dict | None = None) -> None:
    """Run a sweep with ``scheduler`` arguments, kill -9 only its parent after a seeded number
    of runs (no process may be left), resume it serially, and compare it bit for bit with an
    uninterrupted serial sweep."""
    fast, slow = tmp_path / "fast.toml", tmp_path / "slow.toml"
    fast.write_text(ISHI.format(delay=0))
    slow.write_text(ISHI.format(delay=0.3))
    assert main(["sweep", str(fast), "--out", str(tmp_path / "ref"), "--workers", "0",
                 "--quiet", "--no-summary"]) == 0
    out = tmp_path / "killed"
    n = random.Random(seed).randint(2, 12)
    proc = subprocess.Popen([str(CPABM), "sweep", str(slow), "--out", str(out), *scheduler,
                             "--quiet", "--no-summary"], stderr=subprocess.DEVNULL, env=env)
    kill_parent_only(proc, lambda: len(list((out / "runs").glob("*.parquet"))) >= n
                     if (out / "runs").exists() else False, what)
    on_disk = len(list((out / "runs").glob("*.parquet")))
    assert 0 < on_disk < 24, f"seed {seed}: killed after {on_disk} runs"
    assert main(["sweep", str(slow), "--out", str(out), "--resume", "--workers", "0",
                 "--quiet", "--no-summary"]) == 0
    ref, got = run_tables(tmp_path / "ref"), run_tables(out)
    assert ref.keys() == got.keys(), f"seed {seed}: runs lost or duplicated"
    for k in ref:
        pd.testing.assert_frame_equal(ref[k], got[k], check_exact=True)


def test_killing_a_sweeps_parent_leaves_no_worker_and_resume_is_bit_identical(tmp_path):
    kill_sweep_and_resume(tmp_path, SEED, ["--workers", "2"], "sweep")


def test_killing_a_dask_local_sweeps_parent_leaves_no_process_and_resume_is_bit_identical(
        tmp_path):
    """``--scheduler dask-local:2``: the cluster's workers (and everything they started)
    end with the killed cpabm; the resume equals an uninterrupted serial sweep."""
    env = {k: v for k, v in os.environ.items() if k != "DASK_SCHEDULER_ADDRESS"}
    kill_sweep_and_resume(tmp_path, SEED + 1, ["--scheduler", "dask-local:2"],
                          "dask-local sweep", env=env)


def test_killing_a_calibrations_parent_leaves_no_worker_and_resume_is_identical(tmp_path):
    from abm.batch.abc import calibrate, load_calibration_spec

    fast, slow = tmp_path / "fast.toml", tmp_path / "slow.toml"
    fast.write_text(CALIBRATION.format(delay=0))
    slow.write_text(CALIBRATION.format(delay=0.004))
    calibrate(load_calibration_spec(fast), tmp_path / "ref", workers=1, progress=False,
              log=lambda m: None)
    out = tmp_path / "killed"
    n = random.Random(SEED).randint(50, 150)

    def sims() -> int:
        return sum(len(json.loads(p.read_text())) for p in (out / "sims").glob("[!.]*.json")) \
            if (out / "sims").exists() else 0

    proc = subprocess.Popen([sys.executable, "-m", "abm.cli.calibrate", str(slow), "--out",
                             str(out), "--quiet", "--workers", "2"], stderr=subprocess.DEVNULL)
    kill_parent_only(proc, lambda: sims() >= n, "calibration")
    p = subprocess.run([sys.executable, "-m", "abm.cli.calibrate", str(slow), "--out", str(out),
                        "--resume", "--workers", "1", "--quiet"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    ref_files = sorted(p.relative_to(tmp_path / "ref") for p in (tmp_path / "ref").glob(
        "**/*.parquet"))
    assert ref_files == sorted(p.relative_to(out) for p in out.glob("**/*.parquet"))
    for name in ref_files:  # the posterior and every generation, bit for bit
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "ref" / name),
                                      pd.read_parquet(out / name), check_exact=True)


def staged(tmp_path: Path) -> list[Path]:
    return list(tmp_path.glob(".out.cpabm-*.tmp"))


def _whole(folder: Path) -> bool:
    """Every file the folder's marker records is there with its SHA-256, and no other."""
    marker = io.read_marker(folder)
    if marker is None:
        return False
    files = dict(marker["files"])
    on_disk = {p.name for p in folder.iterdir() if p.name != ".cpabm-output.json"}
    return on_disk == set(files) and all(
        io.sha256_file(folder / name) == sha for name, sha in files.items())


def test_kill_minus_9_of_run_at_a_random_moment_loses_nothing(tmp_path):
    """A previous result survives whole; the staging folder left behind is removed by the
    next run, whose result equals an uninterrupted one. The kill moments are random
    fractions of the time an uninterrupted ``cpabm run`` spends with its staging folder (so
    they land while it runs, however fast or loaded the machine), and at least one attempt
    must really have been killed."""
    scenario = tmp_path / "tiny.toml"
    scenario.write_text(TINY_SCENARIO)
    ref, out = tmp_path / "ref", tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(ref), "--quiet", "--no-per-la"]) == 0
    # the previous result, written by the real script, timed from its staging folder to exit
    proc = subprocess.Popen([str(CPABM), "run", str(scenario), "--out", str(out), "--quiet",
                             "--no-per-la", "--seed", "2"], stderr=subprocess.PIPE)
    t0 = time.monotonic()
    while not staged(tmp_path) and proc.poll() is None and time.monotonic() - t0 < 120:
        time.sleep(0.01)
    t_staged = time.monotonic()
    _, err = proc.communicate()
    assert proc.returncode == 0, err.decode()
    window = time.monotonic() - t_staged
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    rng = random.Random(SEED)
    killed = 0
    for attempt in range(4):
        stale = set(staged(tmp_path))  # left by the attempt killed before
        proc = subprocess.Popen([str(CPABM), "run", str(scenario), "--out", str(out), "--quiet",
                                 "--no-per-la", "--overwrite"], stderr=subprocess.PIPE)
        t0 = time.monotonic()
        while (not set(staged(tmp_path)) - stale and proc.poll() is None
               and time.monotonic() - t0 < 120):  # its own staging folder, not one left
            time.sleep(0.01)
        delay = rng.uniform(0.05, 0.6) * window
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
        assert proc.returncode in (0, -signal.SIGKILL), (proc.returncode, err.decode())
        # whatever the moment, the folder holds one result whole: the previous one, or (it
        # finished, or was killed after its result was swapped in) the new one
        assert _whole(out), f"seed {SEED}, attempt {attempt}: the result in place is not whole"
        now = {p.name: p.read_bytes() for p in out.iterdir()}
        if proc.returncode == 0 or now != before:
            assert (out / "summary_fy.csv").read_bytes() == (ref / "summary_fy.csv").read_bytes()
            before = now
            continue
        killed += 1  # killed while it ran: the previous result untouched, its staging left
        assert set(staged(tmp_path)) - stale, \
            f"seed {SEED}, attempt {attempt}: killed with nothing staged"
        break
    assert killed, (f"seed {SEED}: no attempt was killed (kill {delay:.2f} s into a window of "
                    f"{window:.2f} s)")
    assert main(["run", str(scenario), "--out", str(out), "--quiet", "--no-per-la",
                 "--overwrite"]) == 0
    assert not list(tmp_path.glob(".out.cpabm-*")), "a stale staging folder was left"
    for name in ("summary_fy.csv", "decisions_by_fy.csv"):
        assert (ref / name).read_bytes() == (out / name).read_bytes()
    pd.testing.assert_frame_equal(pd.read_parquet(ref / "national_weekly.parquet"),
                                  pd.read_parquet(out / "national_weekly.parquet"),
                                  check_exact=True)
    assert io.read_marker(out)["kind"] == "run"
