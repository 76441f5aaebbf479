"""The generic ABC-SMC calibration engine (abm/batch/abc/) on the toy adapter
(abm.batch.testfunctions:Gaussian): a known Gaussian posterior is recovered, an
unidentifiable parameter is flagged, serial and process executors agree bit for bit, a run
killed with SIGKILL resumes to the identical result, bad specs are refused with clear
messages. The engine's distance and importance weights are checked on their own in
tests/unit/test_abc_maths.py."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from abm.batch import abc
from abm.batch.abc import (
    AbcStore,
    CalibrationRunError,
    calibrate,
    load_calibration_spec,
)
from abm.cli import calibrate as abc_cli
from abm.core.errors import ConfigError

GAUSSIAN = """\
[calibration]
name = "gauss"
particles = 200
generations = 10
replicates = 3
seed = 11
quantile = 0.5
min_epsilon = 0.25

[model]
adapter = "abm.batch.testfunctions:Gaussian"

[priors.mu]
dist = "uniform"
low = -5.0
high = 5.0

[priors.nuisance]
low = 0.0
high = 1.0

[targets.y]
value = 1.0
lo = 0.0
hi = 2.0
"""

SMALL = """\
[calibration]
name = "small"
particles = {particles}
generations = {generations}
replicates = 2
seed = 5
batch_size = 7

[model]
adapter = "abm.batch.testfunctions:Gaussian"
{model}

[priors.mu]
low = -5.0
high = 5.0

[priors.rate]
dist = "loguniform"
low = 0.01
high = 100.0

[priors.count]
low = 0
high = 10

[targets.y]
value = 1.0
lo = 0.0
hi = 2.0

[targets.log_rate]
value = 1.0986
lo = 0.0
hi = 2.2

[targets.count_y]
value = 4.0
lo = 2.0
hi = 6.0
weight = 0.5
"""


def quiet(_msg):
    pass


def write(folder: Path, text: str, name: str = "spec.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(text)
    return p


def small(folder: Path, particles=20, generations=3, model="", name="small.toml") -> Path:
    return write(folder, SMALL.format(particles=particles, generations=generations,
                                      model=model), name)


def frames(out: Path) -> dict[str, pd.DataFrame]:
    files = [out / "posterior.parquet", *sorted((out / "generations").glob("*.parquet"))]
    return {f.name: pd.read_parquet(f) for f in files}


# --------------------------------------------------------------------------- known posterior

@pytest.fixture(scope="module")
def gauss(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gauss")
    res = calibrate(write(folder, GAUSSIAN), folder / "out", workers=1, progress=False,
                    log=quiet)
    return res


def test_gaussian_posterior_recovered(gauss):
    """y = mu + e, e ~ N(0, 1), target 1 with half-width 1, median of 3 replicates, flat
    prior: the ABC posterior of mu has mean 1 and variance var(M_3) + (eps h)^2 / 3."""
    assert gauss.stop_reason.startswith("epsilon reached min_epsilon")
    post = gauss.posterior
    w = post["weight"].to_numpy()
    assert w.sum() == pytest.approx(1.0) and len(post) == 200
    mean = float(np.sum(w * post["mu"]))
    sd = float(np.sqrt(np.sum(w * (post["mu"] - mean) ** 2)))
    m3 = np.median(np.random.default_rng(1).standard_normal((400_000, 3)), axis=1)
    expected_sd = np.sqrt(m3.var() + 0.25**2 / 3)  # about 0.68
    assert abs(mean - 1.0) < 0.15  # ~3 Monte Carlo standard errors
    assert sd == pytest.approx(expected_sd, rel=0.15)
    # the tolerance shrank every generation, and the posterior is far narrower than the prior
    eps = [h["epsilon"] for h in gauss.generations]
    assert eps[0] == np.inf and all(a > b for a, b in zip(eps, eps[1:], strict=False))
    assert sd < 0.1 * 10 / np.sqrt(12) * 3
    # the effective sample size, reported per generation, stays high to the end
    ess = [h["ess"] for h in gauss.generations]
    assert len(ess) >= 5 and min(ess) >= 0.75 * 200


def test_unidentifiable_parameter_flagged(gauss):
    md = (gauss.out / "posterior.md").read_text()
    rows: dict[str, str] = {}
    for line in md.splitlines():  # the parameter table comes before the correlations
        if line.startswith(("| mu |", "| nuisance |")):
            rows.setdefault(line.split("|")[1].strip(), line)
    assert rows["mu"].rstrip().endswith("| identified |")
    assert "not identified" in rows["nuisance"]
    table = abc.posterior_table(load_calibration_spec(gauss.out.parent / "spec.toml"),
                                _population(gauss))
    by = {r["parameter"]: r for r in table}
    assert by["mu"]["width_ratio"] < 0.35
    assert by["nuisance"]["width_ratio"] > 0.8
    assert by["nuisance"]["q10"] == pytest.approx(0.1, abs=0.1)
    assert by["nuisance"]["q90"] == pytest.approx(0.9, abs=0.1)


def _population(res):
    """The final population rebuilt from posterior.parquet (for posterior_table)."""
    p = res.posterior
    y = p[["mu", "nuisance"]].to_numpy()
    pts = p[["mu", "nuisance"]].to_dict("records")
    n = len(p)
    return abc.Population(0, 0.0, y, pts, p["weight"].to_numpy(), p["distance"].to_numpy(),
                          np.zeros((n, 1)), np.zeros((n, 1, 1)), p["candidate"].to_numpy(),
                          n, 0)


def test_calibration_writes_generations_posterior_best_particle_history_and_sims(gauss):
    out = gauss.out
    gens = sorted((out / "generations").glob("gen_*.parquet"))
    assert len(gens) == len(gauss.generations) >= 4
    last = pd.read_parquet(gens[-1])
    pd.testing.assert_frame_equal(last, pd.read_parquet(out / "posterior.parquet"))
    assert {"weight", "distance", "mu", "nuisance", "stat.y"} <= set(last.columns)
    cal = tomllib.loads((out / "calibrated.toml").read_text())
    assert set(cal["parameters"]) == set(cal["best_particle"]) == {"mu", "nuisance"}
    assert cal["best_particle_info"]["distance"] == pytest.approx(last["distance"].min())
    assert cal["parameters"]["mu"] == pytest.approx(gauss.median["mu"])
    best = pd.read_csv(out / "best_particle.csv")
    assert list(best["target"]) == ["y"]
    reps = best[[f"replicate_{i}" for i in range(3)]].to_numpy()[0]
    assert best["median"][0] == pytest.approx(np.median(reps))
    assert (out / "marginals.png").read_bytes()[:4] == b"\x89PNG"
    hist = pd.read_csv(out / "history.csv")
    assert (hist["particles"] == 200).all() and hist["acceptance"].iloc[0] == 1.0
    assert (hist["simulations"] == hist["candidates"] * 3).all()
    # every simulation on disk, keyed; each replicate's statistic kept
    sims = AbcStore(out).load_sims()
    assert len(sims) >= hist["simulations"].sum()
    # the cost: every stored simulation counted once, with its wall and CPU seconds
    assert hist["simulations_run"].sum() == len(sims)
    assert (hist["simulations_run"] >= hist["simulations"]).all()
    assert (hist["cpu_seconds"] > 0).all()
    cost = json.loads((out / "cost.json").read_text())
    assert cost["simulations"] == len(sims)
    assert cost["cpu_seconds"] == pytest.approx(hist["cpu_seconds"].sum(), abs=0.01)
    assert len(cost["sessions"]) == 1 and cost["wall_seconds"] > 0
    assert "Cost: " in (out / "posterior.md").read_text()
    m = AbcStore(out).manifest()
    assert m["identity_sha256"] and m["spec_text"].startswith("[calibration]")


# --------------------------------------------------------------------------- determinism

def test_serial_and_processes_identical(tmp_path):
    spec = small(tmp_path)
    a = calibrate(spec, tmp_path / "serial", workers=1, progress=False, log=quiet)
    b = calibrate(spec, tmp_path / "procs", workers=2, progress=False, log=quiet)
    assert b.executor.startswith("2 local processes")
    fa, fb = frames(tmp_path / "serial"), frames(tmp_path / "procs")
    assert fa.keys() == fb.keys() and len(fa) == 4
    for k in fa:
        pd.testing.assert_frame_equal(fa[k], fb[k], check_exact=True)
    post = a.posterior
    assert post["count"].dtype.kind == "i" and post["count"].between(0, 10).all()
    assert post["rate"].between(0.01, 100).all()
    assert (tmp_path / "serial" / "calibrated.toml").read_text() == \
        (tmp_path / "procs" / "calibrated.toml").read_text()


def test_dask_scheduler_identical(tmp_path):
    from distributed import LocalCluster

    spec = small(tmp_path, generations=2)
    a = calibrate(spec, tmp_path / "serial", workers=0, progress=False, log=quiet)
    with LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                      dashboard_address=":0") as cluster:
        b = calibrate(spec, tmp_path / "dask", scheduler=cluster.scheduler_address,
                      progress=False, log=quiet)
    assert "Dask" in b.executor
    pd.testing.assert_frame_equal(a.posterior, b.posterior, check_exact=True)


def test_resume_reuses_runs_refuses_a_changed_identity_and_extends_a_changed_budget(tmp_path):
    spec = small(tmp_path, generations=2)
    out = tmp_path / "out"
    first = calibrate(spec, out, workers=1, progress=False, log=quiet)
    with pytest.raises(ConfigError, match="add --resume"):
        calibrate(spec, out, workers=1, progress=False, log=quiet)
    # resuming a finished calibration reruns nothing and gives the same result
    again = calibrate(spec, out, workers=1, resume=True, progress=False, log=quiet)
    assert again.executed == 0 and again.reused >= first.executed - 8
    pd.testing.assert_frame_equal(first.posterior, again.posterior, check_exact=True)
    # a changed prior changes the run identity: refused, naming it
    other = write(tmp_path, SMALL.format(particles=20, generations=2, model="")
                  .replace("high = 100.0", "high = 50.0"), "other.toml")
    with pytest.raises(ConfigError, match=r"different run identity \(differs in: priors.rate"):
        calibrate(other, out, workers=1, resume=True, progress=False, log=quiet)
    # the budget may change: more generations continue from the ones on disk
    more = small(tmp_path, generations=3, name="more.toml")
    msgs = []
    cont = calibrate(more, out, workers=1, resume=True, progress=False, log=msgs.append)
    assert any("settings changed (generations)" in m for m in msgs)
    assert len(cont.generations) == 3 and cont.reused >= first.executed - 8
    fresh = calibrate(more, tmp_path / "fresh", workers=1, progress=False, log=quiet)
    pd.testing.assert_frame_equal(fresh.posterior, cont.posterior, check_exact=True)
    # a folder that is not a calibration's
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        calibrate(spec, tmp_path / "junk", workers=1, progress=False, log=quiet)


def test_min_generations_holds_the_stopping_rules_and_the_componentwise_kernel_runs(tmp_path):
    """min_acceptance = 0.99 stops after generation 1; min_generations = 4 holds it off
    until four generations have run. The componentwise kernel (diagonal of 2x the weighted
    covariance) gives a different but equally valid run."""
    text = SMALL.format(particles=20, generations=6, model="")
    eager = write(tmp_path, text.replace("batch_size = 7", "batch_size = 7\nmin_acceptance = 0.99"),
                  "eager.toml")
    res = calibrate(eager, tmp_path / "eager", workers=1, progress=False, log=quiet)
    assert len(res.generations) == 2 and "min_acceptance" in res.stop_reason
    held = write(tmp_path, text.replace("batch_size = 7", "batch_size = 7\nmin_acceptance = 0.99"
                                        "\nmin_generations = 4"), "held.toml")
    res = calibrate(held, tmp_path / "held", workers=1, progress=False, log=quiet)
    assert len(res.generations) == 4 and "min_acceptance" in res.stop_reason
    comp = write(tmp_path, text.replace("batch_size = 7", 'batch_size = 7\nkernel = "componentwise"'),
                 "comp.toml")
    res = calibrate(comp, tmp_path / "comp", workers=1, progress=False, log=quiet)
    assert len(res.generations) == 6 and all(h["ess"] > 5 for h in res.generations)
    with pytest.raises(ConfigError, match="calibration.kernel = 'diagonal' is unknown"):
        load_calibration_spec(write(tmp_path, text.replace("batch_size = 7",
                                                           'batch_size = 7\nkernel = "diagonal"'),
                                    "bad.toml"))


def _nd_spec(particles: int) -> str:
    """12 parameters, 6 identified by their own targets (GaussianND)."""
    priors = "\n".join(f"[priors.x{i}]\nlow = 0.0\nhigh = 1.0\n" for i in range(1, 13))
    targets = "\n".join(f"[targets.y{i}]\nvalue = 0.5\nlo = 0.4\nhi = 0.6\n"
                        for i in range(1, 7))
    return (f"[calibration]\nparticles = {particles}\ngenerations = 3\nreplicates = 1\n"
            f"seed = 3\n\n[model]\nadapter = \"abm.batch.testfunctions:GaussianND\"\n"
            f"sigma = 0.03\n\n{priors}\n{targets}")


def test_ess_collapses_with_too_few_particles_for_the_parameters_and_holds_with_enough(tmp_path):
    """Why the earlier England run's ESS fell 30 -> 10 -> 5 with 12 parameters: with 30
    particles the weighted covariance behind the kernel comes from fewer effective particles
    than there are parameters, and the ESS falls below the number of parameters; with 180
    it stays above 60% of the particles (docs/calibration_method.md, "Sizing")."""
    few = calibrate(write(tmp_path, _nd_spec(30), "few.toml"), tmp_path / "few", workers=1,
                    progress=False, log=quiet)
    many = calibrate(write(tmp_path, _nd_spec(180), "many.toml"), tmp_path / "many",
                     workers=1, progress=False, log=quiet)
    assert min(h["ess"] for h in few.generations[1:]) < 12
    assert min(h["ess"] for h in many.generations[1:]) >= 0.6 * 180
    # the truncated componentwise kernel keeps it too (the six unidentified parameters' flat
    # posteriors are what truncation gets exactly right: 153-156 of 180 with seed 3)
    comp = calibrate(write(tmp_path, _nd_spec(180).replace("seed = 3\n", 'seed = 3\nkernel = '
                                                           '"componentwise"\n'), "comp.toml"),
                     tmp_path / "comp", workers=1, progress=False, log=quiet)
    assert min(h["ess"] for h in comp.generations[1:]) >= 0.75 * 180


def test_lock_refuses_second_run(tmp_path):
    spec = small(tmp_path)
    out = tmp_path / "out"
    with AbcStore(out).locked():
        with pytest.raises(ConfigError, match="another calibration"):
            calibrate(spec, out, workers=1, progress=False, log=quiet)


def _count_sims(out: Path) -> int:
    try:
        return len(AbcStore(out).load_sims())
    except (FileNotFoundError, ValueError):
        return 0


def _start(spec: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "abm.cli.calibrate", str(spec), "--out",
                             str(out), "--quiet", *extra], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when(proc: subprocess.Popen, out: Path, n: int, timeout: float = 120) -> int:
    """SIGKILL the run's process group once at least n simulations are on disk."""
    t0 = time.monotonic()
    while _count_sims(out) < n and proc.poll() is None and time.monotonic() - t0 < timeout:
        time.sleep(0.05)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return _count_sims(out)


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted(tmp_path):
    # the delay is not part of the run identity: same simulations, slower
    fast = small(tmp_path, particles=30, generations=4, name="fast.toml")
    slow = small(tmp_path, particles=30, generations=4, model="delay = 0.004", name="slow.toml")
    ref = calibrate(fast, tmp_path / "ref", workers=1, progress=False, log=quiet)
    total = ref.executed
    out = tmp_path / "killed"
    p = _start(slow, out, "--workers", "1")
    n1 = _kill_when(p, out, 100)
    assert p.returncode == -signal.SIGKILL, p.stderr.read().decode()
    assert 0 < n1 < total, "the first run should be killed mid-way"
    (out / "sims" / ".0123.json.xyz.tmp").write_text("[{half a file")  # a killed writer
    p = _start(slow, out, "--resume", "--workers", "2")
    n2 = _kill_when(p, out, n1 + 100)
    assert n2 >= n1
    p = subprocess.run([sys.executable, "-m", "abm.cli.calibrate", str(slow), "--out", str(out),
                        "--resume", "--workers", "2", "--quiet"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    a, b = frames(tmp_path / "ref"), frames(out)
    assert a.keys() == b.keys()
    for k in a:
        pd.testing.assert_frame_equal(a[k], b[k], check_exact=True)
    assert not list((out / "sims").glob(".*.tmp"))
    # the finished simulations were reused, not rerun: the log says how many ran each time
    import json
    ends = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    ends = [e for e in ends if e["event"] == "end"]
    # (a few simulations in flight when a generation ended are on disk but never needed)
    assert ends[-1]["reused"] >= 0.9 * n2
    assert ends[-1]["reused"] + ends[-1]["executed"] <= total + 4 * 4


# --------------------------------------------------------------------------- bad specs

@pytest.mark.parametrize("change, message", [
    (("seed = 11", "seed = 11\nparticle = 5"),
     "calibration.particle = 5 is not a key of [calibration] (did you mean 'particles'?); "
     "valid keys: name,"),
    (("[targets.y]", "[target.y]"), "unknown section [target] (did you mean 'targets'?)"),
    (("low = -5.0\nhigh = 5.0", "low = -5.0\nhigh = 50.0"),
     "priors.mu.high = 50.0 is outside the factor's valid range [-10.0, 10.0]"),
    (("low = -5.0\nhigh = 5.0", "low = 5.0\nhigh = 5.0"),
     "priors.mu: low = 5.0 must be less than high = 5.0"),
    (("low = -5.0\nhigh = 5.0", "low = 3.0\nhigh = 1.0"),
     "priors.mu: low = 3.0 must be less than high = 1.0"),
    (("[targets.y]", "[targets.yy]"),
     "targets.yy: 'yy' is not an output of the model (did you mean 'y'?); outputs: y, "),
    (("[priors.nuisance]", "[priors.nuisanse]"),
     "priors.nuisanse: unknown factor 'nuisanse' (did you mean 'nuisance'?)"),
    (('dist = "uniform"', 'dist = "normal"'), "priors.mu.dist = 'normal' is unknown"),
    (('dist = "uniform"\nlow = -5.0', 'dist = "loguniform"\nlow = -5.0'),
     "priors.mu.low = -5.0 is out of range for a loguniform prior: needs low > 0"),
    (("particles = 200", "particles = 1"),
     "calibration.particles = 1 is out of range: valid range is [2, 100001)"),
    (("particles = 200", "particles = 2"),
     "calibration.particles = 2 must exceed the number of calibrated parameters (2) for "
     "kernel = \"multivariate\""),
    (("quantile = 0.5", "quantile = 1.5"),
     "calibration.quantile = 1.5 is out of range: valid range is (0, 1)"),
    (("replicates = 3\n", ""), "[calibration] needs 'replicates'"),
    (("lo = 0.0\nhi = 2.0", "lo = 1.5\nhi = 2.0"),
     "targets.y.value = 1.0 is out of range: it must lie in its tolerance band"),
    (("hi = 2.0", "hi = 2.0\nwieght = 2"), "targets.y.wieght = 2 is not a target key"),
    (("[priors.mu]", "[fixed]\nmu = 1.0\n\n[priors.mu]"),
     "priors.mu: 'mu' is also in [fixed]"),
])
def test_bad_calibration_spec_is_refused_naming_the_file_and_key(tmp_path, change, message):
    old, new = change
    assert old in GAUSSIAN
    p = write(tmp_path, GAUSSIAN.replace(old, new, 1))
    with pytest.raises(ConfigError) as e:
        load_calibration_spec(p)
    assert message in str(e.value)
    assert str(p) in str(e.value)


def test_int_prior_refuses_fractional_bounds_and_gives_each_whole_number_equal_mass(tmp_path):
    p = write(tmp_path, SMALL.format(particles=20, generations=1, model="")
              .replace("low = 0\nhigh = 10", "low = 0.5\nhigh = 10"))
    with pytest.raises(ConfigError, match=r"priors.count.low = 0.5 has the wrong type: "
                                          r"expected a whole number in \[0, 50\]"):
        load_calibration_spec(p)
    spec = load_calibration_spec(small(tmp_path))
    count = next(q for q in spec.priors if q.name == "count")
    assert count.bounds() == (-0.5, 10.5)  # each whole number gets the same prior mass
    assert [count.to_model(y) for y in (-0.5, -0.01, 0.49, 0.5, 10.49, 10.5)] == \
        [0, 0, 0, 1, 10, 10]


# --------------------------------------------------------------------------- run errors, CLI

def _args(*argv):
    p = argparse.ArgumentParser()
    abc_cli.configure(p)
    return p.parse_args([str(a) for a in argv])


def test_missing_target_or_failing_simulation_stops_the_run_keeping_finished_sims(tmp_path, capsys):
    p = small(tmp_path, model='omit = ["log_rate"]')
    assert abc_cli.run(_args(p, "--out", tmp_path / "a", "--workers", "1", "--quiet")) == 1
    err = capsys.readouterr().err
    assert "target 'log_rate' is missing from the model's rows" in err
    assert "generation 0, candidate 0" in err
    p = small(tmp_path, model="fail_above = 3.0", name="fail.toml")
    with pytest.raises(CalibrationRunError, match=r"toy model asked to fail: mu = 3\.\d+ > 3\.0"):
        calibrate(p, tmp_path / "b", workers=1, progress=False, log=quiet)
    # the simulations that finished before the failure are kept for --resume
    assert _count_sims(tmp_path / "b") > 0


def test_cli_check_runs_nothing(tmp_path, capsys):
    p = small(tmp_path)
    out = tmp_path / "out"
    assert abc_cli.run(_args(p, "--out", out, "--check", "--workers", "1")) == 0
    text = capsys.readouterr().out
    assert "spec" in text and "OK" in text
    assert "prior       rate: loguniform on [0.01, 100.0]" in text
    assert "prior       count: uniform on [0, 10] (whole numbers)" in text
    assert "target      count_y = 4 in [2, 6], weight 0.5" in text
    assert not out.exists()
    assert abc_cli.main([str(tmp_path / "nope.toml")]) == 2
    assert capsys.readouterr().err == f"cpabm: error: {tmp_path / 'nope.toml'}: file not found\n"


def test_progress_bars_go_to_stderr_without_a_tty(tmp_path, capsys):
    p = small(tmp_path, generations=2)
    assert abc_cli.run(_args(p, "--out", tmp_path / "out", "--workers", "1")) == 0
    cap = capsys.readouterr()
    assert "small gen 0" in cap.err and "small gen 1" in cap.err  # the tqdm bars
    assert "eps" in cap.err and "acc" in cap.err
    assert "calibrated.toml" in cap.out


def _unfinish(out: Path, keep_below: int | None = None) -> None:
    """Make a finished 3-generation run look interrupted in generation 2: its outputs and its
    last generation's records gone, and (``keep_below``) only that generation's candidates
    below this number left on disk."""
    (out / "generations" / "gen_002.parquet").unlink()
    (out / "result.json").unlink()
    log = [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines()]
    log = [e for e in log if e["event"] != "end" and not (
        e["event"] == "generation" and e["generation"] == 2)]
    (out / "log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in log))
    if keep_below is not None:
        for f in (out / "sims").glob("*.json"):
            recs = [r for r in json.loads(f.read_text())
                    if r["generation"] < 2 or r["candidate"] < keep_below]
            f.write_text(json.dumps(recs))


def test_status_reads_a_finished_and_an_interrupted_run_without_changing_it(tmp_path, capsys):
    """--status says what the engine did: the finished generations from its log; for the
    generation in progress, the candidates complete and accepted at the engine's tolerance,
    which equal the engine's own counts when its simulations are all on disk."""
    import shutil

    from abm.batch.abc.status import read_status

    spec = small(tmp_path, generations=3)
    out = tmp_path / "out"
    res = calibrate(spec, out, workers=1, progress=False, log=quiet)
    st = read_status(out)
    assert st.done and [g["generation"] for g in st.finished] == [0, 1, 2]
    assert [g["acceptance"] for g in st.finished] == pytest.approx(
        [h["acceptance"] for h in res.generations])
    assert st.simulations == _count_sims(out) and st.cpu_seconds > 0
    # interrupted in generation 2, every simulation it judged still on disk
    part = tmp_path / "part"
    shutil.copytree(out, part)
    _unfinish(part)
    before = {f: f.read_bytes() for f in part.rglob("*") if f.is_file()}
    cur = read_status(part).current
    g2 = res.generations[2]
    assert cur["generation"] == 2 and cur["epsilon"] == pytest.approx(g2["epsilon"])
    assert cur["complete"] == g2["candidates"] and cur["accepted"] == 20
    assert cur["acceptance"] == pytest.approx(g2["acceptance"])
    # the ESS of the accepted candidates, weighted as the engine weights them: exact for
    # continuous priors; `count` is a whole-number prior, whose particles' continuous
    # coordinates the files do not keep (only the whole numbers the model received)
    assert cur["ess_so_far"] == pytest.approx(g2["ess"], rel=0.05)
    assert cur["ess_projected"] == cur["ess_so_far"]  # all N accepted
    # only the candidates below the 10th accepted one left: as many accepted as the engine
    accepted = sorted(pd.read_parquet(out / "generations" / "gen_002.parquet")["candidate"])
    cut = tmp_path / "cut"
    shutil.copytree(out, cut)
    _unfinish(cut, keep_below=accepted[9])
    cur = read_status(cut).current
    assert cur["accepted"] == 9 and cur["complete"] == accepted[9]
    assert cur["remaining_simulations"] == pytest.approx(11 * 2 / (9 / accepted[9]))
    assert 1 <= cur["ess_so_far"] <= 9 and cur["ess_projected"] == pytest.approx(
        cur["ess_so_far"] / 9 * 20)
    # the command line: nothing written, and whether this spec could resume the run
    assert abc_cli.run(_args(spec, "--out", part, "--status", "--workers", "1")) == 0
    text = capsys.readouterr().out
    assert "generation 2: in progress" in text and "`--resume` continues it" in text
    assert {f: f.read_bytes() for f in part.rglob("*") if f.is_file()} == before
    other = write(tmp_path, SMALL.format(particles=20, generations=3, model="")
                  .replace("high = 100.0", "high = 50.0"), "other.toml")
    assert abc_cli.run(_args(other, "--out", part, "--status")) == 0
    assert "would refuse it" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="not a calibration folder"):
        read_status(tmp_path)
    # a finished run resumed with a larger budget and gone on: its old result.json does not
    # make it finished
    (part / "result.json").write_text(json.dumps({"final_generation": 1, "stop_reason": "x"}))
    st = read_status(part)
    assert not st.done and st.current["generation"] == 2
    # ... but one whose budget was then lowered to end it there (generation 2 given up, its
    # simulations kept) is finished
    man = json.loads((part / "manifest.json").read_text())
    man["spec"]["generations"] = 2
    (part / "manifest.json").write_text(json.dumps(man))
    st = read_status(part)
    assert st.done and st.stop_reason == "x" and st.current is None
    # a finished run as committed (no log, no simulations): its result.json tells
    bare = tmp_path / "bare"
    shutil.copytree(out, bare, ignore=shutil.ignore_patterns("sims", "log.jsonl"))
    st = read_status(bare)
    assert st.done and st.stop_reason == res.stop_reason and st.simulations == 0
    assert [g["acceptance"] for g in st.finished] == pytest.approx(
        [h["acceptance"] for h in res.generations])


def test_status_projects_the_rest_of_the_run_under_its_stopping_rules(tmp_path):
    """The rest of a run: each later generation's acceptance is the last one's times the
    median ratio of consecutive acceptances from generation 1 on, until the engine's rules
    stop it (acceptance under min_acceptance once min_generations have run, or the last
    generation); its simulations are particles x replicates / acceptance."""
    from abm.batch.abc.status import Status, format_status, project_rest

    def status(accs, current, budget):
        st = Status(tmp_path, "x", "0" * 64, 500, 2, budget, cpu_per_simulation=3.6)
        st.finished = [{"generation": g, "epsilon": 1.0, "acceptance": a, "ess": 200.0,
                        "seconds": 60.0} for g, a in enumerate(accs)]
        st.current = {"generation": len(accs), "epsilon": 1.0, "simulations": 10,
                      "complete": 5, "accepted": 1, "acceptance": current,
                      "remaining_simulations": 1000.0, "ess_so_far": math.nan,
                      "ess_projected": math.nan}
        return st

    rule = {"generations": 6, "min_generations": 5, "min_acceptance": 0.15,
            "min_epsilon_decrease": 0.05}
    st = status([0.96, 0.5, 0.3], 0.18, rule)  # ratios from generation 1: 0.6, 0.6
    rest = project_rest(st)
    assert rest["ratio"] == pytest.approx(0.6)
    (t, a, n), = rest["later"]  # generation 4 at 0.108 < 0.15 after 5 generations: stop
    assert t == 4 and a == pytest.approx(0.108) and n == math.ceil(1000 / 0.108)
    assert rest["simulations"] == pytest.approx(1000 + n) and "min_acceptance" in rest["stop"]
    assert "generation 4 at about 0.108" in format_status(st)
    # the same acceptance before min_generations have run does not stop the run
    rest = project_rest(status([0.96, 0.5, 0.3], 0.18, {**rule, "min_generations": 6}))
    assert [t for t, _, _ in rest["later"]] == [4, 5] and rest["stop"] == "generations = 6"
    # acceptance that stays high runs to the last generation
    rest = project_rest(status([0.9, 0.8, 0.7], 0.6, rule))
    assert [t for t, _, _ in rest["later"]] == [4, 5] and rest["stop"] == "generations = 6"
    assert rest["ratio"] == pytest.approx((0.7 / 0.8 + 0.6 / 0.7) / 2)
    assert rest["later"][1][1] == pytest.approx(0.6 * rest["ratio"] ** 2)
    # nothing to project for a finished run, or with one acceptance known
    done = status([0.9, 0.5], 0.3, rule)
    done.done = True
    assert project_rest(done) is None
    assert project_rest(status([], 0.9, rule)) is None


def test_wall_time_counts_killed_sessions_to_their_last_simulation_file(tmp_path):
    """A run spanning sittings has one session per sitting; a killed one has no wall time in
    the log, so it is taken from its start to the last simulation file written before the
    next session started."""
    import datetime as dt
    import os

    from abm.batch.abc.store import session_walls

    (tmp_path / "sims").mkdir()
    t0 = dt.datetime(2026, 12, 6, 10, 0, 0)

    def at(minutes: float) -> float:
        return (t0 + dt.timedelta(minutes=minutes)).timestamp()

    def stamp(minutes: float) -> str:
        return (t0 + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S")

    events = [{"event": "start", "time": stamp(0)},  # killed; files up to minute 50
              {"event": "start", "time": stamp(60)},  # killed; files up to minute 100
              {"event": "start", "time": stamp(120)},  # ended after 30 s (a replay)
              {"event": "end", "time": stamp(120.5), "seconds": 30.0, "executed": 0},
              {"event": "start", "time": stamp(180)}]  # killed before writing anything
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    for i, minute in enumerate([5, 20, 50, 61, 100]):
        f = tmp_path / "sims" / f"{i}.json"
        f.write_text("[]")
        os.utime(f, (at(minute), at(minute)))
    walls = session_walls(tmp_path)
    assert [w["ended"] for w in walls] == [False, False, True, False]
    assert [w["seconds"] for w in walls] == pytest.approx([50 * 60, 40 * 60, 30, 0])


def test_the_pace_of_the_latest_session_plans_the_rest(tmp_path):
    """--status plans the rest of a run at the latest session's pace: its wall time over the
    simulations in the files it wrote; a session with too few is passed over; none at all
    (or files that lost their times) leaves the CPU-based figure."""
    import datetime as dt
    import os

    from abm.batch.abc.status import Status, format_status, session_pace
    from abm.batch.abc.store import session_walls

    (tmp_path / "sims").mkdir()
    t0 = dt.datetime(2026, 12, 6, 10, 0, 0)
    stamp = lambda s: (t0 + dt.timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%S")  # noqa: E731
    events = [{"event": "start", "time": stamp(0)},  # killed: 30 files of 2, to second 300
              {"event": "start", "time": stamp(1000)}]  # running: 5 files of 2 so far
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    for i, second in enumerate([*range(10, 301, 10), *range(1010, 1051, 10)]):
        f = tmp_path / "sims" / f"{i:03d}.json"
        f.write_text(json.dumps([{"stats": []}, {"stats": []}]))
        t = (t0 + dt.timedelta(seconds=second)).timestamp()
        os.utime(f, (t, t))
    walls = session_walls(tmp_path)
    assert [w["seconds"] for w in walls] == pytest.approx([300, 50])
    assert session_pace(tmp_path, walls) == pytest.approx(300 / 60)  # the latest has 10 < 20
    assert session_pace(tmp_path, walls, least=10) == pytest.approx(50 / 10)
    st = Status(tmp_path, "x", "0" * 64, 100, 2, {}, cpu_per_simulation=8.0,
                wall_per_simulation=5.0)
    st.current = {"generation": 1, "epsilon": 1.0, "simulations": 4, "complete": 2,
                  "accepted": 1, "acceptance": 0.5, "remaining_simulations": 720.0,
                  "ess_so_far": math.nan, "ess_projected": math.nan}
    assert "about 720 more simulations (1.0 wall h at the latest session's pace)" in format_status(st)
    st.wall_per_simulation = math.nan  # no pace: 720 x 8 CPU s over 2 workers
    assert "(0.8 wall h on 2 workers)" in format_status(st)
    # a finished run in a fresh clone: its files lost their times (every one written now)
    with (tmp_path / "log.jsonl").open("a") as f:
        f.write(json.dumps({"event": "end", "time": stamp(1050), "seconds": 50.0}) + "\n")
    for f in (tmp_path / "sims").iterdir():
        os.utime(f, None)
    assert math.isnan(session_pace(tmp_path, session_walls(tmp_path)))


def test_refresh_cost_adds_killed_sessions_and_never_lowers_a_wall(tmp_path):
    """A run whose cost.json was written without the killed sessions' walls gets them from
    its files' times; the same call on a copy whose files lost their times (a fresh clone)
    keeps the figures it has."""
    import datetime as dt
    import os

    import pandas as pd

    from abm.batch.abc.report import refresh_cost

    (tmp_path / "sims").mkdir()
    t0 = dt.datetime(2026, 12, 6, 10, 0, 0)
    stamp = lambda m: (t0 + dt.timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%S")  # noqa: E731
    events = [{"event": "start", "time": stamp(0)},  # killed; files up to minute 50
              {"event": "start", "time": stamp(60)},  # ran to the end: 600 s
              {"event": "end", "time": stamp(70), "seconds": 600.0, "executed": 4}]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    for i, minute in enumerate([5, 50, 65]):
        f = tmp_path / "sims" / f"{i}.json"
        f.write_text("[]")
        t = (t0 + dt.timedelta(minutes=minute)).timestamp()
        os.utime(f, (t, t))
    pd.DataFrame({"simulations_run": [4, 2], "simulation_seconds": [8.0, 4.0],
                  "cpu_seconds": [6.0, 3.0]}).to_csv(tmp_path / "history.csv", index=False)
    # as a run without the estimate wrote it: the killed session has no wall
    (tmp_path / "cost.json").write_text(json.dumps({"wall_seconds": 600.0, "sessions": [
        {"start": stamp(0), "seconds": None}, {"start": stamp(60), "seconds": 600.0}]}))
    cost = refresh_cost(tmp_path)
    assert cost["wall_seconds"] == pytest.approx(50 * 60 + 600)
    assert cost["sessions_estimated"] == 1 and cost["simulations"] == 6
    assert cost["cpu_seconds"] == pytest.approx(9.0)
    assert json.loads((tmp_path / "cost.json").read_text()) == cost
    for f in (tmp_path / "sims").iterdir():  # a clone: every file written just now
        os.utime(f, None)
    assert refresh_cost(tmp_path)["wall_seconds"] == pytest.approx(50 * 60 + 600)


def test_checkpoint_carries_an_interrupted_run_to_a_new_folder_and_refuses_to_lose_anything(
        tmp_path, capsys):
    """--save-checkpoint packs a run that is not finished into one file; --from-checkpoint
    unpacks it elsewhere and --resume finishes it to the uninterrupted result, running only
    the simulations the checkpoint did not hold. Nothing is written over: not a file that is
    not a checkpoint, not a checkpoint of another run or holding more than the folder, not a
    folder that is not empty."""
    import shutil
    import tarfile

    from abm.batch.abc import checkpoint

    spec = small(tmp_path, generations=3)
    full = calibrate(spec, tmp_path / "full", workers=1, progress=False, log=quiet)
    part = tmp_path / "part"
    shutil.copytree(tmp_path / "full", part)
    accepted = sorted(pd.read_parquet(part / "generations" / "gen_002.parquet")["candidate"])
    _unfinish(part, keep_below=accepted[9])
    on_disk = _count_sims(part)
    ck = tmp_path / "carry" / "small.tar.xz"
    assert abc_cli.run(_args(spec, "--out", part, "--save-checkpoint", ck)) == 0
    assert "generation(s)" in capsys.readouterr().out
    head = checkpoint.read_header(ck)
    assert head["generations"] == 2 and head["simulation_files"] == len(list((part / "sims").iterdir()))
    # restored in a new folder and resumed: the uninterrupted result, from the missing sims only
    new = tmp_path / "elsewhere" / "run"
    assert abc_cli.run(_args(spec, "--out", new, "--from-checkpoint", ck, "--resume",
                             "--workers", "1", "--quiet")) == 0
    assert _count_sims(new) == _count_sims(tmp_path / "full") > on_disk
    pd.testing.assert_frame_equal(pd.read_parquet(new / "posterior.parquet"), full.posterior,
                                  check_exact=True)
    # refusals, each leaving everything as it was
    with pytest.raises(ConfigError, match="not an empty folder"):
        checkpoint.restore(ck, new)
    notes = tmp_path / "notes.tar.xz"
    notes.write_text("my notes")
    with pytest.raises(ConfigError, match="not a cpabm calibration checkpoint"):
        checkpoint.save(part, notes)
    with pytest.raises(ConfigError, match="not a cpabm calibration checkpoint"):
        checkpoint.restore(notes, tmp_path / "x")
    assert notes.read_text() == "my notes" and not (tmp_path / "x").exists()
    bigger = tmp_path / "bigger.tar.xz"
    checkpoint.save(new, bigger)
    before = bigger.read_bytes()
    with pytest.raises(ConfigError, match="holds more of this calibration"):
        checkpoint.save(part, bigger)
    other = write(tmp_path, SMALL.format(particles=20, generations=3, model="")
                  .replace("high = 100.0", "high = 50.0"), "other.toml")
    calibrate(other, tmp_path / "other", workers=1, progress=False, log=quiet)
    with pytest.raises(ConfigError, match="checkpoint of another calibration"):
        checkpoint.save(tmp_path / "other", bigger)
    assert bigger.read_bytes() == before
    with pytest.raises(ConfigError, match="holds no calibration"):
        checkpoint.save(tmp_path / "carry", tmp_path / "y.tar.xz")
    # a later checkpoint of the same run replaces an earlier one
    checkpoint.save(new, ck)
    assert checkpoint.read_header(ck)["simulation_files"] == len(list((new / "sims").iterdir()))
    # an archive with a member no calibration folder has is refused before anything is written
    evil = tmp_path / "evil.tar.xz"
    with tarfile.open(evil, "w:xz") as tar:
        hdr = (tmp_path / "h.json")
        hdr.write_text(json.dumps({"kind": "cpabm calibration checkpoint"}))
        tar.add(hdr, arcname="checkpoint.json")
        tar.add(hdr, arcname="../escape.json")
    with pytest.raises(ConfigError, match="which no calibration folder has"):
        checkpoint.restore(evil, tmp_path / "z")
    assert not (tmp_path / "z").exists() and not (tmp_path / "escape.json").exists()
    assert not list(tmp_path.glob(".z.restore-*"))


def sp_priors(spec):
    return load_calibration_spec(spec).priors


def test_point_summaries_score_the_median_the_mode_and_the_best_particles_on_fresh_seeds(
        tmp_path, monkeypatch):
    """experiments/tools/point_summaries.py runs the posterior's median, its mode, its
    best-fitting particle and its particle closest to the review's own figures with the same
    fresh scoring seeds and scores them as the calibration scores a particle. The mode is a
    particle of the run; the particles are chosen among those closest in the run on selection
    seeds distinct from the scoring seeds; the choice is the candidate closest to the review's
    figures; the report says how many targets each meets and how to write each."""
    import importlib.util

    from abm.batch.abc import closest, load_posterior, mode, particle
    from abm.batch.abc.targets import distance

    spec = small(tmp_path, particles=30, generations=2)
    out = tmp_path / "out"
    calibrate(spec, out, workers=1, progress=False, log=quiet)
    path = Path(__file__).resolve().parents[2] / "experiments" / "tools" / "point_summaries.py"
    mod_spec = importlib.util.spec_from_file_location("point_summaries", path)
    tool = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(tool)
    res, lists = tool.run(out, spec, replicates=3, workers=0, seed=11, shortlist=4)
    post = load_posterior(out)
    m = mode(post)
    # none of the toy's targets is one of the review's: one shortlist, decided on all targets
    assert list(lists) == ["best"]
    assert all(r["decisive_distance"] == r["distance"] for r in res)
    # the shortlist: the run's four closest, the chosen one with the smallest selection distance
    near = closest(post, 4)
    d = post.frame["distance"].to_numpy()
    assert sorted(d[near]) == sorted(d)[:4] and list(d[near]) == sorted(d[near])
    chosen = lists["best"]
    assert sorted(r["particle"] for r in chosen) == sorted(near)
    best = chosen[0]
    assert best["selection_distance"] == min(r["selection_distance"] for r in chosen)
    assert [r["summary"] for r in res[:3]] == ["posterior median",
                                               f"posterior mode (particle {m['index']})",
                                               f"best-fitting particle {best['particle']}"]
    assert [r["arg"] for r in res] == ["median", "mode", f"particle={best['particle']}",
                                       "search"]
    # the search point: inside the prior, a candidate only within the run's final tolerance
    found = res[3]
    tol = json.loads((out / "result.json").read_text())["history"][-1]["epsilon"]
    assert found["eligible"] == (found["distance"] <= tol)
    assert found["search"]["tolerance"] == tol and found["search"]["fitted"] >= 20
    # its rounds, each run on the selection seeds: the kept one keeps the most required
    # targets (none here), then meets the most, then is the closest
    rounds = found["search"]["rounds"]
    assert [q["round"] for q in rounds] == list(range(tool.ROUNDS))
    kept = min(rounds, key=lambda q: (-q["met"], q["decisive_distance"], q["round"]))
    assert found["search"]["kept_round"] == kept["round"]
    assert found["search"]["run_scale_distance"] == found["distance"]  # scored at its scale
    with pytest.raises(ConfigError, match="no scenario with a scale"):
        tool.run(out, spec, replicates=1, workers=0, seed=11, shortlist=0, scale=1.0)
    for q in sp_priors(spec):
        assert q.low <= found["point"][q.name] <= q.high
    assert res[1]["point"] == m["values"] and res[2]["point"] == particle(post, best["particle"])
    assert m["values"]["mu"] == post.frame["mu"].iloc[m["index"]]
    # scored on other seeds than it was chosen on: the same candidate, the same seeds, the
    # same distance; the selection seeds give another
    sp = load_calibration_spec(spec)
    from abm.batch.seeds import replication_seeds
    seeds = replication_seeds(11, 6)
    again = tool.simulate(sp, [res[2]["point"]], seeds[:3], 0)[0]
    assert distance(np.median(again, axis=0), sp.targets) == res[2]["distance"]
    sel = tool.simulate(sp, [res[2]["point"]], seeds[3:], 0)[0]
    assert distance(np.median(sel, axis=0), sp.targets) == best["selection_distance"]
    for r in res:
        assert np.isfinite(r["distance"]) and r["of"] == 3 and 0 <= r["met"] <= 3
        assert r["seed_of"] == 0
        assert len(r["worst"]) == 3 - r["met"]
    md = tool.report(res, out, 3, lists)
    assert md.startswith(tool.SIGNATURE) and f"| posterior mode (particle {m['index']}) |" in md
    assert f"`--point particle={best['particle']}`" in md and "The search point: an emulator" in md
    assert md.count("| selection distance |") == 1 and md.count("\n| ") == (1 + 4) + (1 + 4) + (1 + tool.ROUNDS)
    # with y taken for one of the review's figures, the choice is made on y alone: a second
    # shortlist, ranked in the run by y's distance and chosen on the selection seeds
    monkeypatch.setattr(tool, "SEED_IDS", frozenset({"y"}))
    res2, lists2 = tool.run(out, spec, replicates=3, workers=0, seed=11, shortlist=4)
    y = [t.id for t in sp.targets].index("y")
    z = np.abs(post.frame["stat.y"].to_numpy() - sp.targets[y].value) / sp.targets[y].scale
    own = lists2["own"]
    assert sorted(r["particle"] for r in own) == sorted(np.argsort(z, kind="stable")[:4])
    assert own[0]["selection_own_distance"] == min(r["selection_own_distance"] for r in own)
    for r in res2:  # the distance on y alone: |median - value| / half-width
        med = np.median(tool.simulate(sp, [r["point"]], seeds[:3], 0)[0], axis=0)
        assert r["seed_of"] == 1 and r["decisive_distance"] == pytest.approx(
            abs(med[y] - sp.targets[y].value) / sp.targets[y].scale, rel=1e-12)
    pick = [r for r in res2 if r["arg"] is not None]
    assert tool.choose(res2) == min(pick, key=lambda r: (-r["seed_met"],
                                                         r["decisive_distance"]))["arg"]
    named = [r["summary"] for r in res2 if "closest to the review's figures" in r["summary"]
             and r["arg"] != "search"]
    if own[0]["particle"] != lists2["best"][0]["particle"]:
        assert named == [f"particle {own[0]['particle']}, closest to the review's figures"]
    else:  # the same particle is not scored twice
        assert named == []
    assert "| selection distance on the review's figures |" in tool.report(res2, out, 3, lists2)
    monkeypatch.undo()
    # without a shortlist, no chosen particle
    res0, chosen0 = tool.run(out, spec, replicates=1, workers=0, seed=11, shortlist=0)
    assert chosen0 == {} and [r["arg"] for r in res0] == ["median", "mode", "search"]
    # the command line writes the report and the choice, with the run's identity
    ps = tmp_path / "ps"
    assert tool.main([str(out), "--spec", str(spec), "--replicates", "1", "--shortlist", "2",
                      "--workers", "0", "--out", str(ps)]) == 0
    choice = json.loads((ps / "point_summaries.json").read_text())
    assert choice["identity_sha256"] == post.identity_sha256
    assert choice["chosen"] == tool.choose(choice["candidates"])
    assert f"`--point {choice['chosen']}`, which `make" in (ps / "point_summaries.md").read_text()
    assert tool.main([str(out), "--spec", str(spec), "--replicates", "0",
                      "--out", str(tmp_path)]) == 2
    assert tool.main([str(out), "--spec", str(spec), "--shortlist", "-1",
                      "--out", str(tmp_path)]) == 2
    # a calibration of the model's own parameters is also scored at the table's values
    from abm.batch.abc import Posterior, Prior
    from abm.core.params import PARAMETERS

    frame = pd.DataFrame({"contact_rate": np.linspace(0.003, 0.004, 50), "generation": 4})
    model_post = Posterior(None, "m", [Prior("contact_rate", "uniform", 0.003, 0.0042)], frame,
                           np.full(50, 1 / 50), {}, {}, "")
    pts = tool.candidate_points(model_post)
    assert pts[-1] == {"summary": "the parameter table as it stands", "arg": None,
                       "point": {"contact_rate": PARAMETERS["contact_rate"].default}}
    assert "the parameter table as it stands" not in [c["summary"] for c in
                                                       tool.candidate_points(post)]


# --------------------------------------------------------------------------- top-up
def test_top_up_continues_the_final_generation_keeping_its_particles(tmp_path, capsys):
    """--top-up ESS continues the final generation (same tolerance, same proposal, the
    run's particles first) to ceil(N * target / ESS) particles, rounded up to 10; the
    weights of the run's particles keep their ratios; the outputs and result.json say so;
    it is deterministic; bad input changes nothing."""
    import shutil

    from abm.batch.abc.topup import particles_for, top_up

    spec = small(tmp_path, particles=20, generations=2)
    calibrate(spec, tmp_path / "run", workers=1, progress=False, log=quiet)
    for name in ("a", "b"):
        shutil.copytree(tmp_path / "run", tmp_path / name)
    before = pd.read_parquet(tmp_path / "a" / "posterior.parquet")
    ess = 1.0 / np.sum(before["weight"] ** 2)
    target = 1.6 * ess
    rec = top_up(spec, tmp_path / "a", target, workers=0, progress=False, log=quiet)
    n2 = particles_for(20, ess, target)
    assert rec["particles"] == n2 > 20 and rec["particles_before"] == 20
    assert rec["ess"] > ess and rec["verified_simulations"] == 2
    after = pd.read_parquet(tmp_path / "a" / "posterior.parquet")
    assert len(after) == n2
    assert list(after["candidate"][:20]) == list(before["candidate"])
    ratio = after["weight"][:20].to_numpy() / before["weight"].to_numpy()
    assert np.allclose(ratio, ratio[0])  # the same weights, normalised over more particles
    assert (after["distance"] <= json.loads((tmp_path / "a" / "result.json").read_text())
            ["top_up"]["epsilon"]).all()
    assert len(pd.read_parquet(tmp_path / "a" / "generations" / "gen_001.parquet")) == n2
    res = json.loads((tmp_path / "a" / "result.json").read_text())
    assert res["top_up"]["particles"] == n2 and res["history"][-1]["particles"] == n2
    assert "continued from 20 to" in res["stop_reason"]
    # the same again on another copy, through the command line: identical
    assert abc_cli.run(_args(spec, "--out", tmp_path / "b", "--top-up", target, "--workers",
                             0, "--quiet")) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "b" / "posterior.parquet"), after)
    # nothing to do once the target is reached; a higher one continues further
    with pytest.raises(ConfigError, match="ESS is .* already"):
        top_up(spec, tmp_path / "a", 5.0, workers=0, progress=False, log=quiet)
    # a target whose particles the earlier top-up already has is refused, not rerun
    same = n2 * ess / 20  # the largest target that still asks for n2 particles
    with pytest.raises(ConfigError, match="already" if rec["ess"] >= same else "no more than"):
        top_up(spec, tmp_path / "a", same, workers=0, progress=False, log=quiet)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "posterior.parquet"), after)
    more = top_up(spec, tmp_path / "a", 1.3 * rec["ess"], workers=0, progress=False,
                  log=quiet)
    again = pd.read_parquet(tmp_path / "a" / "posterior.parquet")
    assert more["particles"] > n2 and more["particles_before"] == 20
    assert list(again["candidate"][:n2]) == list(after["candidate"])


def test_a_topped_up_run_refuses_resume_which_would_drop_the_top_up(tmp_path, capsys):
    """--resume replays a run from its own particles, so on a topped-up run it would rewrite
    the final generation without the top-up: refused, naming the top-up, nothing changed;
    --status says so; a copy without result.json resumes to the run's own particles."""
    import shutil

    from abm.batch.abc.topup import top_up

    spec = small(tmp_path, particles=20, generations=2)
    run = tmp_path / "run"
    calibrate(spec, run, workers=1, progress=False, log=quiet)
    ess = 1.0 / np.sum(pd.read_parquet(run / "posterior.parquet")["weight"] ** 2)
    rec = top_up(spec, run, 1.6 * ess, workers=0, progress=False, log=quiet)
    before = {f: f.read_bytes() for f in sorted(run.rglob("*")) if f.is_file()}
    with pytest.raises(ConfigError, match=rf"topped up from 20 to {rec['particles']} particles"):
        calibrate(spec, run, workers=0, resume=True, progress=False, log=quiet)
    capsys.readouterr()
    assert abc_cli.main([str(spec), "--out", str(run), "--resume", "--workers", "0",
                         "--quiet"]) == 2
    assert "--resume would rewrite it" in capsys.readouterr().err
    assert {f: f.read_bytes() for f in sorted(run.rglob("*")) if f.is_file()} == before
    assert abc_cli.run(_args(spec, "--out", run, "--status")) == 0
    assert "`--resume` refuses it" in capsys.readouterr().out
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    (copy / "result.json").unlink()
    res = calibrate(spec, copy, workers=0, resume=True, progress=False, log=quiet)
    assert res.executed == 0 and len(res.posterior) == 20


def test_top_up_refuses_another_spec_another_model_and_an_unfinished_run(tmp_path,
                                                                         monkeypatch):
    """The top-up reuses the run's simulations under its identity, so it refuses a spec
    that is not the run's, a model that no longer reproduces the run's simulations, and a
    folder with no finished run; the folder is left as it was."""
    from abm.batch import testfunctions
    from abm.batch.abc.topup import top_up

    spec = small(tmp_path, particles=20, generations=2)
    calibrate(spec, tmp_path / "run", workers=1, progress=False, log=quiet)
    post = (tmp_path / "run" / "posterior.parquet").read_bytes()
    other = small(tmp_path, particles=20, generations=2, name="other.toml")
    other.write_text(other.read_text().replace("low = -5.0", "low = -6.0"))
    with pytest.raises(ConfigError, match="not the spec of the run .*priors"):
        top_up(other, tmp_path / "run", 50.0, workers=0, progress=False, log=quiet)
    real = testfunctions.gaussian_evaluate

    def shifted(point, seed, context):
        return [(i, p, v + 1e-9) for i, p, v in real(point, seed, context)]

    monkeypatch.setattr(testfunctions.Gaussian, "evaluate", staticmethod(shifted))
    with pytest.raises(ConfigError, match="run again gives other statistics"):
        top_up(spec, tmp_path / "run", 50.0, workers=0, progress=False, log=quiet)
    assert (tmp_path / "run" / "posterior.parquet").read_bytes() == post
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no finished calibration"):
        top_up(spec, tmp_path / "empty", 50.0, workers=0, progress=False, log=quiet)
