"""The resumable sweep: plan the runs, skip those already on disk, fan the rest out through
an executor, write each result atomically as it arrives.

Guarantees (tested by killing sweeps with SIGKILL):

* a run's file appears whole or not at all (written to a temporary name, fsynced, renamed);
* a run's file name is a hash of (run identity, design point, replication), so a run can
  never be written twice under two names, and a resumed sweep skips exactly the runs on
  disk;
* a run's result depends only on (point, seed, context), so the order, the executor and any
  interruptions do not change the results;
* a folder never mixes runs of two sweeps whose run identity differs (spec, model inputs,
  model code, package versions, lock file).
"""

from __future__ import annotations

import os
import socket
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from pathlib import Path

from abm.batch.adapter import canonical_json, recorded_environment, sha256_text
from abm.batch.executors import choose, open_executor, release_run_garbage
from abm.batch.seeds import replication_seeds
from abm.batch.spec import Spec
from abm.batch.store import FORMAT, ResultStore
from abm.core.errors import ConfigError

SEED_RULE = ("seed of replication r = int(SeedSequence(root).spawn(R)[r].generate_state(1, "
             "uint64)[0] >> 1), the same for every design point (common random numbers)")


class SweepRunError(RuntimeError):
    """A run raised, or a worker died. Finished runs are on disk; --resume continues."""


@dataclass(frozen=True)
class RunItem:
    key: str
    point: int
    replication: int
    seed: int


@dataclass
class SweepResult:
    out: Path
    total: int
    done_before: int
    executed: int
    seconds: float  # the fan-out: first submission to last file written
    executor: str
    warm_seconds: float = 0.0


def run_key(identity_hash: str, point: dict, replication: int) -> str:
    """``point`` is the run's model input (for a variants design: the variant's overrides,
    so renaming a variant keeps its runs)."""
    return sha256_text(canonical_json({"identity": identity_hash, "point": point,
                                       "replication": replication}))[:32]


def plan_runs(spec: Spec) -> list[RunItem]:
    """Every run, replication-major: all points' replication 0 first, so an interrupted sweep
    holds balanced, already-paired replications."""
    seeds = replication_seeds(spec.seed, spec.replications)
    ident = spec.identity_hash()
    return [RunItem(run_key(ident, p, r), i, r, seeds[r])
            for r in range(spec.replications) for i, p in enumerate(spec.design.inputs)]


def build_manifest(spec: Spec, runs: list[RunItem]) -> dict:
    env = recorded_environment()
    env["lock_sha256"] = spec.identity()["environment"]["lock_sha256"]
    lock = spec.adapter.lock_file()
    env["lock_file"] = str(lock) if lock else None
    return {
        "format": FORMAT,
        "name": spec.name,
        "description": spec.description,
        "spec_path": None if spec.path is None else str(spec.path),
        "spec_text": spec.text,
        "identity_sha256": spec.identity_hash(),
        "canonical_sha256": spec.canonical_hash(),
        "spec": spec.canonical(),
        "factors": [{"name": f.name, **f.as_dict()} for f in spec.factors],
        "design": spec.design.as_dict(),
        "replications": spec.replications,
        "seeds": {"root": spec.seed, "rule": SEED_RULE,
                  "by_replication": replication_seeds(spec.seed, spec.replications)},
        **({"posterior": spec.posterior.describe(spec.replications)}
           if spec.posterior is not None else {}),
        "period": spec.period,
        "indicators": spec.indicators,
        "units": spec.units,
        "counts": spec.counts,
        "metrics": [{"name": m.name, **m.as_dict()} for m in spec.metrics],
        "summary": {"reference": spec.reference, "band": list(spec.band),
                    "confidence": spec.confidence},
        "runs": [{"key": r.key, "point": r.point, "replication": r.replication,
                  "seed": r.seed} for r in runs],
        "environment": env,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
    }


def diff_keys(a, b, prefix: str = "", depth: int = 3) -> list[str]:
    """Dotted keys where two nested dicts differ (for error messages)."""
    if isinstance(a, dict) and isinstance(b, dict) and depth > 0:
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k):
                out += diff_keys(a.get(k), b.get(k), f"{prefix}{k}.", depth - 1)
        return out
    return [prefix.rstrip(".")] if a != b else []


def _prepare(store: ResultStore, spec: Spec, runs: list[RunItem], resume: bool, log) -> int:
    """Check the folder against the spec; write or update the manifest. Returns runs done."""
    root = store.root
    m = store.manifest()
    keys = {r.key for r in runs}
    if m is None:
        foreign = store.foreign_entries()
        if foreign or store.done_keys():
            shown = ", ".join(foreign[:3]) or "runs/"
            raise ConfigError(f"--out = {str(root)!r} is not empty ({shown}) and holds no sweep "
                              f"manifest; choose a new or empty folder")
        store.clean_temp()
        store.write_manifest(build_manifest(spec, runs))
        return 0
    new = build_manifest(spec, runs)
    done = len(keys & store.done_keys())
    same_identity = m["identity_sha256"] == new["identity_sha256"]
    same_spec = m["canonical_sha256"] == new["canonical_sha256"]
    changed = ", ".join(diff_keys(m["spec"], new["spec"])[:6]) or "the spec"
    if not same_identity:
        what = "resume into" if resume else "write into"
        raise ConfigError(
            f"--out = {str(root)!r} holds results of a different sweep (differs in: {changed}); "
            f"cannot {what} it, because runs of two sweeps would mix. Choose another --out "
            f"(spec there: {m.get('spec_path')})")
    if not resume:
        if same_spec and done == len(runs):
            raise ConfigError(f"--out = {str(root)!r} already holds all {len(runs)} runs of this "
                              f"spec; nothing to run. Use `cpabm sweep --summarise {root}` to "
                              f"rebuild the summary, or choose another --out")
        if same_spec:
            raise ConfigError(f"--out = {str(root)!r} already holds {done} of {len(runs)} runs "
                              f"of this spec; add --resume to finish it (finished runs are kept, "
                              f"not rerun), or choose another --out")
        raise ConfigError(f"--out = {str(root)!r} holds runs of this sweep with a different "
                          f"{changed}; add --resume to switch the folder to this spec (the "
                          f"{done} runs it shares are reused), or choose another --out")
    n_tmp = store.clean_temp()
    if n_tmp:
        log(f"removed {n_tmp} temporary file(s) left by an interrupted writer")
    if not same_spec:
        log(f"spec changed ({changed}): manifest updated; {done} of {len(runs)} runs reused")
        new["created"] = m.get("created", new["created"])
        store.write_manifest(new)
    return done


def execute(evaluate, point: dict, seed: int, context: dict):
    """Run one evaluation (in a worker); return its rows as plain lists and timing info."""
    t0, c0 = time.perf_counter(), time.process_time()
    rows = evaluate(point, seed, context)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if hasattr(rows, "columns"):  # a DataFrame
        ind, per, val = (rows[c].tolist() for c in ("indicator", "period", "value"))
    else:
        ind, per, val = (list(x) for x in zip(*rows, strict=True)) if len(rows) else ([], [], [])
    del rows
    release_run_garbage()  # the run's model, now garbage, freed before the next run
    return ({"indicator": [str(x) for x in ind], "period": [str(x) for x in per],
             "value": [float(x) for x in val]},
            {"seconds": round(seconds, 6), "cpu_seconds": round(cpu, 6),
             "host": socket.gethostname(), "pid": os.getpid()})


_ARROW_KIND = {"float": "float64", "int": "int64", "bool": "bool_", "category": "string"}


def run_table(spec: Spec, item: RunItem, rows: dict, meta: dict):
    """The tidy rows of one run, with its key, replication, seed and factor values. The
    design point's index is not stored: identical points share one run, and the summary
    attaches indices from the manifest."""
    import json

    import pyarrow as pa

    n = len(rows["value"])
    point = spec.design.points[item.point]
    cols = {"run": pa.array([item.key] * n, pa.string()),
            "replication": pa.array([item.replication] * n, pa.int32()),
            "seed": pa.array([item.seed] * n, pa.int64())}
    for f in spec.factors:
        cols[f.name] = pa.array([point[f.name]] * n, getattr(pa, _ARROW_KIND[f.kind])())
    cols["indicator"] = pa.array(rows["indicator"], pa.string())
    cols["period"] = pa.array(rows["period"], pa.string())
    cols["value"] = pa.array(rows["value"], pa.float64())
    table = pa.table(cols)
    return table.replace_schema_metadata({"cpabm.run": json.dumps(meta)})


def run_sweep(spec: Spec, out: str | Path, *, workers: int | None = None,
              scheduler: str | None = None, resume: bool = False, progress: bool = True,
              executor=None, window: int | None = None, log=None) -> SweepResult:
    """Run (or finish) a sweep into ``out``.

    ``executor``: an already open ``concurrent.futures.Executor`` to use instead of choosing
    one from ``workers``/``scheduler`` (the caller warms its workers)."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    store = ResultStore(out)
    runs = plan_runs(spec)
    plan = choose(workers, scheduler) if executor is None else None
    with store.locked():
        done_before = _prepare(store, spec, runs, resume, log)
        bad = store.verify_runs() if resume else {}  # a resume trusts no file unchecked
        for key, problem in bad.items():
            dest = store.quarantine(store.run_path(key))
            log(f"{store.run_path(key)}: {problem}; moved to {dest}; the run is done again")
        done_before -= len(set(bad) & {r.key for r in runs})
        finished = store.done_keys()
        pending, seen = [], set(finished)
        for r in runs:  # a repeated design point (Morris revisits) shares its runs
            if r.key not in seen:
                seen.add(r.key)
                pending.append(r)
        distinct = len({r.key for r in runs})
        desc = plan.describe() if plan else type(executor).__name__
        log(f"sweep {spec.name}: {len(spec.design.points)} design points x {spec.replications} "
            f"replications = {len(runs)} runs"
            + (f" ({distinct} distinct: repeated design points share runs)"
               if distinct < len(runs) else "")
            + f"; {distinct - len(pending)} on disk, {len(pending)} to run on {desc} -> "
            f"{store.root}")
        t0, warm_seconds = time.perf_counter(), 0.0
        if pending:
            store.log(event="start", executor=desc, pending=len(pending), total=len(runs))
            warm = spec.adapter.warm
            if warm is not None:
                warm(spec.context)  # once, here, before any fan-out
                warm_seconds = time.perf_counter() - t0
                log(f"warmed the model's caches in {warm_seconds:.1f} s")
            t0 = time.perf_counter()
            if executor is not None:
                _drive(spec, store, executor, pending, window or 4, distinct, progress)
            else:
                with open_executor(plan, spec.adapter.preload, warm, (spec.context,)) as (ex, slots):
                    _drive(spec, store, ex, pending, window or max(2 * slots, 4), distinct,
                           progress)
            store.log(event="end", executed=len(pending),
                      seconds=round(time.perf_counter() - t0, 3))
        return SweepResult(store.root, len(runs), done_before, len(pending),
                           time.perf_counter() - t0, desc, warm_seconds)


def _drive(spec: Spec, store: ResultStore, ex, pending: list[RunItem], window: int,
           total: int, progress: bool) -> None:
    from tqdm import tqdm

    evaluate = spec.adapter.evaluate
    order = {r.key: i for i, r in enumerate(pending)}
    todo = iter(pending)
    inflight: dict = {}
    failure: tuple | None = None
    tty = sys.stderr.isatty()
    bar = tqdm(total=total, initial=total - len(pending), unit="run", desc=spec.name,
               file=sys.stderr, disable=not progress, mininterval=0.5 if tty else 30,
               dynamic_ncols=True, smoothing=0.05)

    def top_up():
        while failure is None and len(inflight) < window:
            item = next(todo, None)
            if item is None:
                return
            fut = ex.submit(execute, evaluate, spec.run_input(item.point, item.replication),
                            item.seed, spec.context)
            inflight[fut] = item

    try:
        top_up()
        while inflight:
            done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: order[inflight[f].key]):  # submission order
                item = inflight.pop(fut)
                try:
                    rows, meta = fut.result()
                except Exception as e:  # noqa: BLE001 - reported with its run below
                    if failure is None:
                        failure = (item, e)
                        for f in inflight:
                            f.cancel()
                    continue
                store.write_run(item.key, run_table(spec, item, rows, meta))
                bar.update(1)
            top_up()
    finally:
        bar.close()
    if failure is not None:
        item, e = failure
        tb = "".join(traceback.format_exception(e)).rstrip()
        point = spec.design.points[item.point]
        if spec.design.run_inputs is not None:
            point = {**point, "overrides": spec.design.inputs[item.point]}
        if spec.posterior is not None:
            point = {**point, "posterior particle": spec.posterior.index(item.replication)}
        hint = ("a worker process died (killed, or out of memory)"
                if type(e).__name__ == "BrokenProcessPool" else f"{type(e).__name__}: {e}")
        raise SweepRunError(
            f"run {item.key} (design point {item.point} {point}, replication "
            f"{item.replication}, seed {item.seed}) failed: {hint}\n{tb}\n"
            f"Finished runs are saved in {store.root}; fix the cause and rerun with --resume.")
