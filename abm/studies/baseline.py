"""The exact seeded baseline: a regression check tied to the lock file.

``cpabm baseline`` runs the packaged scenario ``baseline_la`` with a fixed seed and
compares every recorded output with ``tests/golden/baseline/baseline.json``. Any
difference, to the last bit, is a change in behaviour; the message names the outputs that
moved.
``cpabm baseline --update`` (``make baseline``) regenerates it, and is the only way to.
It also regenerates ``tests/golden/baseline/replicates.json``, the same scenario's key outputs
over 40 seeds: ``tests/golden/test_regression.py`` compares fresh seeds with them (KS tests and
replicate bands), which catches behavioural drift that is not seed noise. It says what moved:
how many baseline outputs, and each key output's median over the 40 seeds, before and after
(:func:`change_summary`), for the commit message of the ``golden:`` commit.

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

from abm.core import indicators as I
from abm.core import state as S
from abm.core.errors import ConfigError
from abm.core.io import project_root
from abm.core.scenario import load_scenario, small_la_scenario

BASELINE_SCENARIO = "baseline_la"  # packaged (abm/data/scenarios)
BASELINE_SEED = 12345
STORED_SEEDS = range(0, 40)
FRESH_SEEDS = range(100_000, 100_030)  # never in the stored sample
#: Where the golden files live in a checkout (compared by the tests in tests/golden/).
BASELINE_DIR = ("tests", "golden", "baseline")


def checkout_file(*parts: str) -> Path:
    """A developer file of the cpabm checkout (the baselines live in ``BASELINE_DIR``)."""
    root = project_root()
    if root is None:
        raise ConfigError("the exact baselines belong to a cpabm checkout "
                          "(tests/golden/baseline/); run this from inside one")
    return root.joinpath(*parts)


def baseline_file() -> Path:
    return checkout_file(*BASELINE_DIR, "baseline.json")


def replicates_file() -> Path:
    """The distributional baseline: key outputs of the same scenario over many seeds, against
    which fresh seeds are compared (KS and replicate bands, ``abm.reference.compare``)."""
    return checkout_file(*BASELINE_DIR, "replicates.json")


def fingerprints_file() -> Path:
    return checkout_file(*BASELINE_DIR, "fingerprints.json")


def lock_hash() -> str:
    return hashlib.sha256(checkout_file("requirements.lock").read_bytes()).hexdigest()


def compute(scenario_path: str | Path = BASELINE_SCENARIO, seed: int = BASELINE_SEED, **overrides) -> dict:
    """Run the baseline scenario and reduce it to named numbers (exact integers or floats)."""
    from abm.core.model import ChildProtectionModel
    from abm.outputs.tables import summary

    model = ChildProtectionModel(load_scenario(scenario_path, overrides), rng=seed,
                                 agent_views=False)
    model.run()
    rec = model.record
    out: dict[str, float] = {}
    for name in I.FLOW_NAMES:
        out[f"total.{name}"] = int(model.series(name).sum())
    for k, name in enumerate(S.STATE_NAMES):
        out[f"final_stock.{name}"] = int(rec.stock_children[-1, :, k].sum())
    dec = rec.decisions.sum(axis=(0, 1))
    for d, name in enumerate(S.DECISION_NAMES):
        for j, m in enumerate(("TP", "FP", "TN", "FN")):
            out[f"decisions.{name}.{m}"] = int(dec[d, j])
    for name in I.WORK_NAMES:
        out[f"work_mean.{name[len('work_'):]}"] = float(model.series(name).mean())
    summ = summary(model, "fy")
    for fy, row in summ.iterrows():
        for col, v in row.items():
            out[f"fy.{fy}.{col}"] = None if v != v else float(v)
    out["weekly_flow_sha256"] = hashlib.sha256(np.ascontiguousarray(rec.flow).tobytes()).hexdigest()
    out["weekly_stock_sha256"] = hashlib.sha256(
        np.ascontiguousarray(rec.stock_children).tobytes()).hexdigest()
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
    from abm.reference.compare import collect_outputs, engine_model

    sc = load_scenario(BASELINE_SCENARIO, overrides)
    out = collect_outputs(engine_model, sc, seeds, workers=workers)
    return {k: [float(x) for x in v] for k, v in out.items()}


def check_replicates(fresh: dict, alpha: float = 0.001):
    """Compare fresh-seed outputs with the stored replicates; returns the report
    (``report.passed``; ``str(report)`` names every output and its verdict)."""
    from abm.reference.compare import compare_samples

    stored = json.loads(replicates_file().read_text())
    return compare_samples(stored["outputs"], fresh, alpha=alpha, labels=("stored", "fresh"))


def write_replicates() -> None:
    from abm.core.io import atomic_write_text

    outs = compute_replicates(STORED_SEEDS, workers=2)
    payload = {"scenario": BASELINE_SCENARIO,
               "seeds": [STORED_SEEDS.start, STORED_SEEDS.stop], "lock_sha256": lock_hash(),
               "outputs": outs}
    atomic_write_text(replicates_file(), json.dumps(payload, indent=1, sort_keys=True) + "\n")
    print(f"wrote {replicates_file()} ({len(STORED_SEEDS)} seeds x {len(outs)} outputs)")


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())["outputs"]
    except (OSError, ValueError, KeyError):
        return None


def change_summary(old_base: dict | None, new_base: dict, old_reps: dict | None,
                   new_reps: dict) -> list[str]:
    """What a regeneration changed: the number of baseline outputs that moved, and each
    key output's median over the stored seeds, before -> after (relative change)."""
    if old_base is None or old_reps is None:
        return ["no earlier golden files to compare with"]
    lines = [f"baseline: {len(diff(old_base, new_base))} of {len(new_base)} outputs moved"]
    for key in sorted(new_reps):
        a = float(np.nanmedian(old_reps[key])) if old_reps.get(key) else float("nan")
        b = float(np.nanmedian(new_reps[key]))
        rel = f" ({(b - a) / abs(a):+.1%})" if a == a and a != 0 else ""
        lines.append(f"  {key}: median {a:.4g} -> {b:.4g}{rel}")
    return lines


def main(update: bool = False) -> int:
    from abm.core.io import atomic_write_text

    actual = compute()
    payload = {"scenario": BASELINE_SCENARIO, "seed": BASELINE_SEED,
               "lock_sha256": lock_hash(), "outputs": actual}
    path = baseline_file()
    if update:
        old_base, old_reps = _read(path), _read(replicates_file())
        atomic_write_text(path, json.dumps(payload, indent=1, sort_keys=True) + "\n")
        print(f"wrote {path} ({len(actual)} outputs)")
        write_replicates()
        write_fingerprints()
        print("\n".join(change_summary(old_base, actual, old_reps, _read(replicates_file()))))
        return 0
    if not path.exists():
        print(f"no baseline at {path}; create it with `make baseline`", file=sys.stderr)
        return 1
    stored = json.loads(path.read_text())
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


# ------------------------------------------------------------------ exact fingerprints
# A finer check than the baseline, for changes meant to be exact (refactoring, speed): for a
# set of runs, the SHA-256 of every recorded series, by name, of every final state table's
# columns and of every random stream's final state (a change in the number of draws is caught
# even when the outputs happen to agree). Names, not memory layouts, are hashed, so a change
# of layout that keeps every value is seen as identical. `cpabm baseline --fingerprints`.


def fingerprint_cases(full: bool = True) -> list[tuple[str, object, int]]:
    """(name, scenario, seed) of the runs fingerprinted; ``full`` adds England at 5%."""
    cases = [(f"small_la/seed{s}", load_scenario("small_la"), s) for s in (1, 2, 3)]
    for regime in ("professional_judgment", "multi_agency_triage", "integrated_front_door",
                   "early_help", "fdac"):
        cases.append((f"small_la_{regime}/seed1",
                      small_la_scenario(children=20_000, years=2, regime=regime), 1))
    cases.append(("baseline_la/seed12345", load_scenario(BASELINE_SCENARIO), BASELINE_SEED))
    if full:
        cases.append(("england_s05/seed1", load_scenario(
            checkout_file("experiments", "scenarios", "england_2011_2015_s05.toml")), 1))
    return cases


def _sha(a) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes()).hexdigest()[:20]


def fingerprint(model) -> dict[str, str]:
    """SHA-256 (truncated) of a finished model's recorded series, state tables and streams."""
    rec = model.record
    out = {}
    for s in I.SERIES:  # by name (stocks are hashed whole below)
        if s.table in ("flow", "work", "court", "national"):
            prefix = {"flow": "flow.", "work": "work.", "court": "court.", "national": "national."}[s.table]
            short = s.name.split("_", 1)[1] if s.table in ("work", "court") else s.name
            out[prefix + short] = _sha(rec.series(s.name, by_unit=s.table != "national"))
    for key in ("stock_fam", "stock_children", "trans", "decisions", "referrers",
                "caseload_hist", "experience_hist", "reunify", "score_hist"):
        out[f"rec.{key}"] = _sha(getattr(rec, key))
    for tname in ("fam", "work", "las", "courts", "cases"):
        table = getattr(model, tname)
        for field, arr in zip(table._fields, table, strict=True):
            out[f"{tname}.{field}"] = _sha(arr)
    for name, g in model.streams.items():
        state = json.dumps(g.bit_generator.state, sort_keys=True, default=str).encode()
        out[f"stream.{name}"] = hashlib.sha256(state).hexdigest()[:20]
    out["loops"] = repr(model.loops)
    out["status"] = repr((model.status_level, model.turnover_annual))
    return out


def fingerprints(full: bool = True) -> dict[str, dict[str, str]]:
    from abm.core.model import ChildProtectionModel

    res = {}
    for name, scenario, seed in fingerprint_cases(full):
        m = ChildProtectionModel(scenario, rng=seed, agent_views=False)
        m.run()
        res[name] = fingerprint(m)
        print(f"fingerprinted {name}", file=sys.stderr)
    return res


def fingerprint_diff(expected: dict, actual: dict) -> list[str]:
    """The keys whose hashes differ, and those present on one side only."""
    lines = []
    for case in expected:
        if case not in actual:
            continue
        for key in sorted(set(expected[case]) | set(actual[case])):
            if actual[case].get(key) != expected[case].get(key):
                lines.append(f"{case}: {key}")
    return lines


def write_fingerprints() -> None:
    from abm.core.io import atomic_write_text

    atomic_write_text(fingerprints_file(), json.dumps(fingerprints(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {fingerprints_file()}")


def check_fingerprints(quick: bool = False) -> int:
    got = fingerprints(full=not quick)
    lines = fingerprint_diff(json.loads(fingerprints_file().read_text()), got)
    print("\n".join(lines) if lines else f"identical ({len(got)} runs)")
    return 1 if lines else 0
