"""An optimiser through ``abm.evaluate``: the referrers' threshold that minimises a weighted
loss of missed harm and unnecessary investigations, with scipy.optimize.

    python docs/examples/optimise_threshold.py --scenario experiments/scenarios/la_60k_2011_2014.toml \
        --seeds 8 --check-seeds 10 --out results/optimise

The referrers' threshold (``referrer_threshold``) is the signal of concern above which a
referrer refers a family. A lower threshold refers more families: fewer severe harm events
happen to families with no open case (``harm_missed``), and more families go through a
section 47 enquiry that finds nothing (``unnecessary_investigations``). The loss per
financial year is

    loss = harm_weight * harm_missed + unnecessary_investigations

where ``harm_weight`` (how many unnecessary investigations one missed harm is worth) is a
value judgement, not a model output. The objective averages the loss over a fixed set of
seeds, the same at every threshold (common random numbers: two thresholds differ by their
effect, not by their noise), and ``scipy.optimize.minimize_scalar`` searches a bounded
interval. The optimum is then checked on fresh seeds, paired against the default threshold.
docs/research.md (section 6) walks through the output.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import abm

OUTCOMES = ["harm_missed", "unnecessary_investigations"]


def loss(threshold: float, *, scenario, seeds, harm_weight: float) -> dict:
    """The outcomes and the weighted loss at ``threshold``: their means over ``seeds``, and
    (under ``"runs"``) their values seed by seed."""
    runs = [abm.evaluate({"referrer_threshold": threshold}, scenario=scenario, seed=s,
                         outcomes=OUTCOMES) for s in seeds]
    for r in runs:
        r["loss"] = harm_weight * r["harm_missed"] + r["unnecessary_investigations"]
    out = {k: sum(r[k] for r in runs) / len(runs) for k in (*OUTCOMES, "loss")}
    out["runs"] = runs
    return out


def paired(a: list[float], b: list[float]) -> dict:
    """The mean of the paired differences a - b and its 95% t confidence interval."""
    from scipy.stats import t

    d = [x - y for x, y in zip(a, b, strict=True)]
    mean = sum(d) / len(d)
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1))
    half = float(t.ppf(0.975, len(d) - 1)) * sd / math.sqrt(len(d))
    return {"difference": mean, "ci95": [mean - half, mean + half]}


def optimise(scenario="small_la", *, bounds=(1.5, 2.5), seeds: int = 3, check_seeds: int = 5,
             harm_weight: float = 100.0, maxiter: int = 12, default: float = 1.9,
             out: Path | None = None) -> dict:
    """Search ``bounds`` for the threshold of least loss on seeds 1..``seeds``, then compare
    it with ``default``, paired, on the ``check_seeds`` (at least 2) fresh seeds that follow.
    Returns (and writes to ``out``) the search's trace and the check."""
    if check_seeds < 2:
        raise ValueError(f"check_seeds must be at least 2 (for a confidence interval), "
                         f"got {check_seeds}")
    import pandas as pd
    from scipy.optimize import minimize_scalar

    fit_seeds = list(range(1, seeds + 1))
    trace = []

    def objective(x: float) -> float:
        r = loss(x, scenario=scenario, seeds=fit_seeds, harm_weight=harm_weight)
        trace.append({"referrer_threshold": x, "harm_missed": r["harm_missed"],
                      "unnecessary_investigations": r["unnecessary_investigations"],
                      "loss": r["loss"]})
        return r["loss"]

    res = minimize_scalar(objective, bounds=bounds, method="bounded",
                          options={"xatol": 0.02, "maxiter": maxiter})
    best = float(res.x)
    fresh = list(range(seeds + 1, seeds + check_seeds + 1))
    at_best = loss(best, scenario=scenario, seeds=fresh, harm_weight=harm_weight)
    at_default = loss(default, scenario=scenario, seeds=fresh, harm_weight=harm_weight)
    names = (*OUTCOMES, "loss")
    check = {"best_threshold": best, "default_threshold": default,
             "harm_weight": harm_weight, "fit_seeds": fit_seeds, "check_seeds": fresh,
             "evaluations": len(trace), "fit_loss": float(res.fun),
             "check": {
                 "best": {k: at_best[k] for k in names},
                 "default": {k: at_default[k] for k in names},
                 "best_minus_default": {
                     k: paired([r[k] for r in at_best["runs"]],
                               [r[k] for r in at_default["runs"]]) for k in names}}}
    trace = pd.DataFrame(trace)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        trace.to_csv(out / "trace.csv", index=False)
        (out / "optimum.json").write_text(json.dumps(check, indent=2) + "\n")
    return {"trace": trace, "optimum": check}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="small_la",
                    help="a scenario file or a packaged scenario's name (default small_la)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds averaged in the objective")
    ap.add_argument("--check-seeds", type=int, default=5,  # at least 2, for a CI
                    help="fresh seeds on which the optimum is compared with the default")
    ap.add_argument("--harm-weight", type=float, default=100.0,
                    help="unnecessary investigations one missed harm is worth (default 100)")
    ap.add_argument("--maxiter", type=int, default=12, help="the optimiser's iterations")
    ap.add_argument("--out", type=Path, help="folder for trace.csv and optimum.json")
    a = ap.parse_args(argv)
    r = optimise(a.scenario, seeds=a.seeds, check_seeds=a.check_seeds,
                 harm_weight=a.harm_weight, maxiter=a.maxiter, out=a.out)
    print(r["trace"].to_string(index=False))
    print(json.dumps(r["optimum"], indent=2))


if __name__ == "__main__":
    main()
