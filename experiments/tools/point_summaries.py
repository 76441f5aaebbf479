"""Which one point should stand for the posterior: the marginal medians, the mode, or the
best-fitting particle? Each candidate is run on fresh seeds and scored as the calibration
scores a particle, so the calibrated values' summary is chosen on evidence and the report can
say why.

    python experiments/tools/point_summaries.py [results/calibration/abc] [--out results/calibration]
        [--spec experiments/calibration/england.toml] [--replicates 4] [--shortlist 12]
        [--workers 2] [--seed 7301]

The candidates:

* **the posterior median**: each parameter's weighted marginal median
  (``abm.batch.abc.summarise``), what ``apply_calibration.py`` writes by default;
* **the posterior mode**: the particle at the highest kernel density of the particles
  (``abm.batch.abc.mode``), a point the run accepted, which stays on a curved posterior
  where the marginal medians may fall off it (``apply_calibration.py --point mode``);
* **the best-fitting particle**: of the ``--shortlist`` particles with the smallest distance
  in the run, the one with the smallest distance on ``--replicates`` selection seeds of its
  own (``apply_calibration.py --point particle=N``). The run's distances were measured on
  the seeds that accepted those particles, and the selection distance on the seeds that
  chose among them, so both flatter the winner; its score is therefore taken, like the
  others', on the scoring seeds, which played no part in choosing it;
* **the parameter table as it stands** (``abm/data/parameters.toml``), for reference (when
  every calibrated parameter is one of the model's).

Each runs the spec's scenario with ``--replicates`` scoring seeds (the same seeds for every
candidate: common random numbers); the statistics are the replicates' median, the distance is
the calibration's, and a target is met inside its tolerance. The scoring and the selection
seeds are distinct children of one ``SeedSequence(--seed)``.

**The choice**, by a rule fixed in advance, not after seeing the scores: the posterior
candidate (median, mode or best-fitting particle; not the table) with the smallest distance
on the scoring seeds, ties to the earlier in that order (:func:`choose`). Writes
``point_summaries.md`` and ``point_summaries.json`` (the scores and the choice, with the
run's identity); ``apply_calibration.py --point-from point_summaries.json`` writes the
choice, and ``make calibration-outputs`` does so unless ``POINT`` is given.
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
from abm.studies.targets import load_targets  # noqa: E402

SIGNATURE = "<!-- written by experiments/tools/point_summaries.py -->"
#: ``written_by`` of point_summaries.json
WRITER = "experiments/tools/point_summaries.py"
#: the largest misses listed per candidate
WORST = 4
#: the review's own figures: the targets of the seed file (abm/data/targets/england_2005_2011.toml)
SEED_IDS = frozenset(t.id for t in load_targets(extra=()))


def candidate_points(post, best: int | None = None) -> list[dict]:
    """The candidates: ``summary`` (a name), ``arg`` (``apply_calibration.py --point`` that
    writes it; None for the table) and ``point`` (the values as the model receives them):
    the median, the mode, the particle ``best`` if given (:func:`select_best`), and the
    table's defaults when every calibrated parameter is one of the model's."""
    from abm.batch.abc import mode, particle, summarise
    from abm.core.params import PARAMETERS

    m = mode(post)
    points = [{"summary": "posterior median", "arg": "median",
               "point": {r["parameter"]: r["value"] for r in summarise(post)}},
              {"summary": f"posterior mode (particle {m['index']})", "arg": "mode",
               "point": m["values"]}]
    if best is not None:
        points.append({"summary": f"best-fitting particle {best}", "arg": f"particle={best}",
                       "point": particle(post, best)})
    if all(p.name in PARAMETERS for p in post.priors):
        points.append({"summary": "the parameter table as it stands", "arg": None,
                       "point": {p.name: PARAMETERS[p.name].default for p in post.priors}})
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
    own = [(t, s) for t, s in used if t.id in SEED_IDS]
    return {"distance": float(distance(med, targets)),
            "met": int(sum(bool(t.lo <= s <= t.hi) for t, s in used)), "of": len(used),
            "seed_met": int(sum(bool(t.lo <= s <= t.hi) for t, s in own)), "seed_of": len(own),
            "worst": [(tid, float(zz)) for _, tid, zz in z[:WORST]]}


def simulate(spec, points: list[dict], seeds: list[int], workers: int) -> list[np.ndarray]:
    """Each point's target statistics on every seed (one array of replicates x targets per
    point), run as a calibration worker runs a particle."""
    from abm.batch.abc.targets import target_stats
    from abm.batch.runner import execute
    from abm.studies.validate import run_all

    one = partial(execute, spec.adapter.evaluate)
    tasks = [(one, pt, s, spec.context) for pt in points for s in seeds]
    rows = [r for r, _meta in run_all(tasks, workers)]
    n = len(seeds)
    return [np.array([target_stats(r, spec.targets) for r in rows[k * n:(k + 1) * n]])
            for k in range(len(points))]


def select_best(post, spec, shortlist: int, seeds: list[int], workers: int) -> list[dict]:
    """The ``shortlist`` particles closest in the run (:func:`abm.batch.abc.closest`), each
    with its run distance and its distance on the selection ``seeds``; the best (smallest
    selection distance, ties to the closer in the run) first."""
    from abm.batch.abc import closest, particle
    from abm.batch.abc.targets import distance

    idx = closest(post, shortlist)
    stats = simulate(spec, [particle(post, i) for i in idx], seeds, workers)
    rows = [{"particle": i, "run_distance": float(post.frame["distance"].iloc[i]),
             "selection_distance": float(distance(np.median(st, axis=0), spec.targets)),
             "order": k}
            for k, (i, st) in enumerate(zip(idx, stats, strict=True))]
    return sorted(rows, key=lambda r: (r["selection_distance"], r["order"]))


def run(folder: Path, spec_path: Path, replicates: int, workers: int, seed: int,
        shortlist: int = 12) -> tuple[list[dict], list[dict]]:
    """The candidates scored on the scoring seeds, and the shortlist the best-fitting particle
    was chosen from (empty with ``shortlist = 0``)."""
    from abm.batch.abc import load_posterior
    from abm.batch.abc.spec import load_calibration_spec
    from abm.batch.seeds import replication_seeds

    spec = load_calibration_spec(spec_path)
    post = load_posterior(folder)
    if [p.name for p in post.priors] != [p.name for p in spec.priors]:
        raise ConfigError(f"{spec_path}'s priors are not those of the calibration in {folder}")
    seeds = replication_seeds(seed, 2 * replicates)
    scoring, selection = seeds[:replicates], seeds[replicates:]
    chosen = select_best(post, spec, shortlist, selection, workers) if shortlist > 0 else []
    points = candidate_points(post, chosen[0]["particle"] if chosen else None)
    stats = simulate(spec, [c["point"] for c in points], scoring, workers)
    return ([{**c, **score(st, spec.targets)} for c, st in zip(points, stats, strict=True)],
            chosen)


def choose(results: list[dict]) -> str:
    """The ``--point`` of the posterior candidate with the smallest distance on the scoring
    seeds (the table is not a candidate), ties to the earlier one."""
    cands = [r for r in results if r["arg"] is not None]
    if not cands:
        raise ConfigError("no posterior candidate was scored")
    return min(cands, key=lambda r: r["distance"])["arg"]


def choice_json(results: list[dict], shortlist: list[dict], identity: str, folder: Path,
                replicates: int, seed: int) -> str:
    """point_summaries.json: the scores, the shortlist and the choice, with the run's identity
    (``apply_calibration.py --point-from`` refuses a choice made on another run)."""
    import json

    return json.dumps({"written_by": WRITER, "folder": str(folder), "identity_sha256": identity,
                       "replicates": replicates, "seed": seed, "chosen": choose(results),
                       "rule": "the posterior candidate with the smallest distance on the "
                               "scoring seeds",
                       "candidates": [{k: r[k] for k in ("summary", "arg", "distance", "met",
                                                         "of")} for r in results],
                       "shortlist": list(shortlist)}, indent=1) + "\n"


def report(results: list[dict], folder: Path, replicates: int,
           shortlist: list[dict] = ()) -> str:
    lines = [SIGNATURE, "# One point for the posterior", "",
             f"Written by `experiments/tools/point_summaries.py` from `{folder}`: each "
             f"candidate run with the same {replicates} fresh scoring seeds, scored as the "
             f"calibration scores a particle (the distance of the replicates' median "
             f"statistics; a target is met inside its tolerance; in brackets, of the "
             f"review's own figures, the seed file's targets).", "",
             "| summary | distance | targets met | largest misses (half-widths) | written by |",
             "|---|---|---|---|---|"]
    for r in results:
        worst = "; ".join(f"`{tid}` {z:+.1f}" for tid, z in r["worst"])
        how = f"`--point {r['arg']}`" if r["arg"] else "(the table before)"
        own = f" ({r['seed_met']} of {r['seed_of']})" if r.get("seed_of") else ""
        lines.append(f"| {r['summary']} | {r['distance']:.2f} | {r['met']} of {r['of']}{own} | "
                     f"{worst} | {how} |")
    lines += ["", "`written by`: the option of `experiments/tools/apply_calibration.py` that "
              "writes the candidate into the parameter table. **Chosen** by the rule fixed "
              "in advance (the posterior candidate with the smallest "
              f"distance on the scoring seeds): `--point {choose(results)}`, which `make "
              "calibration-outputs` writes unless `POINT` says otherwise."]
    if shortlist:
        lines += ["", "## How the best-fitting particle was chosen", "",
                  f"The {len(shortlist)} particles of the final generation with the smallest "
                  f"distance in the run, each run again on {replicates} selection seeds "
                  f"(distinct from the scoring seeds); the smallest selection distance chose "
                  f"particle {shortlist[0]['particle']}. Both columns flatter the particles "
                  f"they ranked (each was measured on the seeds that picked it), which is why "
                  f"the table above scores the chosen one on seeds that played no part.", "",
                  "| particle | distance in the run | selection distance |", "|---|---|---|"]
        lines += [f"| {r['particle']} | {r['run_distance']:.2f} | "
                  f"{r['selection_distance']:.2f} |"
                  for r in sorted(shortlist, key=lambda r: r["order"])]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    out_dir = ROOT / "results" / "calibration"
    ap = folder_tool_parser("point_summaries", __doc__, out_dir / "abc", out_dir,
                            ROOT / "experiments" / "calibration" / "england.toml")
    ap.add_argument("--replicates", type=int, default=4)
    ap.add_argument("--shortlist", type=int, default=12,
                    help="particles the best-fitting one is chosen from (0: none)")
    ap.add_argument("--seed", type=int, default=7301)
    args = ap.parse_args(argv)
    try:
        if args.replicates < 1:
            raise ConfigError(f"--replicates = {args.replicates} must be at least 1")
        if args.shortlist < 0:
            raise ConfigError(f"--shortlist = {args.shortlist} must be at least 0")
        with (output_file(Path(args.out) / "point_summaries.md", overwrite=True,
                          signed=lambda text: text.startswith(SIGNATURE)) as out,
              output_file(Path(args.out) / "point_summaries.json", overwrite=True,
                          signed=lambda text: f'"written_by": "{WRITER}"' in text) as js):
            from abm.batch.abc import load_posterior

            results, chosen = run(Path(args.folder), Path(args.spec), args.replicates,
                                  args.workers, args.seed, args.shortlist)
            identity = load_posterior(args.folder).identity_sha256
            atomic_write_text(js, choice_json(results, chosen, identity, Path(args.folder),
                                              args.replicates, args.seed))
            atomic_write_text(out, report(results, Path(args.folder), args.replicates,
                                          chosen))
    except ConfigError as e:
        print(f"point_summaries: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out} and {js}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
