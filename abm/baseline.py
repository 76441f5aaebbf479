"""The exact seeded baseline: a regression check tied to the lock file.

``cpabm baseline`` runs ``experiments/scenarios/baseline_la.toml`` with a fixed seed and
compares every recorded output with ``tests/baseline/baseline.json``. Any difference, to the
last bit, is a change in behaviour; the message names the outputs that moved.
``cpabm baseline --update`` (``make baseline``) regenerates it, and is the only way to.
It also regenerates ``tests/baseline/replicates.json``, the same scenario's key outputs over
40 seeds: ``tests/test_regression.py`` compares fresh seeds with them (KS tests and
replicate bands), which catches behavioural drift that is not seed noise.

NumPy's stream-compatibility policy (NEP 19) promises the same stream only for the same
build, so the baseline records the SHA-256 of requirements.lock: after the lock changes, a
mismatch is expected and the baseline must be regenerated deliberately.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from . import state as S
from .scenario import PROJECT_ROOT, load_scenario

BASELINE_SCENARIO = PROJECT_ROOT / "experiments" / "scenarios" / "baseline_la.toml"
BASELINE_FILE = PROJECT_ROOT / "tests" / "baseline" / "baseline.json"
BASELINE_SEED = 12345
#: The distributional baseline: key outputs of the same scenario over many seeds, against
#: which fresh seeds are compared (KS and replicate bands, ``abm.reference.compare``).
REPLICATES_FILE = PROJECT_ROOT / "tests" / "baseline" / "replicates.json"
STORED_SEEDS = range(0, 40)
FRESH_SEEDS = range(100_000, 100_030)  # never in the stored sample


def lock_hash() -> str:
    return hashlib.sha256((PROJECT_ROOT / "requirements.lock").read_bytes()).hexdigest()


def compute(scenario_path: Path = BASELINE_SCENARIO, seed: int = BASELINE_SEED, **overrides) -> dict:
    """Run the baseline scenario and reduce it to named numbers (exact integers or floats)."""
    from .model import WORK_FIELDS, ChildProtectionModel
    from .outputs import fy_summary

    model = ChildProtectionModel(load_scenario(scenario_path, overrides), rng=seed,
                                 agent_views=False)
    model.run()
    rec = model.rec
    out: dict[str, float] = {}
    flows = rec["flow"].sum(axis=1)
    for k, name in enumerate(S.FLOWS):
        out[f"total.{name}"] = int(flows[:, k].sum())
    for k, name in enumerate(S.STATE_NAMES):
        out[f"final_stock.{name}"] = int(rec["stock_children"][-1, :, k].sum())
    dec = rec["decisions"].sum(axis=(0, 1))
    for d, name in enumerate(S.DECISION_NAMES):
        for j, m in enumerate(("TP", "FP", "TN", "FN")):
            out[f"decisions.{name}.{m}"] = int(dec[d, j])
    for k, name in enumerate(WORK_FIELDS):
        out[f"work_mean.{name}"] = float(rec["work"][:, :, k].sum(axis=1).mean())
    summ = fy_summary(model)
    for fy, row in summ.iterrows():
        for col, v in row.items():
            out[f"fy.{fy}.{col}"] = None if v != v else float(v)
    out["weekly_flow_sha256"] = hashlib.sha256(np.ascontiguousarray(rec["flow"]).tobytes()).hexdigest()
    out["weekly_stock_sha256"] = hashlib.sha256(
        np.ascontiguousarray(rec["stock_children"]).tobytes()).hexdigest()
    return out


def diff(expected: dict, actual: dict) -> list[str]:
    """Readable lines naming every output that moved."""
    lines = []
    for key in sorted(set(expected) | set(actual)):
        a, b = expected.get(key, "<missing>"), actual.get(key, "<missing>")
        if a != b:
            if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a:
                lines.append(f"  {key}: baseline {a!r} -> now {b!r} ({(b - a) / abs(a):+.2%})")
            else:
                lines.append(f"  {key}: baseline {a!r} -> now {b!r}")
    return lines


def compute_replicates(seeds, workers: int = 1, **overrides) -> dict[str, list[float]]:
    """Key outputs (``abm.reference.compare.KEY_OUTPUTS``) of the baseline scenario, one
    value per seed."""
    from .reference.compare import collect_outputs, engine_model

    sc = load_scenario(BASELINE_SCENARIO, overrides)
    out = collect_outputs(engine_model, sc, seeds, workers=workers)
    return {k: [float(x) for x in v] for k, v in out.items()}


def check_replicates(fresh: dict, alpha: float = 0.001):
    """Compare fresh-seed outputs with the stored replicates; returns the report
    (``report.passed``; ``str(report)`` names every output and its verdict)."""
    from .reference.compare import compare_samples

    stored = json.loads(REPLICATES_FILE.read_text())
    return compare_samples(stored["outputs"], fresh, alpha=alpha, labels=("stored", "fresh"))


def write_replicates() -> None:
    from .io import atomic_write_text

    outs = compute_replicates(STORED_SEEDS, workers=2)
    payload = {"scenario": str(BASELINE_SCENARIO.relative_to(PROJECT_ROOT)),
               "seeds": [STORED_SEEDS.start, STORED_SEEDS.stop], "lock_sha256": lock_hash(),
               "outputs": outs}
    atomic_write_text(REPLICATES_FILE, json.dumps(payload, indent=1, sort_keys=True) + "\n")
    print(f"wrote {REPLICATES_FILE.relative_to(PROJECT_ROOT)} ({len(STORED_SEEDS)} seeds x "
          f"{len(outs)} outputs)")


def main(update: bool = False) -> int:
    from .io import atomic_write_text

    actual = compute()
    payload = {"scenario": str(BASELINE_SCENARIO.relative_to(PROJECT_ROOT)), "seed": BASELINE_SEED,
               "lock_sha256": lock_hash(), "outputs": actual}
    if update:
        atomic_write_text(BASELINE_FILE, json.dumps(payload, indent=1, sort_keys=True) + "\n")
        print(f"wrote {BASELINE_FILE.relative_to(PROJECT_ROOT)} ({len(actual)} outputs)")
        write_replicates()
        return 0
    if not BASELINE_FILE.exists():
        print(f"no baseline at {BASELINE_FILE}; create it with `make baseline`", file=sys.stderr)
        return 1
    stored = json.loads(BASELINE_FILE.read_text())
    if stored["lock_sha256"] != payload["lock_sha256"]:
        print("requirements.lock changed since the baseline was made; random streams may "
              "legitimately differ. Regenerate deliberately with `make baseline`.", file=sys.stderr)
        return 1
    lines = diff(stored["outputs"], actual)
    if lines:
        print(f"{len(lines)} baseline outputs moved:\n" + "\n".join(lines), file=sys.stderr)
        return 1
    print(f"baseline matches ({len(actual)} outputs)")
    return 0
