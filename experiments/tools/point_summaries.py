"""Which one point should stand for the posterior: the marginal medians, or the mode? Each
candidate is run on fresh seeds and scored as the calibration scores a particle, so the
calibrated values' summary is chosen on evidence and the report can say why.

    python experiments/tools/point_summaries.py [results/calibration/abc] [--out results/calibration]
        [--spec experiments/calibration/england.toml] [--replicates 4] [--workers 2] [--seed 7301]

The candidates:

* **the posterior median**: each parameter's weighted marginal median
  (``abm.batch.abc.summarise``), what ``apply_calibration.py`` writes by default;
* **the posterior mode**: the particle at the highest kernel density of the particles
  (``abm.batch.abc.mode``), a point the run accepted, which stays on a curved posterior
  where the marginal medians may fall off it (``apply_calibration.py --point mode``);
* **the parameter table as it stands** (``abm/data/parameters.toml``), for reference (when
  every calibrated parameter is one of the model's).

Each runs the spec's scenario with ``--replicates`` seeds of its own (the same seeds for
every candidate: common random numbers); the statistics are the replicates' median, the
distance is the calibration's, and a target is met inside its tolerance. Writes
``point_summaries.md``.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from abm.batch.abc.status import folder_tool_parser  # noqa: E402
from abm.core.errors import ConfigError  # noqa: E402
from abm.core.io import atomic_write_text, output_file  # noqa: E402

SIGNATURE = "<!-- written by experiments/tools/point_summaries.py -->"
#: the largest misses listed per candidate
WORST = 4


def candidate_points(post) -> dict[str, dict]:
    """The candidates' parameter values, as the model receives them; the table's defaults
    too when every calibrated parameter is one of the model's."""
    from abm.batch.abc import mode, summarise
    from abm.core.params import PARAMETERS

    points = {"posterior median": {r["parameter"]: r["value"] for r in summarise(post)},
              "posterior mode": mode(post)["values"]}
    if all(p.name in PARAMETERS for p in post.priors):
        points["the parameter table as it stands"] = {p.name: PARAMETERS[p.name].default
                                                      for p in post.priors}
    return points


def score(stats: np.ndarray, targets) -> dict:
    """The calibration's distance of replicate statistics (one row per replicate), the
    targets met (weighted targets only, as the distance counts them) and the largest misses
    in tolerance half-widths."""
    from abm.batch.abc.targets import distance

    med = np.median(stats, axis=0)
    used = [(t, s) for t, s in zip(targets, med, strict=True) if t.weight > 0]
    z = sorted(((abs(s - t.value) / t.scale, t.id, (s - t.value) / t.scale)
                for t, s in used if not (t.lo <= s <= t.hi)), reverse=True)
    return {"distance": distance(med, targets), "met": sum(t.lo <= s <= t.hi for t, s in used),
            "of": len(used), "worst": [(tid, zz) for _, tid, zz in z[:WORST]]}


def run(folder: Path, spec_path: Path, replicates: int, workers: int, seed: int) -> list[dict]:
    from abm.batch.abc import load_posterior
    from abm.batch.abc.spec import load_calibration_spec
    from abm.batch.abc.targets import target_stats
    from abm.batch.runner import execute
    from abm.batch.seeds import replication_seeds
    from abm.studies.validate import run_all

    spec = load_calibration_spec(spec_path)
    post = load_posterior(folder)
    if [p.name for p in post.priors] != [p.name for p in spec.priors]:
        raise ConfigError(f"{spec_path}'s priors are not those of the calibration in {folder}")
    points = candidate_points(post)
    seeds = replication_seeds(seed, replicates)
    one = partial(execute, spec.adapter.evaluate)  # as a calibration worker runs it
    tasks = [(one, pt, s, spec.context) for pt in points.values() for s in seeds]
    rows = [r for r, _meta in run_all(tasks, workers)]
    out = []
    for k, (name, pt) in enumerate(points.items()):
        stats = np.array([target_stats(r, spec.targets)
                          for r in rows[k * replicates:(k + 1) * replicates]])
        out.append({"summary": name, "point": pt, **score(stats, spec.targets)})
    return out


def report(results: list[dict], folder: Path, replicates: int) -> str:
    lines = [SIGNATURE, "# One point for the posterior: median or mode", "",
             f"Written by `experiments/tools/point_summaries.py` from `{folder}`: each "
             f"candidate run with the same {replicates} fresh seeds, scored as the calibration "
             f"scores a particle (the distance of the replicates' median statistics; a target "
             f"is met inside its tolerance).", "",
             "| summary | distance | targets met | largest misses (half-widths) |",
             "|---|---|---|---|"]
    for r in results:
        worst = "; ".join(f"`{tid}` {z:+.1f}" for tid, z in r["worst"])
        lines.append(f"| {r['summary']} | {r['distance']:.2f} | {r['met']} of {r['of']} | "
                     f"{worst} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    out_dir = ROOT / "results" / "calibration"
    ap = folder_tool_parser("point_summaries", __doc__, out_dir / "abc", out_dir,
                            ROOT / "experiments" / "calibration" / "england.toml")
    ap.add_argument("--replicates", type=int, default=4)
    ap.add_argument("--seed", type=int, default=7301)
    args = ap.parse_args(argv)
    try:
        if args.replicates < 1:
            raise ConfigError(f"--replicates = {args.replicates} must be at least 1")
        with output_file(Path(args.out) / "point_summaries.md", overwrite=True,
                         signed=lambda text: text.startswith(SIGNATURE)) as out:
            results = run(Path(args.folder), Path(args.spec), args.replicates, args.workers,
                          args.seed)
            atomic_write_text(out, report(results, Path(args.folder), args.replicates))
    except ConfigError as e:
        print(f"point_summaries: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
