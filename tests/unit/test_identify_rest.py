"""experiments/tools/identify_rest.py: which outputs would identify a parameter, from the
correlations across posterior draws, against what shuffled draws reach by chance."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import load_tool

TOOL = load_tool("identify_rest")


def test_outputs_that_move_with_a_parameter_are_found_and_noise_is_not():
    """Three parameters and 500 outputs of pure noise across 60 draws: the output that rises
    with `a` and the one that falls (non-linearly) with `b` are found first, with their
    signs; `c` moves nothing, and noise passes the shuffled null rarely (at most one output
    per parameter, in about one parameter in twenty)."""
    rng = np.random.default_rng(1)
    n = 60
    params = pd.DataFrame({k: rng.uniform(size=n) for k in "abc"})
    outputs = pd.DataFrame({f"noise{i}": rng.normal(size=n) for i in range(500)})
    outputs["rises_with_a"] = 3 * params["a"] + rng.normal(0, 0.3, n)
    outputs["falls_with_b"] = -np.exp(2 * params["b"]) + rng.normal(0, 0.3, n)
    outputs["constant"] = 1.0
    outputs["missing"] = np.nan
    found = TOOL.informative_outputs(params, outputs)
    first = found.groupby("parameter").first()
    assert first.loc["a", "output"] == "rises_with_a" and first.loc["a", "rho"] > 0.9
    assert first.loc["b", "output"] == "falls_with_b" and first.loc["b", "rho"] < -0.9
    assert (found["threshold"].between(0.35, 0.6)).all()  # the null's 95% quantile
    noise = found[found["output"].str.startswith("noise")]
    assert len(noise) <= 2 and (noise["rho"].abs() < 0.6).all()
    assert not found["output"].isin(["constant", "missing"]).any()
    # a parameter that moves nothing: at most a chance excursion just past the null
    assert (found.loc[found["parameter"] == "c", "rho"].abs() < 0.6).all()


def test_each_indicator_is_listed_once_in_its_strongest_year():
    found = pd.DataFrame({"parameter": ["a", "a", "a", "b"],
                          "output": ["x FY2005", "x FY2007", "y z FY2006", "x FY2005"],
                          "rho": [0.6, -0.9, 0.7, 0.5], "threshold": 0.4})
    ind = TOOL.by_indicator(found)
    assert ind[["parameter", "output", "indicator"]].values.tolist() == [
        ["a", "x FY2007", "x"], ["a", "y z FY2006", "y z"], ["b", "x FY2005", "x"]]
    assert TOOL.by_indicator(found.iloc[0:0]).empty
