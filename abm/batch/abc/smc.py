"""The ABC-SMC algorithm: proposals, simulations, acceptance, generations, and the driver.

:func:`calibrate` runs (or resumes) a calibration; :class:`_Engine` runs one generation at a
time. Proposals are drawn in chunks of ``batch_size`` candidates, chunk b of generation t
from its own random stream ``SeedSequence(seed, spawn_key=(0, t, b))``; simulation
(t, c, r) has seed :func:`seed_for` ``(seed, 1, t, c, r)``; candidates are judged in
candidate order and a generation ends at the candidate that brings the ``particles``-th
acceptance, whatever the order in which simulations finish. So a generation is a
deterministic function of the previous one, and a run of the spec. Finished simulations are
stored under :func:`sim_key` (at most every ``FLUSH_SECONDS``); a resumed run replays the
algorithm, reading them instead of simulating, and gives identical results.
"""

from __future__ import annotations

import math
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, wait
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from abm.batch.abc.priors import (
    importance_weights,
    kernel_cov,
    truncated_log_mass,
    truncated_moves,
)
from abm.batch.abc.report import write_generation, write_outputs
from abm.batch.abc.spec import CalibrationSpec, load_calibration_spec
from abm.batch.abc.store import AbcStore, prepare
from abm.batch.abc.targets import distance, target_stats
from abm.batch.adapter import canonical_json, sha256_text
from abm.core.errors import ConfigError

#: finished simulations are written together at most this often (a kill loses at most this)
FLUSH_SECONDS = 1.0


class CalibrationRunError(RuntimeError):
    """A simulation raised, or its rows lacked a target. Finished simulations are on disk."""


def seed_for(root: int, *key: int) -> int:
    """A seed in [0, 2**63) from the root seed and a spawn key."""
    ss = np.random.SeedSequence(root, spawn_key=tuple(int(k) for k in key))
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def sim_key(identity_hash: str, generation: int, candidate: int, replicate: int) -> str:
    return sha256_text(canonical_json({"identity": identity_hash, "generation": generation,
                                       "candidate": candidate, "replicate": replicate}))[:32]


def run_one(evaluate: Callable, point: dict, seed: int, context: dict):
    """One simulation in a worker: rows as plain lists, and timing."""
    from abm.batch.runner import execute

    return execute(evaluate, point, seed, context)


@dataclass
class Population:
    generation: int
    epsilon: float
    Y: np.ndarray  # (N, k) transformed coordinates
    points: list[dict]  # what the model received
    weights: np.ndarray
    distances: np.ndarray
    stats: np.ndarray  # (N, m) replicate medians
    rep_stats: np.ndarray  # (N, R, m)
    candidates: np.ndarray
    n_candidates: int  # candidates judged to reach N acceptances
    n_rejected_proposals: int  # outside the prior: redrawn, not simulated
    seconds: float = 0.0
    # the cost of the generation's simulations on disk (all sessions; in-flight ones
    # finished after the N-th acceptance included): count, wall seconds, CPU seconds
    simulations_run: int = 0
    simulation_seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def acceptance(self) -> float:
        return len(self.weights) / self.n_candidates

    @property
    def ess(self) -> float:
        return float(1.0 / np.sum(self.weights**2))


class _Engine:
    """Runs generations; owns the executor (opened on first need) and the sim cache."""

    def __init__(self, spec: CalibrationSpec, store: AbcStore, plan, executor, progress: bool,
                 log):
        self.spec, self.store, self.plan, self.log = spec, store, plan, log
        self.ex = executor
        self.slots = 4 if executor is not None else 1
        # Dask's concurrent.futures wrapper can race a cancel against a finishing task (the
        # result is then set on a cancelled future in the client's thread); leftovers are
        # left to finish there instead (their results are kept)
        dask = (plan is not None and plan.kind == "dask") or (
            executor is not None and type(executor).__module__.startswith("distributed"))
        self.cancel = (lambda futs: None) if dask else (lambda futs: [f.cancel() for f in futs])
        self.progress = progress
        self.ident = spec.identity_hash()
        self.costs: dict[str, tuple] = {}  # key -> (generation, wall s, CPU s)
        self.done = store.load_sims(log, self.costs)  # key -> statistics (corrupt: set aside)
        self.pending: list[dict] = []  # finished, not yet on disk
        self.flushed = time.monotonic()
        self.stack = ExitStack()
        self.executed = self.reused = 0
        self.bounds = np.array([p.bounds() for p in spec.priors], float)
        self.widths = self.bounds[:, 1] - self.bounds[:, 0]

    # -- the executor, opened lazily (a finished run replays from disk without one)
    def executor(self):
        if self.ex is None:
            warm = self.spec.adapter.warm
            if warm is not None:
                t0 = time.perf_counter()
                warm(self.spec.context)
                self.log(f"warmed the model's caches in {time.perf_counter() - t0:.1f} s")
            from abm.batch.executors import open_executor
            self.ex, self.slots = self.stack.enter_context(
                open_executor(self.plan, self.spec.adapter.preload, warm, (self.spec.context,)))
        return self.ex

    def flush(self, force: bool = False) -> None:
        """Write finished simulations: at most every FLUSH_SECONDS (so a fast model does not
        pay an fsync per simulation), and always at the end of a generation or on failure."""
        if self.pending and (force or time.monotonic() - self.flushed >= FLUSH_SECONDS):
            self.store.write_sims(self.pending)
            self.pending = []
            self.flushed = time.monotonic()

    # -- proposals
    def _valid(self, y: np.ndarray) -> dict | None:
        lo_hi = [p.bounds() for p in self.spec.priors]
        if not all(a <= v <= b for v, (a, b) in zip(y, lo_hi, strict=True)):
            return None
        point = {p.name: p.to_model(v) for p, v in zip(self.spec.priors, y, strict=True)}
        try:
            self.spec.adapter.check_point(point, "proposal")
        except ConfigError:
            return None
        return point

    def propose(self, t: int, b: int, prev: Population | None, cov) -> tuple[list, int]:
        """A batch of proposals: from the prior in generation 0; later, an ancestor drawn by
        weight and moved by the kernel of covariance ``cov``: the multivariate one redrawn
        until inside the prior, the componentwise one truncated to it."""
        spec = self.spec
        rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(0, t, b)))
        bounds = self.bounds
        truncated = spec.kernel == "componentwise"
        if prev is not None:
            chol = np.linalg.cholesky(cov)
            sd = np.sqrt(np.diag(cov))
        out, rejected = [], 0
        while len(out) < spec.batch_size:
            if prev is None:
                y = rng.uniform(bounds[:, 0], bounds[:, 1])
            elif truncated:
                j = rng.choice(len(prev.weights), p=prev.weights)
                y = truncated_moves(prev.Y[j:j + 1], sd, bounds, rng)[0]
            else:
                j = rng.choice(len(prev.weights), p=prev.weights)
                y = prev.Y[j] + chol @ rng.standard_normal(len(spec.priors))
            point = self._valid(y)
            if point is None:
                rejected += 1
                if rejected > 10_000 * spec.batch_size:
                    raise CalibrationRunError(
                        f"generation {t}: more than {rejected} proposals fell outside the prior "
                        f"or were refused by the model's check_point; the prior's support may "
                        f"be (almost) empty under [fixed], or, with many parameters, the "
                        f"multivariate kernel proposes almost nothing inside the prior: use "
                        f"kernel = \"componentwise\" (truncated to the prior)")
                continue
            out.append((y, point))
        return out, rejected

    # -- one generation
    def generation(self, t: int, eps: float, prev: Population | None) -> Population | None:
        from tqdm import tqdm

        spec = self.spec
        N, R, B = spec.particles, spec.replicates, spec.batch_size
        cmax = spec.max_simulations_per_generation // R
        cov = None
        if prev is not None:
            cov = kernel_cov(prev.Y, prev.weights, self.widths, spec.kernel)
        batches: dict[int, list] = {}
        rejected = 0

        def cand(c: int):
            nonlocal rejected
            b = c // B
            if b not in batches:
                batches[b], r = self.propose(t, b, prev, cov)
                rejected += r
            return batches[b][c % B]

        results: dict[tuple[int, int], list[float]] = {}
        accepted: list[tuple] = []
        inflight: dict = {}
        failure = None
        nxt = [0, 0]  # next (candidate, replicate) to obtain
        judged = 0
        t0 = time.perf_counter()
        tty = sys.stderr.isatty()
        bar = tqdm(total=N, unit="particle", desc=f"{spec.name} gen {t}", file=sys.stderr,
                   disable=not self.progress, mininterval=0.5 if tty else 30,
                   dynamic_ncols=True, leave=True)
        sims = 0

        def postfix():
            need = N * R if t == 0 else (sims * N / max(len(accepted), 1))
            acc = len(accepted) / judged if judged else float("nan")
            bar.set_postfix_str(f"sims {sims}/~{need:.0f} acc {acc:.3f} eps {eps:.4g}",
                                refresh=False)

        def obtain_more() -> None:
            """In candidate order: read finished simulations from disk, submit the others,
            until the window of simulations in flight is full or the generation is done."""
            while failure is None and len(accepted) < N and nxt[0] < cmax:
                c, r = nxt
                key = sim_key(self.ident, t, c, r)
                if key in self.done:
                    results[(c, r)] = self.done[key]
                    self.reused += 1
                else:
                    if len(inflight) >= max(2 * self.slots, 4):
                        return
                    ex = self.executor()
                    point = cand(c)[1]
                    seed = seed_for(spec.seed, 1, t, c, r)
                    fut = ex.submit(run_one, spec.adapter.evaluate, point, seed, spec.context)
                    inflight[fut] = (c, r, key, seed)
                nxt[:] = [c, r + 1] if r + 1 < R else [c + 1, 0]
                judge()

        def judge() -> None:
            """Judge candidates in order while all their replicates are in."""
            nonlocal judged
            while len(accepted) < N and judged < cmax and all(
                    (judged, r) in results for r in range(R)):
                c = judged
                reps = np.array([results.pop((c, r)) for r in range(R)], float)
                med = np.median(reps, axis=0)
                d = distance(med, spec.targets)
                judged += 1
                if d <= eps and math.isfinite(d):
                    y, point = cand(c)
                    accepted.append((c, y, point, d, med, reps))
                    bar.update(1)

        try:
            obtain_more()
            judge()
            while inflight:
                done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: inflight[f][:2]):
                    c, r, key, seed = inflight.pop(fut)
                    if fut.cancelled():
                        continue
                    try:
                        rows, meta = fut.result()
                        stats = target_stats(rows, spec.targets)
                    except Exception as e:  # noqa: BLE001 - reported with its simulation
                        if failure is None:
                            failure = (c, r, seed, e)
                            self.cancel(list(inflight))
                        continue
                    if not self.pending:
                        self.flushed = time.monotonic()
                    self.pending.append({
                        "key": key, "generation": t, "candidate": c, "replicate": r,
                        "seed": seed, "point": cand(c)[1], "stats": stats, "rows": rows,
                        "meta": meta})
                    self.done[key] = stats
                    self.costs[key] = (t, meta.get("seconds", math.nan),
                                       meta.get("cpu_seconds", math.nan))
                    self.executed += 1
                    sims += 1
                    results[(c, r)] = stats
                self.flush()
                judge()
                postfix()
                if len(accepted) >= N:  # finished: drop what has not started
                    self.cancel(list(inflight))
                else:
                    obtain_more()
                    judge()
        finally:
            self.flush(force=True)
            bar.close()
        if failure is not None:
            c, r, seed, e = failure
            tb = "".join(traceback.format_exception(e)).rstrip()
            hint = ("a worker process died (killed, or out of memory)"
                    if type(e).__name__ == "BrokenProcessPool" else f"{type(e).__name__}: {e}")
            raise CalibrationRunError(
                f"generation {t}, candidate {c} {cand(c)[1]}, replicate {r}, seed {seed} "
                f"failed: {hint}\n{tb}\nFinished simulations are saved in {self.store.root}; "
                f"fix the cause and rerun with --resume.")
        if len(accepted) < N:
            return None
        c_idx = np.array([a[0] for a in accepted])
        Y = np.array([a[1] for a in accepted])
        if prev is None:
            w = np.full(N, 1.0 / N)
        else:
            log_mass = (truncated_log_mass(prev.Y, np.sqrt(np.diag(cov)), self.bounds)
                        if spec.kernel == "componentwise" else None)
            w = importance_weights(Y, prev.Y, prev.weights, cov, log_mass)
        cost = np.array([c[1:] for c in self.costs.values() if c[0] == t], float).reshape(-1, 2)
        return Population(t, eps, Y, [a[2] for a in accepted], w,
                          np.array([a[3] for a in accepted]), np.array([a[4] for a in accepted]),
                          np.array([a[5] for a in accepted]), c_idx, judged, rejected,
                          time.perf_counter() - t0, len(cost), float(np.nansum(cost[:, 0])),
                          float(np.nansum(cost[:, 1])))


# ================================================================== the driver
@dataclass
class CalibrationResult:
    out: Path
    generations: list[dict]  # history rows
    stop_reason: str
    posterior: Any  # DataFrame of the final population
    best: dict  # the lowest-distance particle's parameters
    median: dict  # the posterior medians
    executed: int  # simulations run in this session
    reused: int  # simulations read from disk
    seconds: float
    executor: str


def calibrate(spec_path, out=None, *, workers: int | None = None, scheduler: str | None = None,
              resume: bool = False, progress: bool = True, executor=None,
              log=None) -> CalibrationResult:
    """Run (or resume) an ABC-SMC calibration into ``out`` (default
    ``results/calibration/<name>``). ``spec_path`` is a path or a loaded spec; ``executor``
    an already open ``concurrent.futures.Executor`` instead of ``workers``/``scheduler``."""
    from abm.batch.executors import choose

    log = log or (lambda msg: print(msg, file=sys.stderr))
    spec = spec_path if isinstance(spec_path, CalibrationSpec) else load_calibration_spec(spec_path)
    out = Path(out) if out is not None else Path("results") / "calibration" / spec.name
    plan = choose(workers, scheduler) if executor is None else None
    desc = plan.describe() if plan else type(executor).__name__
    store = AbcStore(out)
    t_start = time.perf_counter()
    with store.locked():
        prepare(store, spec, resume, log)
        eng = _Engine(spec, store, plan, executor, progress, log)
        n_done = len(eng.done)
        log(f"calibration {spec.name}: {len(spec.priors)} parameters, {len(spec.targets)} "
            f"targets, {spec.particles} particles x {spec.replicates} replicates, up to "
            f"{spec.generations} generations; {n_done} simulations on disk; {desc} -> {out}")
        store.log(event="start", executor=desc, on_disk=n_done)
        pops: list[Population] = []
        reason = f"reached generations = {spec.generations}"
        with eng.stack:
            for t in range(spec.generations):
                prev = pops[-1] if pops else None
                eps = math.inf if prev is None else max(
                    float(np.quantile(prev.distances, spec.quantile)), spec.min_epsilon)
                ruled = len(pops) >= spec.min_generations  # the stopping rules apply
                if ruled and t >= 2 and eps > (1 - spec.min_epsilon_decrease) * prev.epsilon:
                    reason = (f"epsilon stopped shrinking before generation {t}: {eps:.4g} vs "
                              f"{prev.epsilon:.4g} (min_epsilon_decrease = "
                              f"{spec.min_epsilon_decrease})")
                    break
                pop = eng.generation(t, eps, prev)
                if pop is None:
                    reason = (f"generation {t} could not find {spec.particles} particles within "
                              f"max_simulations_per_generation = "
                              f"{spec.max_simulations_per_generation}; the result is generation "
                              f"{t - 1}")
                    break
                pops.append(pop)
                write_generation(store, spec, pop)
                log(f"generation {t}: epsilon {eps:.4g}, acceptance {pop.acceptance:.3f} "
                    f"({pop.n_candidates} candidates, {pop.n_candidates * spec.replicates} "
                    f"simulations), ESS {pop.ess:.0f}")
                store.log(event="generation", generation=t, epsilon=eps, ess=pop.ess,
                          acceptance=pop.acceptance, seconds=round(pop.seconds, 3))
                ruled = len(pops) >= spec.min_generations
                if ruled and t > 0 and pop.acceptance < spec.min_acceptance:
                    reason = (f"acceptance rate {pop.acceptance:.4f} of generation {t} fell "
                              f"below min_acceptance = {spec.min_acceptance}")
                    break
                if ruled and t > 0 and eps <= spec.min_epsilon:
                    reason = f"epsilon reached min_epsilon = {spec.min_epsilon}"
                    break
        if not pops:
            raise CalibrationRunError(f"generation 0 could not find {spec.particles} particles "
                                      f"with a finite distance within "
                                      f"max_simulations_per_generation; nothing to report")
        seconds = time.perf_counter() - t_start
        res = write_outputs(store, spec, pops, reason,
                            session={"seconds": seconds, "executed": eng.executed})
        store.log(event="end", executed=eng.executed, reused=eng.reused,
                  seconds=round(seconds, 3), stop=reason)
        log(f"stopped: {reason}; ran {eng.executed} simulations, reused {eng.reused} from disk")
        return CalibrationResult(out, res["history"], reason, res["posterior"], res["best"],
                                 res["median"], eng.executed, eng.reused, seconds, desc)
