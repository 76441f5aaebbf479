"""Top up a finished calibration's final generation to an effective sample size
(``cpabm calibrate SPEC --out DIR --top-up ESS``).

A generation of ABC-SMC is an importance sample: candidates drawn from the previous
population's kernel mixture, accepted when their distance is within the generation's
tolerance, weighted by prior over proposal density. Its effective sample size (ESS) grows
with the number accepted. When a run stops with a final ESS below what a report needs, a
further generation (at a smaller tolerance and a lower acceptance rate) is the expensive way
to more particles; this is the cheap one: the same generation, continued. The candidate
stream is deterministic (chunk b of generation t from its own seed) and candidates are judged
in order, so continuing it to N' > N acceptances keeps the N particles the run accepted,
with the same tolerance and proposal, and adds the next ones; the weights are those the
engine gives (:func:`abm.batch.abc.priors.importance_weights`), normalised over all N'.

N' is fixed before any new candidate is seen: ``ceil(N * target / ESS_N)``, rounded up to a
multiple of 10 (ESS grows about in proportion), so the stopping point does not depend on the
new particles' weights. The result says what the ESS then is; a shortfall is reported, not
hidden.

**It must be the run's algorithm and model.** The folder's simulations are keyed on the
run's identity; this tool reuses them under that identity, so it first checks, and refuses
otherwise, that

* the spec is the run's (its identity equals the manifest's, apart from the code and
  environment digests, which this check replaces);
* replaying the run from its simulations gives back every stored generation exactly (the
  engine's logic is the run's);
* ``verify`` stored simulations of the final generation, run again, give the same
  statistics exactly (the model's code gives the run's results).

The topped-up generation replaces the final one in the outputs (``posterior.parquet``,
``generations/``, ``history.csv``, ``result.json``), with a ``top_up`` record in
``result.json`` and ``log.jsonl``. ``--resume`` then refuses the folder, since replaying the
run would rewrite the outputs without the top-up (:func:`abm.batch.abc.store.prepare`);
``--top-up`` with a larger target extends it, reusing its simulations (the particles are
fixed by the target, so the same target again is refused).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from abm.batch.abc.report import write_generation, write_outputs
from abm.batch.abc.smc import _Engine, run_one, seed_for
from abm.batch.abc.spec import CalibrationSpec, load_calibration_spec
from abm.batch.abc.store import GENS, AbcStore
from abm.batch.abc.targets import target_stats
from abm.batch.adapter import sha256_file
from abm.core.errors import ConfigError
from abm.core.io import atomic_write_text

#: identity entries that record the code and the environment, which the checks replace
CODE_KEYS = ("engine_sha256", "environment")


def _without_code(identity: dict) -> dict:
    ident = {k: v for k, v in identity.items() if k not in CODE_KEYS}
    ident["inputs"] = {k: v for k, v in identity.get("inputs", {}).items()
                       if k != "code_sha256"}
    return ident


def particles_for(n: int, ess: float, target: float) -> int:
    """The particles a generation of ``n`` with ``ess`` needs for ``target`` (ESS grows about
    in proportion), rounded up to a multiple of 10."""
    return int(math.ceil(n * target / ess / 10.0) * 10)


def replay(spec: CalibrationSpec, eng: _Engine, store: AbcStore, final: int,
           topped: bool = False) -> list:
    """The run's generations 0..``final`` replayed from its simulations (a finished run has
    them all on disk), each checked against its stored table. With ``topped`` (the final
    generation was topped up before), its stored table begins with the replayed particles,
    whose weights it holds normalised over more."""
    import pandas as pd

    pops = []
    for t in range(final + 1):
        prev = pops[-1] if pops else None
        eps = math.inf if prev is None else max(
            float(np.quantile(prev.distances, spec.quantile)), spec.min_epsilon)
        pop = eng.generation(t, eps, prev)
        stored = pd.read_parquet(store.root / GENS / f"gen_{t:03d}.parquet")
        k = 0 if pop is None else len(pop.weights)
        w = stored["weight"].to_numpy()[:k]
        more = topped and t == final and len(stored) > k
        if (pop is None or (len(stored) != k and not more)
                or not np.array_equal(stored["candidate"].to_numpy()[:k], pop.candidates)
                or not np.allclose(w / w.sum() if more else w, pop.weights, rtol=1e-9,
                                   atol=0.0)):
            raise ConfigError(f"{store.root}: replaying the run from its simulations does not "
                              f"give back generation {t} as stored; this code's algorithm is "
                              f"not the run's, so the run cannot be topped up with it")
        pops.append(pop)
    return pops


def verify_simulations(spec: CalibrationSpec, eng: _Engine, store: AbcStore, t: int,
                       k: int, log) -> int:
    """Run ``k`` stored simulations of generation ``t`` again (the first k on disk) and
    require the same statistics exactly. Returns how many were checked."""
    recs = []
    for f in store.sim_files():
        for r in json.loads(f.read_bytes()):
            if int(r["generation"]) == t:
                recs.append(r)
                if len(recs) >= k:
                    break
        if len(recs) >= k:
            break
    ex = eng.executor()
    futs = [(r, ex.submit(run_one, spec.adapter.evaluate, r["point"], int(r["seed"]),
                          spec.context)) for r in recs]
    for r, fut in futs:
        rows, _meta = fut.result()
        got = target_stats(rows, spec.targets)
        if seed_for(spec.seed, 1, t, int(r["candidate"]), int(r["replicate"])) != int(r["seed"]) \
                or not np.array_equal(np.array(got, float), np.array(r["stats"], float),
                                      equal_nan=True):
            raise ConfigError(f"{store.root}: simulation (generation {t}, candidate "
                              f"{r['candidate']}, replicate {r['replicate']}) run again gives "
                              f"other statistics than the run's; this code's model is not the "
                              f"run's, so the run cannot be topped up with it")
    log(f"verified {len(recs)} simulation(s) of generation {t}: identical to the run's")
    return len(recs)


def top_up(spec_path, out, target_ess: float, *, workers: int | None = None,
           scheduler: str | None = None, verify: int = 2, progress: bool = True,
           log=None) -> dict:
    """Top up the final generation of the finished calibration in ``out`` to an ESS of about
    ``target_ess`` (module docstring). Returns the ``top_up`` record."""
    from abm.batch.executors import choose

    log = log or (lambda msg: print(msg, file=sys.stderr))
    if isinstance(target_ess, bool) or not isinstance(target_ess, (int, float)) \
            or not target_ess > 0:
        raise ConfigError(f"--top-up = {target_ess!r} must be an ESS > 0")
    if isinstance(verify, bool) or not isinstance(verify, int) or verify < 1:
        raise ConfigError(f"verify = {verify!r} must be a whole number >= 1")
    spec = spec_path if isinstance(spec_path, CalibrationSpec) else load_calibration_spec(spec_path)
    store = AbcStore(out)
    m = store.manifest()
    result = store.root / "result.json"
    if m is None or not result.exists():
        raise ConfigError(f"--out = {str(store.root)!r} holds no finished calibration "
                          f"(manifest.json and result.json); run `cpabm calibrate` first")
    if _without_code(m["spec"]["identity"]) != _without_code(spec.identity()):
        from abm.batch.runner import diff_keys
        what = ", ".join(diff_keys(_without_code(m["spec"]["identity"]),
                                   _without_code(spec.identity()))[:6])
        raise ConfigError(f"{spec.path}: not the spec of the run in {store.root} (differs in: "
                          f"{what})")
    done = json.loads(result.read_text())
    final = int(done["final_generation"])
    earlier = done.get("top_up")
    if earlier is not None and earlier["ess"] >= target_ess:
        raise ConfigError(f"the final generation's ESS is {earlier['ess']:.0f} already (topped "
                          f"up to {earlier['particles']} particles), at least --top-up = "
                          f"{target_ess:g}; nothing to do")
    plan = choose(workers, scheduler)
    t_start = time.perf_counter()
    with store.locked():
        eng = _Engine(spec, store, plan, None, progress, log)
        eng.ident = m["identity_sha256"]  # the run's simulations, keyed as the run keyed them
        with eng.stack:
            checked = verify_simulations(spec, eng, store, final, verify, log)
            pops = replay(spec, eng, store, final, topped=earlier is not None)
            last = pops[-1]
            n, ess = len(last.weights), last.ess
            if ess >= target_ess:
                raise ConfigError(f"the final generation's ESS is {ess:.0f} already, at least "
                                  f"--top-up = {target_ess:g}; nothing to do")
            n2 = particles_for(n, ess, target_ess)
            if earlier is not None and n2 <= earlier["particles"]:
                raise ConfigError(
                    f"--top-up = {target_ess:g} asks for {n2} particles, no more than the "
                    f"{earlier['particles']} an earlier top-up reached (ESS "
                    f"{earlier['ess']:.0f}); the number of particles is fixed by the target "
                    f"(N x target / ESS of the run's own {n}), so give a larger target")
            log(f"generation {final}: {n} particles, ESS {ess:.1f}; continuing it to {n2} "
                f"particles at epsilon {last.epsilon:.4g}")
            store.log(event="start", executor=plan.describe(), on_disk=len(eng.done),
                      top_up=target_ess)
            eng.spec = dataclasses.replace(spec, particles=n2)
            prev = pops[-2] if len(pops) > 1 else None
            pop = eng.generation(final, last.epsilon, prev)
            eng.spec = spec
        if pop is None:
            raise ConfigError(f"generation {final} could not reach {n2} particles within "
                              f"max_simulations_per_generation = "
                              f"{spec.max_simulations_per_generation}; nothing was changed "
                              f"but the simulations on disk")
        if not np.array_equal(pop.candidates[:n], last.candidates):
            raise ConfigError("the continued generation does not begin with the run's "
                              "particles; nothing was changed but the simulations on disk")
        record = {"generation": final, "particles_before": n, "ess_before": round(ess, 2),
                  "particles": n2, "ess": round(pop.ess, 2), "target_ess": target_ess,
                  "epsilon": last.epsilon, "candidates_before": last.n_candidates,
                  "candidates": pop.n_candidates, "simulations_run": eng.executed,
                  "verified_simulations": checked,
                  "code_identity": {"engine_sha256": spec.identity()["engine_sha256"],
                                    "code_sha256": spec.identity()["inputs"].get("code_sha256"),
                                    "topup_sha256": sha256_file(Path(__file__))},
                  "reached": bool(pop.ess >= target_ess)}
        big = dataclasses.replace(spec, particles=n2)
        write_generation(store, big, pop)
        reason = done["stop_reason"].split("; then generation")[0]
        write_outputs(store, big, [*pops[:-1], pop],
                      f"{reason}; then generation {final} continued from {n} to {n2} "
                      f"particles (ESS {ess:.0f} -> {pop.ess:.0f}; --top-up {target_ess:g})",
                      session={"seconds": time.perf_counter() - t_start,
                               "executed": eng.executed})
        res = json.loads(result.read_text())
        res["top_up"] = record
        atomic_write_text(result, json.dumps(res, indent=1, default=float) + "\n")
        store.log(event="top_up", **{k: v for k, v in record.items() if k != "code_identity"})
        store.log(event="end", executed=eng.executed, reused=eng.reused,
                  seconds=round(time.perf_counter() - t_start, 3), stop="top-up")
    short = "" if record["reached"] else (
        f", NOT reached: --top-up with a larger target, about {target_ess**2 / pop.ess:.0f}, "
        f"continues it, reusing these simulations")
    log(f"generation {final}: {n2} particles, ESS {pop.ess:.1f} (target {target_ess:g}{short}); ran "
        f"{eng.executed} simulations")
    return record

