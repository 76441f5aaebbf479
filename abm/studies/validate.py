"""``cpabm validate [SCENARIO]``: run replicates and check the published figures.

Prints one row per target: the published value, the tolerance band, the model's replicate
median with its 10-90% band, and pass or FAIL (the median inside the band). Exits 1 when a
target with a positive calibration weight, or a variant check, falls outside its tolerance
(``--json`` prints the same as JSON for machines). Replicates run through the batch
machinery's executors, so ``--workers`` and ``--scheduler`` work as for sweeps.

``--posterior FOLDER`` adds a posterior-predictive check: ``--draws K`` parameter sets drawn by
weight from the final generation of the ABC-SMC run in FOLDER (``cpabm calibrate``), each
applied to the scenario (with the calibration's ``[fixed]`` values) and run once with its own
seed; per target, the 5-95% band of the statistic over the draws is shown beside the 5-95%
band over the seed-only replicates of the scenario as it is, and whether the published value
lies inside the posterior-predictive band. Pass/FAIL stays the seed-only median's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT_SCENARIO = "experiments/scenarios/england_calibrated.toml"


def configure(p) -> None:
    p.add_argument("scenario", nargs="?", default=None,
                   help=f"scenario file (default: {DEFAULT_SCENARIO})")
    p.add_argument("--replicates", type=int, default=5, help="replicate runs (default 5)")
    p.add_argument("--seed", type=int, default=2010, help="root seed of the replicates")
    p.add_argument("--scale", type=float, default=None,
                   help="run on this sample of every LA's children (e.g. 0.1); counts are "
                        "rescaled to 1:1; default: the scenario's own scale")
    p.add_argument("--workers", type=int, default=None,
                   help="local processes (default: the CPUs available; 0 or 1: serial)")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address (or DASK_SCHEDULER_ADDRESS)")
    p.add_argument("--no-variants", action="store_true",
                   help="skip the one-LA front-door variant checks")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--exit-zero", action="store_true",
                   help="exit 0 even when checked targets miss (to record a table whose "
                        "misses are explained, as `make calibration-outputs` does); bad "
                        "input and failed runs still fail")
    p.add_argument("--out", default=None,
                   help="also write the table here (.md, .json or .csv)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier `cpabm validate` file at --out (.md or .json)")
    p.add_argument("--posterior", default=None, metavar="FOLDER",
                   help="also run --draws parameter sets drawn from this ABC-SMC result "
                        "(cpabm calibrate --out) and show each target's band over them")
    p.add_argument("--draws", type=int, default=20,
                   help="posterior draws with --posterior (default 20; one run each)")


#: the band shown for the seed-only replicates and for the posterior draws
BAND = (0.05, 0.95)


def evaluate_variants(point: dict, seed: int, context: dict):
    """Worker function: the one-LA variant checks for one seed."""
    from abm.studies.targets import variant_statistics
    stats = variant_statistics(context["target_specs"], seed, overrides=context["overrides"],
                               children=context["children"])
    return [(k, "all", v) for k, v in stats.items()]


def run_all(tasks, workers, scheduler=None, quiet=True):
    """Run ``(fn, point, seed, context)`` tasks through the batch executors; results in order."""
    from concurrent.futures import as_completed

    from abm.batch.executors import choose, open_executor, run_and_release
    from abm.studies.adapter import warm

    plan = choose(workers, scheduler)
    warm()
    results = [None] * len(tasks)
    with open_executor(plan, preload=("abm.core.model", "abm.outputs.tables"), warm=warm,
                       warm_args=(None,)) as (ex, _slots):
        futs = {ex.submit(run_and_release, fn, point, seed, ctx): k
                for k, (fn, point, seed, ctx) in enumerate(tasks)}
        for n, f in enumerate(as_completed(futs), 1):
            results[futs[f]] = f.result()
            if not quiet:
                print(f"\r  {n}/{len(tasks)} runs done", end="", file=sys.stderr, flush=True)
    if not quiet:
        print(file=sys.stderr)
    return results


def posterior_points(folder, draws: int, seed: int, scenario=None) -> tuple[list[dict], dict]:
    """``draws`` points drawn by weight from the ABC-SMC result in ``folder`` (with its
    ``[fixed]`` values; what ``scenario`` or a regime sets is not drawn), the same draws as
    ``abm.posterior_draws`` and a sweep's ``[posterior]`` with this seed; and a description
    of the run for the table's heading."""
    from abm.api import _posterior
    from abm.core.errors import ConfigError

    if isinstance(draws, bool) or not isinstance(draws, int) or not (1 <= draws <= 10_000):
        raise ConfigError(f"--draws = {draws!r} is out of range: valid range is [1, 10000]")
    from abm.core.params import validate_overrides

    d = _posterior(folder, seed, scenario, "--posterior")
    points = [d.point(r) for r in range(draws)]
    for pt in points[:1]:  # every draw has the same keys: one check names a bad one
        validate_overrides(pt, f"--posterior {folder}")
    return points, {
        "folder": str(folder), "name": d.name, "draws": draws, "generation": d.generation,
        "ess": round(d.ess, 1), "identity_sha256": d.identity_sha256}


def _quantiles(x, qs):
    """Quantiles of the non-NaN values, interpolated; a sample holding an infinite value (a
    ratio with nothing to divide by) takes the nearest observed values instead, since
    interpolating between infinities is undefined."""
    import numpy as np

    x = np.asarray(x, float)
    method = "inverted_cdf" if np.isinf(x).any() else "linear"
    return np.nanquantile(x, qs, method=method)


def _band(x):
    import numpy as np

    x = np.asarray(x, float)
    if not np.isfinite(x).any():
        return float("nan"), float("nan"), float("nan")
    lo, med, hi = _quantiles(x, [BAND[0], 0.5, BAND[1]])
    return float(med), float(lo), float(hi)


def validate(scenario_path: str | None = None, replicates: int = 5, seed: int = 2010,
             scale: float | None = None, workers: int | None = None,
             scheduler: str | None = None, variants: bool = True, quiet: bool = True,
             posterior: str | Path | None = None, draws: int = 20):
    """Run the checks; returns ``(rows, meta)``: one dict per target, and the run's
    description (``meta["ok"]``: whether every checked target passes)."""
    import dataclasses

    import numpy as np

    from abm.batch.seeds import replication_seeds
    from abm.core.errors import ConfigError
    from abm.core.io import project_root
    from abm.core.scenario import check_scale, load_scenario
    from abm.studies.targets import VARIANT_CHILDREN, evaluate_targets, load_targets

    if scenario_path is None:
        root = project_root()
        if root is None:
            raise ConfigError(f"cpabm validate: give the scenario to validate (the default, "
                              f"{DEFAULT_SCENARIO}, belongs to a cpabm checkout)")
        scenario_path = root / DEFAULT_SCENARIO
    path = Path(scenario_path)
    sc = load_scenario(path)
    if scale is not None:  # the scenarios' rule: every LA keeps enough children
        sc = dataclasses.replace(sc, scale=check_scale(scale, sc.places, "cpabm validate",
                                                       "--scale"))
    if isinstance(replicates, bool) or not isinstance(replicates, int) or not (1 <= replicates <= 1000):
        raise ConfigError(f"--replicates = {replicates!r} is out of range: valid range is [1, 1000]")
    targets = load_targets()
    main = [t for t in targets if t.scenario == "main"]
    var = [t for t in targets if t.scenario != "main"] if variants else []
    seeds = replication_seeds(seed, replicates)
    ctx = {"scenario": sc, "regimes": {}, "indicators": [t.id for t in main],
           "target_specs": main, "period": "all"}
    tasks = [(evaluate_targets, {}, s, ctx) for s in seeds]
    post_meta = None
    if posterior is not None:
        points, post_meta = posterior_points(posterior, draws, seed, sc)
        # seeds of their own (the same root's next children): none shared with the replicates
        post_seeds = replication_seeds(seed, replicates + draws)[replicates:]
        tasks += [(_posterior_targets, pt, s, ctx) for pt, s in zip(points, post_seeds,
                                                                    strict=True)]
    if var:
        vctx = {"target_specs": var, "overrides": dict(sc.overrides),
                "children": VARIANT_CHILDREN}
        tasks += [(evaluate_variants, {}, s, vctx) for s in seeds]
    results = run_all(tasks, workers, scheduler, quiet)
    values: dict[str, list[float]] = {}
    post_values: dict[str, list[float]] = {}
    for rows in results:
        for tid, _, v in rows:
            if tid.startswith(POSTERIOR):
                post_values.setdefault(tid[len(POSTERIOR):], []).append(float(v))
            else:
                values.setdefault(tid, []).append(float(v))
    out, ok = [], True
    for t in main + var:
        x = np.array(values.get(t.id, [np.nan]), float)
        # as the calibration scores a candidate: a replicate without a value (a duration in
        # a quarter with no concluded case) leaves the median undefined, never a pass on
        # the replicates that had one
        med = float(np.median(x)) if not np.isnan(x).any() else float("nan")
        lo10, hi90 = _quantiles(x, [0.1, 0.9]) if np.isfinite(x).any() else (np.nan, np.nan)
        passed = t.passes(med)
        checked = t.weight > 0 or t.scenario != "main"
        if checked and not passed:
            ok = False
        row = {"id": t.id, "what": t.what, "target": t.value, "lo": t.lo, "hi": t.hi,
               "median": med, "p10": float(lo10), "p90": float(hi90),
               "replicates": int(np.isfinite(x).sum()), "pass": passed,
               "fitted": t.weight > 0, "scenario": t.scenario, "source": t.source,
               "why": t.why}
        if post_meta is not None and t.scenario == "main":
            _, row["p05"], row["p95"] = _band(x)
            y = post_values.get(t.id, [])
            row["post_median"], row["post_p05"], row["post_p95"] = _band(y)
            row["post_draws"] = int(np.isfinite(np.asarray(y, float)).sum())
            row["post_covers"] = bool(row["post_p05"] <= t.value <= row["post_p95"])
        out.append(row)
    meta = {"scenario": sc.name, "scale": sc.scale, "replicates": replicates, "seed": seed,
            "ok": ok}
    if post_meta is not None:
        meta["posterior"] = post_meta
    return out, meta


#: prefix of the posterior-draw rows (kept apart from the seed-only replicates)
POSTERIOR = "posterior:"


def _posterior_targets(point: dict, seed: int, context: dict):
    """Worker function: one posterior draw applied to the scenario, measured on the targets."""
    from abm.studies.targets import evaluate_targets
    return [(POSTERIOR + tid, p, v) for tid, p, v in evaluate_targets(point, seed, context)]


def _fmt(x: float) -> str:
    if x != x:  # nan
        return "n/a"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3f}"


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [f"Scenario `{meta['scenario']}` at scale {meta['scale']:g}, {meta['replicates']} "
             f"replicates (root seed {meta['seed']}); counts rescaled to 1:1.", "",
             "| target | published | tolerance | model median | 10-90% band | result |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        res = "pass" if r["pass"] else ("FAIL" if (r["fitted"] or r["scenario"] != "main")
                                        else "outside (checked, not fitted)")
        lines.append(f"| `{r['id']}` | {_fmt(r['target'])} | [{_fmt(r['lo'])}, {_fmt(r['hi'])}] "
                     f"| {_fmt(r['median'])} | [{_fmt(r['p10'])}, {_fmt(r['p90'])}] | {res} |")
    if "posterior" in meta:
        lines += ["", posterior_markdown(rows, meta)]
    return "\n".join(lines) + "\n"


def posterior_markdown(rows: list[dict], meta: dict) -> str:
    """The posterior-predictive table: per target, the 5-95% band over the seed-only
    replicates and over the posterior draws, and whether the latter covers the published
    value."""
    pm = meta["posterior"]
    lines = [f"Posterior predictive: {pm['draws']} draws by weight from `{pm['folder']}` "
             f"(run {pm['identity_sha256'][:12]}, generation {pm['generation']}, ESS "
             f"{pm['ess']:g}), one run each; seed-only: {meta['replicates']} replicates of "
             f"the scenario as it is. Bands are 5-95%.", "",
             "| target | published | tolerance | seed-only median | seed-only band | "
             "posterior median | posterior band | published in posterior band |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "post_median" not in r:
            continue
        lines.append(f"| `{r['id']}` | {_fmt(r['target'])} | [{_fmt(r['lo'])}, {_fmt(r['hi'])}] "
                     f"| {_fmt(r['median'])} | [{_fmt(r['p05'])}, {_fmt(r['p95'])}] "
                     f"| {_fmt(r['post_median'])} | [{_fmt(r['post_p05'])}, "
                     f"{_fmt(r['post_p95'])}] | {'yes' if r['post_covers'] else 'no'} |")
    return "\n".join(lines)


#: the first line of a Markdown table and the ``tool`` of a JSON one this command writes
SIGNATURE = "written by cpabm validate"


def _signed(text: str) -> bool:
    return SIGNATURE in text.split("\n", 2)[0] or f'"tool": "{SIGNATURE}"' in text


def run(args) -> int:
    from contextlib import nullcontext

    from abm.cli import check_seed
    from abm.core.errors import ConfigError
    from abm.core.io import atomic_write_text, output_file
    check_seed(args.seed)
    claim = (output_file(args.out, overwrite=args.overwrite, signed=_signed)
             if args.out is not None else nullcontext())
    with claim:  # checked before the replicates run
        return _run(args, atomic_write_text, ConfigError)


def _run(args, atomic_write_text, ConfigError) -> int:
    try:
        rows, meta = validate(args.scenario, replicates=args.replicates, seed=args.seed,
                              scale=args.scale, workers=args.workers,
                              scheduler=args.scheduler, variants=not args.no_variants,
                              quiet=args.json, posterior=args.posterior, draws=args.draws)
    except FileNotFoundError as e:
        raise ConfigError(str(e)) from None
    text = json.dumps({"tool": SIGNATURE, "meta": meta, "targets": rows}, indent=1,
                      allow_nan=True)
    md = markdown(rows, meta)
    if args.out:
        out = Path(args.out)
        if out.suffix == ".json":
            atomic_write_text(out, text)
        elif out.suffix == ".csv":
            import pandas as pd
            atomic_write_text(out, pd.DataFrame(rows).to_csv(index=False))
        else:
            atomic_write_text(out, f"<!-- {SIGNATURE} -->\n" + md)
    print(text if args.json else md)
    if not args.json:
        n_fail = sum(1 for r in rows if not r["pass"] and (r["fitted"] or r["scenario"] != "main"))
        print(f"{'all checked targets pass' if meta['ok'] else f'{n_fail} checked target(s) outside tolerance'}")
    return 0 if meta["ok"] or args.exit_zero else 1
