"""The researcher's examples run: the EMA Workbench example (docs/examples/ema_workbench.py,
a small LHS with feature scoring and PRIM), the optimiser example
(docs/examples/optimise_threshold.py, scipy.optimize) and a SALib analysis, all through the
public API ``abm.evaluate`` on a small LA."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import abm

ROOT = Path(__file__).resolve().parents[2]

LA = """
[scenario]
name = "examples_la"
start = 2008-03-31
end = 2010-03-31
regime = "prescriptive"
places = { children = 3000 }

[parameters]
warmup_weeks = 26
"""


@pytest.fixture
def la(tmp_path):
    p = tmp_path / "la.toml"
    p.write_text(LA)
    return p


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}",
                                                  ROOT / "docs" / "examples" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_ema_workbench_example_runs_an_lhs_with_feature_scoring_and_prim(la, tmp_path):
    ema = load_example("ema_workbench")
    r = ema.explore(str(la), scenarios=6, policies=2, seed=3, out=tmp_path / "ema")
    x = r["experiments"]
    assert len(x) == 12  # 6 points over the uncertainties x 2 over the levers
    assert set(x["regime"]) <= {"prescriptive", "professional_judgment"}
    assert x["referrer_threshold"].between(1.5, 2.3).all()
    for name in ema.OUTCOMES:
        assert np.isfinite(x[name]).all(), name
    # the outcomes are abm.evaluate's, for the same inputs and seed
    row = x.iloc[0]
    params = {k: row[k] for k in ("referrer_threshold", "quit_hazard_base",
                                  "recruitment_weeks", "regime", "early_help_places")}
    again = abm.evaluate(params, scenario=str(la), seed=3, outcomes=ema.OUTCOMES)
    assert all(math.isclose(again[k], row[k]) for k in ema.OUTCOMES)
    # direct time is decided by the policy (the regime), not by the uncertainties; with two
    # policies the two levers move together, so they share the score
    s = r["feature_scores"]["direct_time_share"]
    assert set(s.index) == {"referrer_threshold", "quit_hazard_base", "recruitment_weeks",
                            "regime", "early_help_places"}
    levers = s[["regime", "early_help_places"]]
    assert levers.min() > s.drop(levers.index).max() and levers.sum() > 0.6
    assert 0 < r["prim_stats"]["coverage"] <= 1
    for f in ("experiments.csv", "feature_scores.csv", "prim_box.csv", "prim_box_stats.csv"):
        assert (tmp_path / "ema" / f).is_file()


@pytest.mark.slow
def test_salib_morris_through_abm_evaluate(la):
    from SALib.analyze import morris as analyse
    from SALib.sample import morris as sample

    problem = {"num_vars": 2, "names": ["scope_for_judgment", "referrer_threshold"],
               "bounds": [[0.2, 0.8], [1.5, 2.3]]}
    X = sample.sample(problem, 3, num_levels=4, seed=2)
    y = np.array([abm.evaluate(dict(zip(problem["names"], row, strict=True)),
                               scenario=str(la), seed=4, outcomes=["referrals_children"])
                  ["referrals_children"] for row in X])
    res = analyse.analyze(problem, X, y, num_levels=4, seed=2)
    mu_star = dict(zip(problem["names"], res["mu_star"], strict=True))
    # the referrers' threshold decides how many children are referred; the social
    # workers' scope for judgment acts after the referral (on re-referrals only)
    assert mu_star["referrer_threshold"] > 3 * mu_star["scope_for_judgment"]


@pytest.mark.slow
def test_optimiser_example_minimises_the_loss_through_abm_evaluate(la, tmp_path):
    opt = load_example("optimise_threshold")
    r = opt.optimise(str(la), seeds=2, check_seeds=2, maxiter=6, harm_weight=100.0,
                     out=tmp_path / "opt")
    trace, o = r["trace"], r["optimum"]
    assert 1 <= len(trace) == o["evaluations"] <= 6
    assert trace["referrer_threshold"].between(1.5, 2.5).all()

    def per_seed(threshold, seeds):
        """The outcomes seed by seed straight from abm.evaluate (not through the example),
        with the loss the example documents: 100 x harm_missed + unnecessary_investigations."""
        rows = [abm.evaluate({"referrer_threshold": threshold}, scenario=str(la), seed=s,
                             outcomes=opt.OUTCOMES) for s in seeds]
        return {k: [r[k] for r in rows] for k in opt.OUTCOMES} | {
            "loss": [100 * r["harm_missed"] + r["unnecessary_investigations"] for r in rows]}

    def mean(x):
        return sum(x) / len(x)

    # the optimum is the best point the search evaluated; its trace row is abm.evaluate's
    # outcomes at that threshold on the fit seeds, and the objective is a function of the
    # threshold alone (common random numbers: the same seeds give the same loss, exactly)
    # (in a small LA the loss moves in whole events, so thresholds may tie at the minimum:
    # the optimum is one of them)
    assert o["fit_loss"] == trace["loss"].min()
    ties = trace[trace["loss"] == trace["loss"].min()]
    assert o["best_threshold"] in ties["referrer_threshold"].tolist()
    row = ties[ties["referrer_threshold"] == o["best_threshold"]].iloc[0]
    fit = per_seed(o["best_threshold"], o["fit_seeds"])
    for k in ("harm_missed", "unnecessary_investigations", "loss"):
        assert row[k] == mean(fit[k]), (k, row[k], fit[k])
    assert set(o["check_seeds"]).isdisjoint(o["fit_seeds"])  # checked on fresh seeds
    # the check: means on the fresh seeds and the paired 95% t interval of best - default,
    # recomputed from the runs seed by seed with scipy.stats
    c = o["check"]
    best = per_seed(o["best_threshold"], o["check_seeds"])
    default = per_seed(o["default_threshold"], o["check_seeds"])
    for k in ("harm_missed", "unnecessary_investigations", "loss"):
        assert (c["best"][k], c["default"][k]) == (mean(best[k]), mean(default[k])), k
        d = c["best_minus_default"][k]
        diffs = np.subtract(best[k], default[k])
        assert d["difference"] == pytest.approx(diffs.mean(), abs=1e-12)
        ci = stats.ttest_rel(best[k], default[k]).confidence_interval(0.95)
        assert d["ci95"] == pytest.approx([ci.low, ci.high], rel=1e-9, abs=1e-9), k
    # the fresh seeds disagree on the effect, so the loss's interval has a width
    assert np.ptp(np.subtract(best["loss"], default["loss"])) > 0
    lo, hi = c["best_minus_default"]["loss"]["ci95"]
    assert hi - lo > 0
    with pytest.raises(ValueError, match="check_seeds must be at least 2"):
        opt.optimise(str(la), check_seeds=1)
    for f in ("trace.csv", "optimum.json"):
        assert (tmp_path / "opt" / f).is_file()
