"""Cold start and the development loop: what a developer waits for on a fresh checkout.

Four measurements, each on its own fresh ``git clone`` of the current commit (HEAD) in a
temporary folder, with its own empty kernel cache:

(a) ``compile``: the kernels compiled from an empty cache. In the clone, after ``make venv``,
    one process imports ``abm`` and calls ``abm.studies.adapter.warm()`` (one tiny run, which
    compiles or loads every kernel) with a kernel cache that is empty at that moment; the
    figure is the seconds ``warm()`` took. The same process again, now that the cache is
    filled, gives the load time beside it.
(b) ``make_run``: ``make run`` in the clone, timed from the command to its end: the
    ``.venv`` build from the local pip cache, the kernels compiled, the two England runs and
    their comparison.
(c) ``make_test``: ``make test`` in the clone after ``make venv`` (timed apart and recorded
    beside it), kernels compiled by the suite as it goes.
(d) ``sweep_warm``: the first run of a sweep. In the clone, after ``make venv``, a tiny sweep
    spec (one LA of 3,000 children, one year; two runs on two worker processes) is run with
    ``cpabm sweep``; the figure is the seconds from launching the command to the start of
    its first model run: imports, the parent's warm-up of the kernels (compiled here, as the
    cache was empty before ``make venv``; loaded, if the set-up ever fills it), the pool's
    start and the worker's own load of the kernels. A run's start is its result file's time
    less the run's own seconds (both recorded by the sweep). A second sweep in the same
    clone, with the cache the first one filled, is recorded beside it.

The kernel cache is emptied by pointing ``XDG_CACHE_HOME`` at an empty temporary folder and
unsetting ``NUMBA_CACHE_DIR``: the project keys its Numba cache folder under
``XDG_CACHE_HOME`` (``abm/__init__.py``). pip keeps the invoking user's cache
(``PIP_CACHE_DIR``, or pip's default under the invoking ``XDG_CACHE_HOME`` or ``~/.cache``), so
``.venv`` is built from the local pip cache as a developer's would be. Uncommitted changes
are not in the clone; the record says whether there were any.

``quick`` runs the same machinery without cloning or running the suite: the checkout is this
one, the set-up, ``make run`` and ``make test`` are tiny stand-in commands, and the compile and
the sweeps (one run, serial) use this checkout's kernel cache as it is. It is a check of the
machinery, never a record.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.plans import PROJECT_ROOT

#: The goals each figure is judged against (seconds).
GOALS = {"compile_s": 15.0, "make_run_s": 120.0, "make_test_s": 360.0, "sweep_warm_s": 5.0}

#: What each goal figure measures, for the report.
LABELS = {"compile_s": "(a) kernels compiled from an empty cache",
          "make_run_s": "(b) `make run`, `.venv` build included",
          "make_test_s": "(c) `make test` (after `make venv`)",
          "sweep_warm_s": "(d) a sweep's first model run starts after"}

#: Variables that would let the invoking shell leak into a clone's measurement.
DROP_ENV = ("NUMBA_CACHE_DIR", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "MAKEFLAGS",
            "MFLAGS", "MAKELEVEL", "PYTEST_ADDOPTS")

COMPILE = """
import json, os, time
t0 = time.perf_counter()
import abm
from abm.studies.adapter import warm
t1 = time.perf_counter()
warm()
t2 = time.perf_counter()
folder = os.environ["NUMBA_CACHE_DIR"]
files = sum(len(f) for _, _, f in os.walk(folder))
print(json.dumps({"import_s": t1 - t0, "warm_s": t2 - t1, "cache_dir": folder,
                  "cache_files": files}))
"""

TINY_SCENARIO = """\
[scenario]
name = "loop_tiny"
start = 2008-04-07
end = 2009-03-31
regime = "prescriptive"
places = { children = 3000 }

[parameters]
warmup_weeks = 26
"""

SWEEP_SPEC = """\
[sweep]
name = "loop_warm"
replications = {runs}
seed = 1

[model]
scenario = "tiny.toml"

[outputs]
indicators = ["referrals"]
"""

WARMED = re.compile(r"warmed the model's caches in ([\d.]+) s")
PYTEST_SUMMARY = re.compile(r"\d+ (passed|failed|error)")


def clean_env(cache_home: Path, base: dict | None = None) -> dict:
    """The environment of one measurement: ``base`` (default: this process's) with an empty
    kernel cache under ``cache_home``, pip's cache kept where ``base`` has it, and nothing of
    the invoking virtual environment, Python path or make."""
    base = dict(os.environ if base is None else base)
    pip_cache = base.get("PIP_CACHE_DIR") or str(
        Path(base.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pip")
    env = {k: v for k, v in base.items() if k not in DROP_ENV}
    env["XDG_CACHE_HOME"] = str(cache_home)
    env["PIP_CACHE_DIR"] = pip_cache
    return env


def source_commit(root: Path = PROJECT_ROOT) -> tuple[str, bool]:
    """HEAD of the checkout at ``root``, and whether tracked files differ from it."""
    sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                         text=True, check=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                            "--untracked-files=no"], capture_output=True, text=True,
                           check=True).stdout.strip() != ""
    return sha, dirty


def fresh_clone(dest: Path, commit: str, source: Path = PROJECT_ROOT) -> Path:
    """A fresh clone of ``source`` at ``commit`` (detached) in ``dest``."""
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(source), str(dest)],
                   check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "--quiet", "--detach", commit],
                   check=True)
    return dest


def timed(cmd: list[str], cwd: Path, env: dict, log_path: Path, timeout: float) -> dict:
    """Run ``cmd`` with its output in ``log_path``: wall seconds, exit status (None after a
    timeout) and the last lines of its output."""
    t0 = time.perf_counter()
    with open(log_path, "w") as f:
        try:
            rc = subprocess.run(cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = None
    wall = time.perf_counter() - t0
    lines = log_path.read_text(errors="replace").strip().splitlines()
    return {"cmd": " ".join(cmd), "wall_s": wall, "rc": rc, "tail": lines[-5:]}


def run_json(cmd: list[str], cwd: Path, env: dict, timeout: float = 1800) -> dict:
    """Run ``cmd``, which prints one JSON object as its last line; that object plus the
    process's wall seconds."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} ... failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return {**json.loads(p.stdout.strip().splitlines()[-1]), "process_s": wall}


def run_starts(out: Path, t_launch: float) -> list[dict]:
    """Each run of the sweep in ``out``: when it started (seconds after ``t_launch``, an
    epoch time), its own seconds and its process. A run's start is its result file's time
    less the run's seconds, both written by the sweep."""
    import pyarrow.parquet as pq

    runs = []
    for f in sorted((out / "runs").glob("*.parquet")):
        meta = json.loads(pq.read_schema(f).metadata[b"cpabm.run"])
        runs.append({"start_s": f.stat().st_mtime - meta["seconds"] - t_launch,
                     "seconds": meta["seconds"], "pid": meta["pid"]})
    return sorted(runs, key=lambda r: r["start_s"])


def time_sweep(cpabm: list[str], spec: Path, out: Path, cwd: Path, env: dict, workers: int,
               timeout: float = 1800) -> dict:
    """One ``cpabm sweep``: its wall seconds, when its first run started, and the parent's
    warm-up of the kernels as the sweep reports it."""
    cmd = [*cpabm, "sweep", str(spec), "--out", str(out), "--workers", str(workers),
           "--no-summary"]
    t_launch, t0 = time.time(), time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=timeout)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        return {"cmd": " ".join(cmd), "rc": p.returncode, "wall_s": wall,
                "tail": p.stderr.strip().splitlines()[-5:]}
    runs = run_starts(out, t_launch)
    if not runs:
        raise RuntimeError(f"sweep {spec} wrote no runs into {out}")
    warmed = WARMED.search(p.stderr)
    return {"cmd": " ".join(cmd), "rc": 0, "wall_s": wall, "workers": workers,
            "first_run_start_s": runs[0]["start_s"],
            "parent_warm_s": float(warmed.group(1)) if warmed else None, "runs": runs}


class _Checkout:
    """Where one measurement runs: a fresh clone with its own empty cache home (full), or
    this checkout with this process's caches (quick)."""

    def __init__(self, tmp: Path, quick: bool, commit: str):
        self.quick = quick
        self.tmp = tmp
        if quick:
            self.root = PROJECT_ROOT
            self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
            self.python = [sys.executable]
            self.cpabm = [str(Path(sys.executable).parent / "cpabm")]
        else:
            cache = tmp / "cache"
            cache.mkdir()
            self.root = fresh_clone(tmp / "clone", commit)
            self.env = clean_env(cache)
            self.python = [str(self.root / ".venv" / "bin" / "python")]
            self.cpabm = [str(self.root / ".venv" / "bin" / "cpabm")]

    def command(self, name: str) -> list[str]:
        """``make NAME`` in a clone; in quick mode a tiny stand-in (``make test``'s prints a
        pytest summary line, so its parsing is exercised)."""
        if not self.quick:
            return ["make", name]
        said = "3 passed in 0.01s" if name == "test" else name
        return [sys.executable, "-c", f"print({said!r})"]

    def make(self, name: str, timeout: float) -> dict:
        return timed(self.command(name), self.root, self.env, self.tmp / f"make_{name}.log",
                     timeout)


def measure_compile(tmp: Path, quick: bool, commit: str) -> dict:
    """(a) ``warm()`` with a kernel cache empty at that moment, then with it filled."""
    co = _Checkout(tmp, quick, commit)
    venv = co.make("venv", 1800)
    env = co.env
    if not quick:  # empty now, whatever the set-up did to the first cache home
        (tmp / "cache_compile").mkdir()
        env = clean_env(tmp / "cache_compile")
    cold = run_json([*co.python, "-c", COMPILE], co.root, env)
    warm = run_json([*co.python, "-c", COMPILE], co.root, env)
    return {"venv": venv, "cold": cold, "warm": warm, "compile_s": cold["warm_s"],
            "load_s": warm["warm_s"]}


def measure_make(tmp: Path, quick: bool, commit: str, target: str) -> dict:
    """(b) ``make run`` (with the ``.venv`` build), (c) ``make test`` (after ``make venv``)."""
    co = _Checkout(tmp, quick, commit)
    out = {}
    if target == "test":
        out["venv"] = co.make("venv", 1800)
    r = co.make(target, 7200)
    if target == "test":
        r["summary"] = next((ln for ln in reversed(r["tail"]) if PYTEST_SUMMARY.search(ln)), None)
    return {**out, target: r}


def measure_sweep(tmp: Path, quick: bool, commit: str) -> dict:
    """(d) a tiny sweep after ``make venv``, then the same sweep again (cache filled)."""
    co = _Checkout(tmp, quick, commit)
    venv = co.make("venv", 1800)
    spec_dir = tmp / "spec"
    spec_dir.mkdir()
    runs, workers = (1, 1) if quick else (2, 2)
    (spec_dir / "tiny.toml").write_text(TINY_SCENARIO)
    spec = spec_dir / "sweep.toml"
    spec.write_text(SWEEP_SPEC.format(runs=runs))
    first = time_sweep(co.cpabm, spec, tmp / "out_first", co.root, co.env, workers)
    second = time_sweep(co.cpabm, spec, tmp / "out_second", co.root, co.env, workers)
    return {"venv": venv, "first": first, "second": second}


def case_loop(plan: dict, n: int, log) -> dict:
    """The four measurements, once each (each on a fresh clone in full mode), and the goal
    figures: ``figures`` (None where the measurement failed) and ``met``."""
    quick = bool(plan["loop"]["quick"])
    commit, dirty = source_commit()
    r: dict = {"commit": commit, "uncommitted_changes": dirty, "fresh_clone": not quick,
               "goals": dict(GOALS)}
    if not quick:
        r["pip_cache"] = clean_env(Path("/nonexistent"))["PIP_CACHE_DIR"]
    steps = (("compile", lambda t: measure_compile(t, quick, commit)),
             ("make_run", lambda t: measure_make(t, quick, commit, "run")),
             ("make_test", lambda t: measure_make(t, quick, commit, "test")),
             ("sweep", lambda t: measure_sweep(t, quick, commit)))
    for name, step in steps:
        with tempfile.TemporaryDirectory(prefix=f"cpabm-loop-{name}-") as tmp:
            try:
                r[name] = step(Path(tmp))
            except (RuntimeError, subprocess.SubprocessError, OSError) as e:
                r[name] = {"error": str(e).strip().splitlines()[-1] if str(e).strip() else repr(e)}
        log(f"bench: loop: {name} measured")
    r["figures"] = figures(r)
    r["met"] = {k: (v is not None and v <= GOALS[k]) for k, v in r["figures"].items()}
    return r


def figures(r: dict) -> dict:
    """The four goal figures of a loop record (None where a measurement failed)."""
    def ok(d: dict | None) -> bool:
        return bool(d) and d.get("rc") == 0

    c, mr, mt, sw = (r.get(k, {}) for k in ("compile", "make_run", "make_test", "sweep"))
    return {"compile_s": c.get("compile_s"),
            "make_run_s": mr["run"]["wall_s"] if ok(mr.get("run")) else None,
            "make_test_s": mt["test"]["wall_s"] if ok(mt.get("test")) else None,
            "sweep_warm_s": sw["first"]["first_run_start_s"] if ok(sw.get("first")) else None}
