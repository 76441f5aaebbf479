"""Write a calibration's outputs (posterior.md, calibrated.toml, ...) from the generations it
stored, when it cannot be resumed (e.g. it was stopped after the last generation it had
budget for, and the engine's code has changed since, so `--resume` refuses the folder).

    .venv/bin/python experiments/tools/abc_finish.py experiments/calibration/england.toml results/calibration/abc

It rebuilds each generation from generations/gen_NNN.parquet and the per-replicate
statistics from sims/*.json, then calls the engine's own output writer. Nothing is
re-simulated.
"""

from __future__ import annotations

import glob
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from abm.batch import abc  # noqa: E402


class _Store:
    def __init__(self, root: Path):
        self.root = root


def main(spec_path: str, out: str) -> int:
    spec = abc.load_calibration_spec(spec_path)
    root = Path(out)
    sims: dict[tuple[int, int], list] = {}
    for f in glob.glob(str(root / "sims" / "*.json")):
        for s in json.loads(Path(f).read_text()):
            sims.setdefault((s["generation"], s["candidate"]), []).append(s)
    pops = []
    for f in sorted((root / "generations").glob("gen_*.parquet")):
        df = pd.read_parquet(f)
        g = int(df["generation"].iloc[0])
        points = [{p.name: row[p.name] for p in spec.priors} for _, row in df.iterrows()]
        Y = np.array([[p.transform(pt[p.name]) for p in spec.priors] for pt in points])
        stats = df[[f"stat.{t.id}" for t in spec.targets]].to_numpy(float)
        reps = []
        for c in df["candidate"]:
            rs = sorted(sims[(g, int(c))], key=lambda s: s["replicate"])
            reps.append([s["stats"] for s in rs])
        n_cand = len({c for (gg, c) in sims if gg == g})
        d = df["distance"].to_numpy(float)
        pops.append(abc.Population(
            generation=g, epsilon=float("inf") if g == 0 else float(np.nan),
            Y=Y, points=points, weights=df["weight"].to_numpy(float), distances=d,
            stats=stats, rep_stats=np.array(reps, float),
            candidates=df["candidate"].to_numpy(int), n_candidates=n_cand,
            n_rejected_proposals=0))
    # epsilon_t is the alpha-quantile of generation t-1's distances
    for prev, pop in zip(pops, pops[1:], strict=False):
        pop.epsilon = float(np.quantile(prev.distances, spec.quantile))
    reason = (f"stopped by hand after generation {pops[-1].generation} (the session's compute "
              f"budget); outputs written by experiments/tools/abc_finish.py from the stored "
              f"generations")
    abc.write_outputs(_Store(root), spec, pops, reason)
    print(f"wrote the outputs of {len(pops)} generations to {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
