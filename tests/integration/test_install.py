"""The packages are self-contained: a wheel of the project installed into a fresh virtual
environment runs ``cpabm run`` on a packaged scenario and starts ``cpabm viz``, from a
folder outside the checkout, with nothing read from the checkout."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv holding the project's wheel; its dependencies come from this
    environment's site-packages (a path line, so this environment's editable install of the
    project is not seen)."""
    tmp = tmp_path_factory.mktemp("install")
    # Build from a copy of what the wheel is made of: setuptools writes build/ beside the
    # sources, and the checkout must not be written by a test.
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("abm", "viz"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheels), str(src)], check=True, timeout=600)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel, = wheels.glob("cpabm-*.whl")
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True,
                   timeout=600, env={**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]})
    work = tmp / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTHONPATH")}
    env["XDG_CACHE_HOME"] = str(tmp / "cache")
    return venv, work, env


@pytest.mark.slow
def test_installed_package_runs_a_packaged_scenario_outside_the_checkout(installed, tmp_path):
    """... and gets the checkout's results to the byte: the wheel holds every data file the
    run reads (parameters, regimes, scenarios, targets), unchanged."""
    from abm.cli import main

    venv, work, env = installed
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import abm, viz; print(abm.__file__, viz.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in where and str(venv) in where
    r = subprocess.run([str(venv / "bin" / "cpabm"), "run", "small_la", "--seed", "3", "--quiet",
                        "--set", "warmup_weeks=26", "--out", "out"],
                       cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (work / "out" / "summary_fy.csv").exists() and (work / "out" / "run.json").exists()
    assert main(["run", "small_la", "--seed", "3", "--quiet", "--set", "warmup_weeks=26",
                 "--out", str(tmp_path / "checkout")]) == 0
    written = sorted(p.name for p in (work / "out").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "checkout").iterdir())
    for name in written:
        if name not in ("run.json", ".cpabm-output.json"):  # where and when it ran
            assert (work / "out" / name).read_bytes() == (tmp_path / "checkout" / name).read_bytes(), name
    r = subprocess.run([str(venv / "bin" / "cpabm"), "validate"], cwd=work, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "give the scenario" in r.stderr  # the default is a checkout's


@pytest.mark.slow
def test_installed_package_starts_the_workshop_app(installed):
    venv, work, env = installed
    port = _free_port()
    proc = subprocess.Popen([str(venv / "bin" / "cpabm"), "viz", "--port", str(port), "--no-open"],
                            cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.5)
        else:
            pytest.fail("cpabm viz did not answer within 300 s")
    finally:
        proc.terminate()
        proc.wait(30)
