"""Sensitivity analysis through the sweep machinery recovers known answers.

The analytic test functions run as sweep adapters, so the spec, design, seeds, executor,
per-run files, summary and SALib analysis are exactly those a model sweep uses.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from abm.batch.runner import run_sweep
from abm.batch.spec import load_spec
from abm.batch.summary import summarise
from abm.batch.testfunctions import ISHIGAMI_S1, ISHIGAMI_ST, sobol_g_indices

PI = repr(math.pi)


def sweep(tmp_path: Path, text: str, workers: int = 0) -> Path:
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    out = tmp_path / "out"
    run_sweep(load_spec(spec), out, workers=workers, progress=False, log=lambda m: None)
    return summarise(out, log=lambda m: None)


def test_sobol_analysis_recovers_the_ishigami_indices(tmp_path):
    """Sobol' indices of the Ishigami function (a = 7, b = 0.1), N = 512: 2,560 runs, each
    its own parquet file, analysed from the results folder alone."""
    s = sweep(tmp_path, f"""
[sweep]
name = "ishigami_sobol"
replications = 1
seed = 1
[model]
adapter = "abm.batch.testfunctions:Ishigami"
[factors.x1]
range = [-{PI}, {PI}]
[factors.x2]
range = [-{PI}, {PI}]
[factors.x3]
range = [-{PI}, {PI}]
[design]
type = "sobol"
samples = 512
[outputs]
indicators = ["y"]
""")
    t = pd.read_csv(s / "sensitivity.csv").set_index("factor")
    assert len(pd.read_parquet(s / "runs_long.parquet")) == 512 * 5
    for f in ("x1", "x2", "x3"):
        assert t.loc[f, "S1"] == pytest.approx(ISHIGAMI_S1[f], abs=0.05), f
        assert t.loc[f, "ST"] == pytest.approx(ISHIGAMI_ST[f], abs=0.05), f
        assert t.loc[f, "ST_conf"] < 0.2
    # x3 acts only through its interaction with x1: no first-order effect, a total one
    assert t.loc["x3", "ST"] - t.loc["x3", "S1"] > 0.15
    assert list(t.sort_values("ST", ascending=False).index) == ["x1", "x2", "x3"]
    png = (s / "sensitivity.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    md = (s / "sensitivity.md").read_text()
    assert "| x1 |" in md and "S1" in md
    assert "## Sensitivity" in (s / "summary.md").read_text()


def test_morris_ranks_sobol_g(tmp_path):
    """Morris screening of the Sobol' G function ranks inputs by importance (smaller a_i is
    more important; a = 99 is nearly inert). Run on two worker processes."""
    a = [0.0, 1.0, 4.5, 9.0, 99.0, 99.0]
    factors = "".join(f"[factors.x{i + 1}]\nrange = [0.0, 1.0]\n" for i in range(len(a)))
    s = sweep(tmp_path, f"""
[sweep]
name = "g_morris"
replications = 1
seed = 5
[model]
adapter = "abm.batch.testfunctions:SobolG"
a = {a}
{factors}
[design]
type = "morris"
trajectories = 40
levels = 4
[outputs]
indicators = ["y"]
""", workers=2)
    t = pd.read_csv(s / "sensitivity.csv").set_index("factor")
    order = list(t.sort_values("mu_star", ascending=False).index)
    assert order[:4] == ["x1", "x2", "x3", "x4"], t
    assert t.loc[["x5", "x6"], "mu_star"].max() < 0.1 * t.loc["x1", "mu_star"]
    assert (t["rank"].loc[["x1", "x2", "x3", "x4"]] == [1, 2, 3, 4]).all()
    # the analytic first-order indices order the inputs the same way
    s1 = sobol_g_indices(a)
    assert sorted(s1, key=s1.get, reverse=True)[:4] == order[:4]


def test_sobol_analysis_recovers_the_g_indices_with_noise_and_replications(tmp_path):
    """With noise drawn from each run's seed and 2 replications per point, the replicate
    means still give the G function's analytic first-order indices."""
    a = [0.0, 1.0, 9.0]
    factors = "".join(f"[factors.x{i + 1}]\nrange = [0.0, 1.0]\n" for i in range(len(a)))
    s = sweep(tmp_path, f"""
[sweep]
name = "g_sobol"
replications = 2
seed = 8
[model]
adapter = "abm.batch.testfunctions:SobolG"
a = {a}
noise_sd = 0.05
{factors}
[design]
type = "sobol"
samples = 128
[outputs]
indicators = ["y"]
""")
    t = pd.read_csv(s / "sensitivity.csv").set_index("factor")
    for f, v in sobol_g_indices(a).items():
        assert t.loc[f, "S1"] == pytest.approx(v, abs=0.06), (f, t)
