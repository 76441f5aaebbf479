"""Where a calibration stands, read from its folder alone, without running or changing it
(``cpabm calibrate SPEC --out DIR --status``): safe beside a running calibration, and the way
to plan the rest of one that spans several sittings.

* the finished generations, from ``log.jsonl`` (tolerance, acceptance, ESS, wall time);
* the generation in progress: its tolerance (the ``quantile`` of the last finished
  generation's distances, as the engine sets it), the simulations on disk, the candidates
  complete (every replicate in) and how many of them the tolerance accepts, hence its
  acceptance so far and the simulations it still needs;
* the cost so far (simulations, CPU seconds, the median CPU seconds of one simulation in the
  latest generation) and what a later generation costs at a given acceptance;
* the rest of the run under its stopping rules (:func:`project_rest`), if acceptance keeps
  falling as it has.

Nothing here decides anything: the engine (``smc.py``) stays the one that accepts
candidates; a status is an estimate (candidates are judged in order there, and the run
stops at the N-th acceptance).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from abm.batch.abc.store import GENS, LOG, MANIFEST, SIMS, session_walls
from abm.batch.abc.targets import Target, distance
from abm.core.errors import ConfigError


@dataclass
class Status:
    root: Path
    name: str
    identity: str
    particles: int
    replicates: int
    budget: dict
    finished: list[dict] = field(default_factory=list)  # one row per finished generation
    current: dict | None = None  # the generation in progress, if any has started
    simulations: int = 0
    cpu_seconds: float = 0.0
    cpu_per_simulation: float = math.nan  # median, latest generation with simulations
    wall_seconds: float = 0.0  # over every session, killed ones estimated
    wall_per_simulation: float = math.nan  # the latest session's pace (:func:`session_pace`)
    sessions: int = 0
    done: bool = False  # outputs written (result.json)
    stop_reason: str = ""

    def cost_at(self, acceptance: float) -> int:
        """Simulations a generation needs at this acceptance rate."""
        return math.ceil(self.particles * self.replicates / acceptance)


def sim_files(root: Path):
    """Every simulation file on disk, read only, as (its modification time, its records);
    a file that does not parse is skipped (the engine quarantines it when it next runs)."""
    for f in sorted((root / SIMS).glob("*.json")):
        try:
            yield f.stat().st_mtime, json.loads(f.read_bytes())
        except (OSError, ValueError):
            continue


def records(root: Path):
    """Every simulation record on disk, read only (:func:`sim_files`)."""
    for _, recs in sim_files(root):
        yield from recs


def session_pace(root: Path, walls: list[dict], least: int = 20,
                 files: list[tuple[float, int]] | None = None) -> float:
    """Wall seconds per simulation in the latest session that wrote at least ``least``
    simulations: its wall time over the simulations in the files it wrote (by the files'
    times). It is what the machine actually delivered, workers, their contention and the
    engine's own work included, so it plans the rest of a run better than CPU seconds over
    workers do. NaN if no session qualifies (or the files lost their times). ``files``, the
    (time, number of records) of every simulation file, saves reading them again when the
    caller has already read them."""
    import datetime as dt

    if files is None:
        files = [(t, len(recs)) for t, recs in sim_files(root)]
    for w in reversed(walls):
        start = dt.datetime.fromisoformat(w["start"]).timestamp()
        end = start + w["seconds"]
        n = sum(k for t, k in files if start <= t <= end + 1.0)
        if n >= least and w["seconds"] > 0:
            return w["seconds"] / n
    return math.nan


@dataclass
class Candidates:
    """Every complete candidate on disk (all its replicates in), as the engine scores it."""

    targets: list[dict]  # the run identity's targets, in the statistics' order
    generation: np.ndarray  # (n,)
    candidate: np.ndarray  # (n,)
    stats: np.ndarray  # (n, targets): the median of the candidate's replicates


def replicate_median(reps: dict[int, list[float]]) -> np.ndarray:
    """A candidate's statistics as the engine scores them: the median of its replicates."""
    return np.median(np.array([reps[k] for k in sorted(reps)], float), axis=0)


def candidates(root: str | Path) -> Candidates:
    """The replicate-median statistics of every complete candidate of every generation, read
    only from a calibration folder (``manifest.json`` and ``sims/``)."""
    root = Path(root)
    if not (root / MANIFEST).is_file() or not (root / SIMS).is_dir():
        raise ConfigError(f"{root} has no {MANIFEST} and {SIMS}/ (the simulations of "
                          f"`cpabm calibrate`)")
    ident = json.loads((root / MANIFEST).read_text())["spec"]["identity"]
    R = int(ident["replicates"])
    by: dict[tuple[int, int], dict[int, list[float]]] = {}
    for r in records(root):
        by.setdefault((int(r["generation"]), int(r["candidate"])), {})[int(r["replicate"])] = \
            r["stats"]
    keys = sorted(k for k, v in by.items() if len(v) == R)
    stats = np.array([replicate_median(by[k]) for k in keys]).reshape(len(keys),
                                                                       len(ident["targets"]))
    return Candidates(ident["targets"], np.array([k[0] for k in keys], int),
                      np.array([k[1] for k in keys], int), stats)


def folder_tool_parser(name: str, doc: str, default_folder: Path, default_out: Path,
                       default_spec: Path | None = None):
    """The argument parser of a script that analyses a calibration folder: ``NAME [FOLDER]
    [--out DIR]``, and with ``default_spec`` (a script that also runs the spec's scenario)
    ``[--spec SPEC] [--workers N]``."""
    import argparse

    ap = argparse.ArgumentParser(prog=name, description=doc.splitlines()[0])
    ap.add_argument("folder", nargs="?", default=str(default_folder))
    ap.add_argument("--out", default=str(default_out))
    if default_spec is not None:
        ap.add_argument("--spec", default=str(default_spec))
        ap.add_argument("--workers", type=int, default=2)
    return ap


def folder_tool_main(name: str, doc: str, argv, default_folder: Path, default_out: Path,
                     write) -> int:
    """The command line of a script that analyses a calibration folder, read only:
    ``NAME [FOLDER] [--out DIR]``; ``write(folder, out)`` writes the outputs and returns
    their paths. A refused input or output is one line on stderr and exit status 2."""
    import sys

    args = folder_tool_parser(name, doc, default_folder, default_out).parse_args(argv)
    try:
        paths = write(Path(args.folder), Path(args.out))
    except ConfigError as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 2
    print("wrote " + " and ".join(str(p) for p in paths))
    return 0


def read_status(root: str | Path) -> Status:
    root = Path(root)
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise ConfigError(f"{root}: no {MANIFEST}; not a calibration folder (written by "
                          f"`cpabm calibrate --out`)")
    man = json.loads(mpath.read_text())
    ident = man["spec"]["identity"]
    budget = {k: v for k, v in man["spec"].items() if k not in ("identity", "name",
                                                                "description")}
    N, R = int(ident["particles"]), int(ident["replicates"])
    st = Status(root, man.get("name", root.name), man["identity_sha256"], N, R, budget)
    for line in (root / LOG).read_text().splitlines() if (root / LOG).exists() else []:
        ev = json.loads(line)
        if ev.get("event") == "generation":
            st.finished.append({k: ev[k] for k in ("generation", "epsilon", "acceptance",
                                                    "ess", "seconds")})
        elif ev.get("event") == "end":
            st.stop_reason = ev.get("stop", "")
    # a resumed run replays its finished generations from disk and logs them again, in
    # about no time: keep each generation's longest record (the one that ran it)
    best: dict[int, dict] = {}
    for g in st.finished:
        if g["generation"] not in best or g["seconds"] > best[g["generation"]]["seconds"]:
            best[g["generation"]] = g
    st.finished = [best[k] for k in sorted(best)]
    by_gen: dict[int, dict[int, dict[int, list]]] = {}
    points: dict[tuple[int, int], dict] = {}
    cpu: dict[int, list[float]] = {}
    files: list[tuple[float, int]] = []  # (time, records) of each simulation file
    for t_file, recs in sim_files(root):
        files.append((t_file, len(recs)))
        for r in recs:
            g = int(r["generation"])
            by_gen.setdefault(g, {}).setdefault(int(r["candidate"]), {})[int(r["replicate"])] = \
                r["stats"]
            points[(g, int(r["candidate"]))] = r.get("point", {})
            c = r.get("meta", {}).get("cpu_seconds")
            st.simulations += 1
            if c is not None and math.isfinite(c):
                st.cpu_seconds += c
                cpu.setdefault(g, []).append(c)
    if cpu:
        st.cpu_per_simulation = float(np.median(cpu[max(cpu)]))
    walls = session_walls(root)
    st.wall_seconds, st.sessions = sum(w["seconds"] for w in walls), len(walls)
    st.wall_per_simulation = session_pace(root, walls, files=files)
    res = root / "result.json"
    if res.exists():  # its outputs say what it did, with or without the log ...
        result = json.loads(res.read_text())
        # ... unless it was resumed with a larger budget and has gone on since (simulations
        # of a later generation that its budget allows; a run whose budget was lowered to
        # end it keeps those of the generation it gave up, and is done)
        nxt = int(result.get("final_generation", -1)) + 1
        st.done = nxt not in by_gen or nxt >= int(budget.get("generations", nxt + 1))
        if st.done:
            st.stop_reason = result.get("stop_reason", st.stop_reason)
            if not st.finished:
                st.finished = [{"generation": h["generation"], "epsilon": h["epsilon"],
                                "acceptance": h["acceptance"], "ess": h["ess"],
                                "seconds": h.get("simulation_seconds", math.nan)}
                               for h in result.get("history", [])]
    t = len(st.finished)
    if st.done or t not in by_gen:
        return st
    targets = [Target(**d) for d in ident["targets"]]
    prev = None
    if t == 0:
        eps = math.inf
    else:
        import pandas as pd
        prev = pd.read_parquet(root / GENS / f"gen_{t - 1:03d}.parquet")
        dist = prev["distance"].to_numpy(float)
        eps = max(float(np.quantile(dist, float(ident["quantile"]))),
                  float(budget.get("min_epsilon", 0.0)))
    cands = by_gen[t]
    complete = 0
    accepted: list[int] = []
    for c in sorted(cands):
        reps = cands[c]
        if len(reps) < R or len(accepted) >= N:
            break  # judged in order, up to the N-th acceptance, as the engine does
        complete += 1
        d = distance(replicate_median(reps), targets)
        if math.isfinite(d) and d <= eps:
            accepted.append(c)
    acc = len(accepted) / complete if complete else math.nan
    on_disk = sum(len(v) for v in cands.values())
    need = (max(N - len(accepted), 0) * R / acc) if acc and acc > 0 else math.nan
    ess = (_ess_so_far(ident, prev, [points[(t, c)] for c in accepted])
           if prev is not None and len(accepted) >= 2 else math.nan)
    st.current = {"generation": t, "epsilon": eps, "simulations": on_disk,
                  "complete": complete, "accepted": len(accepted), "acceptance": acc,
                  "remaining_simulations": need, "ess_so_far": ess,
                  "ess_projected": ess / len(accepted) * N if accepted else math.nan}
    return st


def _ess_so_far(ident: dict, prev, accepted_points: list[dict]) -> float:
    """The ESS of the candidates accepted so far, weighted as the engine will weight the
    generation (the previous population's kernel mixture; :mod:`abm.batch.abc.priors`).
    Its ratio to the number accepted, times N, projects the generation's ESS. Exact for
    continuous priors; a whole-number prior's particles are known only as the whole numbers
    the model received, so with one the figure is an estimate."""
    from abm.batch.abc.posterior import Posterior, priors_from_identity
    from abm.batch.abc.priors import importance_weights, kernel_cov, truncated_log_mass

    priors = priors_from_identity(ident)
    bounds = np.array([p.bounds() for p in priors], float)
    prev_w = prev["weight"].to_numpy(float)
    prev_w = prev_w / prev_w.sum()
    prev_y = Posterior(Path(), "", priors, prev, prev_w, {}, {}, "").Y()
    y = np.array([[float(p.transform(pt[p.name])) for p in priors] for pt in accepted_points])
    cov = kernel_cov(prev_y, prev_w, bounds[:, 1] - bounds[:, 0], ident["kernel"])
    mass = (truncated_log_mass(prev_y, np.sqrt(np.diag(cov)), bounds)
            if ident["kernel"] == "componentwise" else None)
    w = importance_weights(y, prev_y, prev_w, cov, mass)
    return float(1.0 / np.sum(w ** 2))


def project_rest(st: Status) -> dict | None:
    """The simulations left to the end of the run if each later generation's acceptance is
    the last one's times the ratio seen so far (the median ratio of consecutive acceptances
    from generation 1 on, the generation in progress included), with the engine's stopping
    rules on generations and acceptance. Epsilon's shrinking cannot be projected: that rule
    may stop the run sooner. None before two acceptances are known, or when finished."""
    if st.done or st.current is None or not math.isfinite(st.current["acceptance"]):
        return None
    acc = [g["acceptance"] for g in st.finished] + [st.current["acceptance"]]
    pairs = list(zip(acc[1:-1], acc[2:], strict=True)) or list(zip(acc[:-1], acc[1:],
                                                                     strict=True))
    ratios = [b / a for a, b in pairs if a > 0]
    if not ratios or acc[-1] <= 0:
        return None
    ratio = float(np.median(ratios))
    b = st.budget
    generations, min_gens = int(b["generations"]), int(b.get("min_generations", 1))
    min_acc = float(b.get("min_acceptance", 0.0))
    t, a = st.current["generation"], acc[-1]
    sims = float(st.current["remaining_simulations"])
    later = []
    while True:
        if t + 1 >= generations:
            reason = f"generations = {generations}"
            break
        if t + 1 >= min_gens and t > 0 and a < min_acc:
            reason = (f"acceptance {a:.3g} < min_acceptance = {min_acc:g} after "
                      f"{t + 1} generations")
            break
        t, a = t + 1, a * ratio
        later.append((t, a, st.cost_at(a)))
        sims += st.cost_at(a)
    return {"ratio": ratio, "later": later, "simulations": sims, "stop": reason}


def format_status(st: Status, workers: int = 2) -> str:
    """The status as text. Wall times go at the latest session's pace, or, without one,
    assume ``workers`` processes busy with the latest generation's CPU seconds each."""
    def hours(sims: float) -> str:
        if math.isfinite(st.wall_per_simulation):
            return f"{sims * st.wall_per_simulation / 3600:.1f} wall h at the latest session's pace"
        return (f"{sims * st.cpu_per_simulation / 3600 / workers:.1f} wall h on {workers} "
                f"workers" if math.isfinite(st.cpu_per_simulation) else "n/a")

    b = st.budget
    lines = [f"calibration {st.name} in {st.root} (run {st.identity[:12]}): "
             f"{st.particles} particles x {st.replicates} replicates; generations "
             f"{b.get('min_generations', 1)}-{b.get('generations')}, stop when acceptance < "
             f"{b.get('min_acceptance')} or epsilon shrinks < {b.get('min_epsilon_decrease')}"]
    for g in st.finished:
        lines.append(f"  generation {g['generation']}: finished; epsilon {g['epsilon']:.4g}, "
                     f"acceptance {g['acceptance']:.3f}, ESS {g['ess']:.0f}, "
                     f"{g['seconds'] / 60:.0f} min")
    if st.done:
        lines.append(f"  finished: {st.stop_reason}")
    elif st.current:
        c = st.current
        lines.append(f"  generation {c['generation']}: in progress; epsilon {c['epsilon']:.4g}; "
                     f"{c['simulations']} simulations on disk, {c['complete']} candidates "
                     f"complete, {c['accepted']} of {st.particles} accepted (acceptance "
                     f"{c['acceptance']:.3f}); about {c['remaining_simulations']:,.0f} more "
                     f"simulations ({hours(c['remaining_simulations'])})"
                     + (f"; ESS so far {c['ess_so_far']:.0f} of {c['accepted']}, projecting "
                        f"about {c['ess_projected']:.0f} of {st.particles}"
                        if math.isfinite(c["ess_so_far"]) else ""))
    else:
        lines.append(f"  generation {len(st.finished)}: not started")
    lines.append(f"  cost so far: {st.simulations:,} simulations, {st.cpu_seconds / 3600:.1f} "
                 f"CPU h, {st.wall_seconds / 3600:.1f} wall h over {st.sessions} session(s); "
                 f"{st.cpu_per_simulation:.2f} CPU s per simulation (median, latest "
                 f"generation)" + (f"; the latest session ran {st.wall_per_simulation:.2f} wall "
                                   f"s a simulation" if math.isfinite(st.wall_per_simulation)
                                   else ""))
    rest = project_rest(st)
    if rest:
        gens = "; ".join(f"generation {t} at about {a:.3g} ({n:,} simulations)"
                         for t, a, n in rest["later"]) or "no later generation"
        lines.append(f"  to the end, if acceptance keeps falling x{rest['ratio']:.2f} a "
                     f"generation: {gens}; the rule then stops ({rest['stop']}): about "
                     f"{rest['simulations']:,.0f} more simulations "
                     f"({hours(rest['simulations'])}), less if epsilon stops shrinking first")
    if not st.done:
        lines.append("  a later generation at acceptance " + ", ".join(
            f"{a:g}: {st.cost_at(a):,} simulations ({hours(st.cost_at(a))})"
            for a in (0.3, 0.1, 0.05)))
    return "\n".join(lines)
