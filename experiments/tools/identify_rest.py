"""Which model outputs would identify the parameters the calibration's targets leave open:
evidence for the report's "what would identify the rest", from simulations, not judgement.

    python experiments/tools/identify_rest.py [results/calibration/abc] [--out results/calibration]
        [--spec experiments/calibration/england.toml] [--draws 60] [--workers 2] [--seed 2010]

It draws ``--draws`` parameter sets from the calibration's posterior (by weight, as
``cpabm validate --posterior`` does), runs the spec's scenario once with each (a seed of its
own), and reads every output of the indicator registry for every financial year. For each
calibrated parameter it ranks those outputs by the Spearman correlation, across the draws,
of the output with the parameter (in the prior's transformed space). The posterior's
parameters are nearly independent, so a strong correlation says that the output moves with
that parameter where the posterior lies: a published figure of it would pin the parameter
down.

With tens of draws and a thousand outputs, some correlations are large by chance, so each
parameter's correlations are compared with the largest |correlation| the same outputs reach
with a random permutation of the parameter's draws (``PERMUTATIONS`` of them): an output is
listed when its |correlation| exceeds that null's 95% quantile. Each indicator is shown once,
in its year of strongest correlation; an indicator a fitted target measures is marked.

Writes ``identify_rest.md`` (per parameter, its width ratio and the outputs above the null)
and ``identify_rest.csv`` (every parameter x output correlation above the null).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from abm.core.errors import ConfigError  # noqa: E402
from abm.core.io import atomic_write_text, output_file  # noqa: E402

SIGNATURE = "<!-- written by experiments/tools/identify_rest.py -->"
PERMUTATIONS = 200
#: how many outputs are listed per parameter, at most
TOP = 4


def _ranks(x: np.ndarray) -> np.ndarray:
    """Column-wise ranks, standardised (mean 0, norm 1): their dot products are Spearman
    correlations. A constant column stays 0 (no correlation)."""
    r = pd.DataFrame(x).rank(axis=0).to_numpy(float, copy=True)
    r -= r.mean(axis=0)
    norm = np.sqrt((r ** 2).sum(axis=0))
    return np.divide(r, norm, out=np.zeros_like(r), where=norm > 0)


def informative_outputs(params: pd.DataFrame, outputs: pd.DataFrame,
                        permutations: int = PERMUTATIONS, seed: int = 0) -> pd.DataFrame:
    """For each column of ``params`` (one row per draw), the columns of ``outputs`` (the
    same rows) whose Spearman |correlation| with it exceeds the 95% quantile of the largest
    |correlation| over all outputs with a permutation of the parameter: one row per
    (parameter, output) with ``rho`` and that ``threshold``, strongest first per parameter."""
    keep = outputs.columns[outputs.notna().all() & (outputs.nunique() > 1)]
    ranked = _ranks(outputs[keep].to_numpy(float))
    rng = np.random.default_rng(seed)
    rows = []
    for name in params.columns:
        p = _ranks(params[[name]].to_numpy(float))[:, 0]
        rho = p @ ranked
        null = [np.abs(rng.permutation(p) @ ranked).max() for _ in range(permutations)]
        thr = float(np.quantile(null, 0.95))
        for j in np.argsort(-np.abs(rho)):
            if abs(rho[j]) <= thr:
                break
            rows.append({"parameter": name, "output": keep[j], "rho": float(rho[j]),
                         "threshold": thr})
    return pd.DataFrame(rows, columns=["parameter", "output", "rho", "threshold"])


def simulate(folder: Path, spec_path: Path, draws: int, workers: int, seed: int):
    """The posterior draws (transformed by their priors) and every FY output of one run of
    the spec's scenario at each: two frames, one row per draw."""
    from abm.batch.abc import load_posterior
    from abm.batch.abc.spec import load_calibration_spec
    from abm.batch.seeds import replication_seeds
    from abm.core.indicators import BY_NAME
    from abm.studies.adapter import evaluate
    from abm.studies.validate import posterior_points, run_all

    spec = load_calibration_spec(spec_path)
    post = load_posterior(folder)
    if [p.name for p in post.priors] != [p.name for p in spec.priors]:
        raise ConfigError(f"{spec_path}'s priors are not those of the calibration in {folder}")
    points, _ = posterior_points(folder, draws, seed)
    ctx = {"scenario": spec.context["scenario"], "regimes": {}, "period": "fy",
           "indicators": sorted(BY_NAME)}
    seeds = replication_seeds(seed + 1, draws)
    tables = run_all([(evaluate, pt, s, ctx) for pt, s in zip(points, seeds, strict=True)],
                     workers)
    outputs = pd.DataFrame([{f"{r.indicator} {r.period}": r.value for r in t.itertuples()}
                            for t in tables])
    params = pd.DataFrame([{p.name: float(p.transform(pt[p.name])) for p in post.priors}
                           for pt in points])
    return post, spec, params, outputs


def by_indicator(found: pd.DataFrame) -> pd.DataFrame:
    """Each parameter's listed outputs reduced to one row per indicator (its year of
    strongest correlation), strongest first."""
    if found.empty:
        return found.assign(indicator=pd.Series(dtype=str))
    f = found.assign(indicator=found["output"].str.rsplit(" ", n=1).str[0],
                     strength=found["rho"].abs())
    f = f.sort_values(["parameter", "strength"], ascending=[True, False], kind="stable")
    return f.drop_duplicates(["parameter", "indicator"]).drop(columns="strength")


def report(post, found: pd.DataFrame, draws: int, folder: Path, fitted: set[str]) -> str:
    from abm.batch.abc import summarise

    lines = [SIGNATURE, "# What would identify the rest", "",
             f"Written by `experiments/tools/identify_rest.py` from `{folder}`: {draws} draws "
             f"from the posterior (generation {post.generation}), one run each of the "
             f"calibration's scenario; every output of the indicator registry in every "
             f"financial year. An output is listed beside a parameter when their Spearman "
             f"correlation across the draws is beyond what the same outputs reach with the "
             f"parameter's draws shuffled (the 95% quantile of the largest of {PERMUTATIONS} "
             f"shuffles: `null`). A published figure of such an output would identify the "
             f"parameter where the posterior lies. Each indicator is shown once, in its year "
             f"of strongest correlation; *fitted* marks an indicator that a fitted target "
             f"measures (in its own definition: a year, a quarter, a share), so the parameter "
             f"is held by that target as far as its tolerance allows.",
             "", "| parameter | width ratio | null | outputs that move with it (correlation) |",
             "|---|---|---|---|"]
    ind = by_indicator(found)
    for r in sorted(summarise(post), key=lambda r: -r["width_ratio"]):
        d = ind[ind["parameter"] == r["parameter"]].head(TOP)
        null = f"{d['threshold'].iloc[0]:.2f}" if len(d) else ""
        listed = "; ".join(f"`{o}` {rho:+.2f}" + (" *fitted*" if i in fitted else "")
                           for o, rho, i in zip(d["output"], d["rho"], d["indicator"],
                                                strict=True))
        lines.append(f"| `{r['parameter']}` | {r['width_ratio']:.2f} | {null} | "
                     f"{listed or 'none beyond the null'} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from abm.batch.abc.status import folder_tool_parser

    out_dir = ROOT / "results" / "calibration"
    ap = folder_tool_parser("identify_rest", __doc__, out_dir / "abc", out_dir,
                            ROOT / "experiments" / "calibration" / "england.toml")
    ap.add_argument("--draws", type=int, default=60)
    ap.add_argument("--seed", type=int, default=2010)
    args = ap.parse_args(argv)
    folder, out = Path(args.folder), Path(args.out)

    def ours(text: str) -> bool:
        return text.startswith(SIGNATURE)

    def csv_ours(_text: str) -> bool:
        md = out / "identify_rest.md"
        return md.exists() and ours(md.read_text())

    try:
        with output_file(out / "identify_rest.csv", overwrite=True, signed=csv_ours) as csv, \
                output_file(out / "identify_rest.md", overwrite=True, signed=ours) as md:
            post, spec, params, outputs = simulate(folder, Path(args.spec), args.draws,
                                                   args.workers, args.seed)
            found = informative_outputs(params, outputs, seed=args.seed)
            atomic_write_text(csv, found.to_csv(index=False, float_format="%.4g"))
            from abm.studies.targets import load_targets
            ids = {t.id for t in spec.targets}
            fitted = {t.indicator for t in load_targets() if t.id in ids}
            atomic_write_text(md, report(post, found, args.draws, folder, fitted))
    except ConfigError as e:
        print(f"identify_rest: {e}", file=sys.stderr)
        return 2
    print(f"wrote {md} and {csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
