"""The outputs of a calibration: the particle tables, the posterior summary and its report.

``generations/gen_NNN.parquet`` after each generation; at the end ``posterior.parquet``,
``history.csv``, ``calibrated.toml`` (posterior medians and the best particle),
``best_particle.csv``, ``posterior.md`` (per parameter: posterior median, 10-90% interval,
width ratio and identifiability; correlations; targets at the best particle; the cost),
``marginals.png``, ``cost.json`` (simulations, their wall and CPU seconds, the sessions'
wall time) and ``result.json``. Nothing here decides which simulations run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from abm.batch.abc.priors import weighted_quantile
from abm.batch.abc.spec import CalibrationSpec
from abm.batch.abc.store import GENS, AbcStore, session_walls
from abm.core import tomlio
from abm.core.io import atomic_write_bytes, atomic_write_text

if TYPE_CHECKING:
    from abm.batch.abc.smc import Population

#: identifiability labels by the posterior's 10-90% width relative to the prior's
IDENTIFIED, WEAK = 0.5, 0.8


def population_frame(spec: CalibrationSpec, pop: Population):
    import pandas as pd

    df = pd.DataFrame({"generation": pop.generation, "particle": np.arange(len(pop.weights)),
                       "candidate": pop.candidates, "weight": pop.weights,
                       "distance": pop.distances})
    for p in spec.priors:
        df[p.name] = [pt[p.name] for pt in pop.points]
    for i, t in enumerate(spec.targets):
        df[f"stat.{t.id}"] = pop.stats[:, i]
    return df


def _parquet(path: Path, df) -> None:
    import io

    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def write_generation(store: AbcStore, spec: CalibrationSpec, pop: Population) -> None:
    _parquet(store.root / GENS / f"gen_{pop.generation:03d}.parquet",
             population_frame(spec, pop))


def identifiability(ratio: float) -> str:
    if ratio < IDENTIFIED:
        return "identified"
    if ratio < WEAK:
        return "weakly identified"
    return "not identified (posterior ~ prior)"


def marginal(prior, x, y, w) -> dict:
    """One parameter's weighted posterior: median and 10-90% interval of its values ``x``,
    and that interval's width relative to the prior's, measured on ``y`` (the values in the
    transformed space: log for loguniform priors)."""
    q10, q50, q90 = weighted_quantile(x, w, [0.1, 0.5, 0.9])
    a, b = prior.bounds()
    y10, y90 = weighted_quantile(y, w, [0.1, 0.9])
    ratio = float((y90 - y10) / (0.8 * (b - a)))
    return {"parameter": prior.name, "prior": prior.dist, "low": prior.low, "high": prior.high,
            "median": float(q50), "q10": float(q10), "q90": float(q90),
            "width_ratio": ratio, "identifiability": identifiability(ratio)}


def weighted_correlation(Y, w) -> np.ndarray:
    """Weighted correlation matrix of the rows of ``Y`` (particles x parameters)."""
    c = np.atleast_2d(np.cov(Y, rowvar=False, aweights=w, bias=True))
    sd = np.sqrt(np.diag(c))
    with np.errstate(invalid="ignore", divide="ignore"):
        return c / np.outer(sd, sd)


def posterior_table(spec: CalibrationSpec, pop: Population) -> list[dict]:
    """Per parameter: :func:`marginal` of the final particles."""
    return [marginal(p, np.array([pt[p.name] for pt in pop.points], float), pop.Y[:, k],
                     pop.weights) for k, p in enumerate(spec.priors)]


def _fmt(v) -> str:
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{v:.4g}"


def _plain(values: dict) -> dict:
    """Parameter values as Python numbers (a particle read back from a table holds NumPy
    scalars)."""
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in values.items()}


def cost_summary(root: Path, pops: list[Population], session: dict | None = None) -> dict:
    """The calibration's cost: simulations stored (accepted or not, in-flight ones
    included), the sum of their wall and CPU seconds, the median per simulation, and the
    wall time of every session (``session``: the one writing now, whose end is not yet
    logged; a killed one counts to its last simulation file, :func:`store.session_walls`)."""
    sessions = session_walls(root)
    if session is not None and sessions and not sessions[-1]["ended"]:
        sessions[-1].update(seconds=round(session["seconds"], 3),
                            executed=session["executed"], ended=True)
    return _cost(sum(p.simulations_run for p in pops), sum(p.simulation_seconds for p in pops),
                 sum(p.cpu_seconds for p in pops), sessions)


def _cost(n: int, sim_s: float, cpu_s: float, sessions: list[dict]) -> dict:
    return {"simulations": int(n), "simulation_seconds": round(float(sim_s), 3),
            "cpu_seconds": round(float(cpu_s), 3),
            "seconds_per_simulation": float(f"{sim_s / n:.4g}") if n else None,
            "cpu_seconds_per_simulation": float(f"{cpu_s / n:.4g}") if n else None,
            "wall_seconds": round(sum(x["seconds"] for x in sessions), 3),
            "sessions": sessions,
            "sessions_estimated": sum(not x["ended"] for x in sessions)}


def refresh_cost(root: Path) -> dict:
    """Rewrite a finished calibration's ``cost.json`` with the wall time of its killed
    sessions estimated from their simulation files' times (:func:`store.session_walls`),
    for a folder whose cost was written without that estimate. A session keeps the larger
    of its recorded and its estimated wall, so a copy that lost the files' times (a fresh
    clone) never lowers a figure. Returns the new record."""
    import pandas as pd

    root = Path(root)
    old = json.loads((root / "cost.json").read_text()) if (root / "cost.json").exists() else {}
    recorded = {x.get("start"): x.get("seconds") or 0.0 for x in old.get("sessions", [])}
    sessions = session_walls(root)
    for x in sessions:
        x["seconds"] = max(x["seconds"], recorded.get(x["start"], 0.0))
    h = pd.read_csv(root / "history.csv")
    cost = _cost(h["simulations_run"].sum(), h["simulation_seconds"].sum(),
                 h["cpu_seconds"].sum(), sessions)
    atomic_write_text(root / "cost.json", json.dumps(cost, indent=1) + "\n")
    return cost


def write_outputs(store: AbcStore, spec: CalibrationSpec, pops: list[Population],
                  reason: str, session: dict | None = None) -> dict:
    """Write every output of a calibration from its generations (``pops``, the last one
    the result) into ``store.root``; return the history, the posterior table and the two
    candidates (``median``, ``best``)."""
    import pandas as pd

    pop = pops[-1]
    root = store.root
    history = [{"generation": p.generation, "epsilon": p.epsilon, "particles": len(p.weights),
                "candidates": p.n_candidates,
                "simulations": p.n_candidates * spec.replicates,
                "acceptance": p.acceptance, "ess": p.ess,
                "rejected_proposals": p.n_rejected_proposals,
                "min_distance": float(p.distances.min()),
                "median_distance": float(np.median(p.distances)),
                "simulations_run": p.simulations_run,
                "simulation_seconds": round(p.simulation_seconds, 3),
                "cpu_seconds": round(p.cpu_seconds, 3)} for p in pops]
    cost = cost_summary(root, pops, session)
    atomic_write_text(root / "cost.json", json.dumps(cost, indent=1) + "\n")
    hist = pd.DataFrame(history)
    atomic_write_text(root / "history.csv", hist.to_csv(index=False))
    post = population_frame(spec, pop)
    _parquet(root / "posterior.parquet", post)
    table = posterior_table(spec, pop)

    # the two candidates
    ib = int(np.argmin(pop.distances))  # first of ties: the earliest candidate
    best = dict(pop.points[ib])
    median = {}
    for p, row in zip(spec.priors, table, strict=True):
        median[p.name] = p.to_model(math.log(row["median"]) if p.log else row["median"])
    note = "\n".join([
        f"Calibrated parameters: {spec.name}",
        f"written by `cpabm calibrate` (ABC-SMC) from {spec.path.name}; stop: {reason}",
        f"[parameters]: the posterior median of each parameter (final generation "
        f"{pop.generation}, epsilon {pop.epsilon:.4g}, {len(pop.weights)} particles)",
        f"[best_particle]: the particle with the lowest distance ({pop.distances[ib]:.4g}; "
        f"generation {pop.generation}, candidate {int(pop.candidates[ib])})",
        "The marginal medians are not a joint point of the posterior; with strong "
        "correlations", "prefer the best particle, and check either with replicates."])
    tomlio.write(root / "calibrated.toml", {
        "parameters": _plain(median), "best_particle": _plain(best),
        "best_particle_info": {"distance": float(pop.distances[ib]),
                               "generation": int(pop.generation),
                               "candidate": int(pop.candidates[ib])}}, note=note)

    # per-target replicate statistics of the best particle
    reps = pop.rep_stats[ib]  # (R, m)
    bt = []
    for i, t in enumerate(spec.targets):
        r = reps[:, i]
        med = float(np.median(r))
        row = {"target": t.id, "value": t.value, "lo": t.lo, "hi": t.hi, "weight": t.weight,
               "median": med, "q10": float(np.quantile(r, 0.1)),
               "q90": float(np.quantile(r, 0.9)), "z": (med - t.value) / t.scale,
               "within_tolerance": bool(t.lo <= med <= t.hi)}
        row.update({f"replicate_{j}": float(v) for j, v in enumerate(r)})
        bt.append(row)
    atomic_write_text(root / "best_particle.csv", pd.DataFrame(bt).to_csv(index=False))

    # posterior.md
    md = [f"# Calibration posterior: {spec.name}", ""]
    if spec.description:
        md += [spec.description, ""]
    md += [f"ABC-SMC, {len(pops)} generation(s), {spec.particles} particles, "
           f"{spec.replicates} replicates per candidate (replicate median), "
           f"{int(hist['simulations'].sum())} simulations. Stopped: {reason}.", "",
           f"Final generation {pop.generation}: epsilon = {pop.epsilon:.4g}, acceptance rate "
           f"{pop.acceptance:.3f}, effective sample size {pop.ess:.0f}.", "",
           "## Parameters", "",
           "Width ratio: the posterior's 10-90% interval over the prior's (in log space for "
           f"loguniform priors). Below {IDENTIFIED}: identified; {IDENTIFIED}-{WEAK}: weakly "
           f"identified; above {WEAK}: not identified (the targets barely constrain it).", "",
           "| parameter | prior | posterior median | 10-90% interval | width ratio | "
           "identifiability |", "|---|---|---|---|---|---|"]
    for r in table:
        md.append(f"| {r['parameter']} | {r['prior']} [{_fmt(r['low'])}, {_fmt(r['high'])}] | "
                  f"{r['median']:.4g} | [{r['q10']:.4g}, {r['q90']:.4g}] | "
                  f"{r['width_ratio']:.2f} | {r['identifiability']} |")
    md += ["", "## Posterior correlations", "",
           "Weighted correlations of the final particles (log scale for loguniform priors). "
           "A strong correlation means the targets fix a combination, not each parameter.", ""]
    if len(spec.priors) > 1:
        corr = weighted_correlation(pop.Y, pop.weights)
        md += ["| | " + " | ".join(spec.names) + " |",
               "|---" * (len(spec.names) + 1) + "|"]
        for i, n in enumerate(spec.names):
            md.append(f"| {n} | " + " | ".join(f"{corr[i, j]:.2f}" for j in range(len(spec.names)))
                      + " |")
    else:
        md.append("(one parameter)")
    md += ["", "## Targets at the best particle", "",
           f"Distance {pop.distances[ib]:.4g}. Replicate median and 10-90% over "
           f"{spec.replicates} replicates; z = (median - target) / half-width of the band.", "",
           "| target | value | band | median | 10-90% | z | within |", "|---|---|---|---|---|---|---|"]
    for r in bt:
        md.append(f"| {r['target']} | {r['value']:.4g} | [{r['lo']:.4g}, {r['hi']:.4g}] | "
                  f"{r['median']:.4g} | [{r['q10']:.4g}, {r['q90']:.4g}] | {r['z']:+.2f} | "
                  f"{'yes' if r['within_tolerance'] else 'NO'} |")
    md += ["", "## Generations", "",
           "Simulations: those judged to reach the N-th acceptance (candidates x replicates); "
           "run: all stored, in-flight ones included; CPU: their CPU seconds.", "",
           "| generation | epsilon | acceptance | simulations | run | CPU s | ESS |",
           "|---|---|---|---|---|---|---|"]
    for h in history:
        md.append(f"| {h['generation']} | {h['epsilon']:.4g} | {h['acceptance']:.3f} | "
                  f"{h['simulations']} | {h['simulations_run']} | {h['cpu_seconds']:.0f} | "
                  f"{h['ess']:.0f} |")
    per = cost["cpu_seconds_per_simulation"]
    md += ["", f"Cost: {cost['simulations']} simulations, {cost['cpu_seconds']:.0f} CPU s "
               f"({per if per is not None else 'n/a'} s each), wall {cost['wall_seconds']:.0f} s "
               f"over {len(cost['sessions'])} session(s)"
               + (f" ({cost['sessions_estimated']} killed at the end of a sitting, each "
                  f"counted to its last simulation file)"
                  if cost["sessions_estimated"] else "") + " (`cost.json`)."]
    md += ["", "Files: `posterior.parquet` (final particles), `generations/gen_NNN.parquet`, "
           "`history.csv`, `calibrated.toml`, `best_particle.csv`, `marginals.png`. Method: "
           "docs/calibration_method.md.", ""]
    atomic_write_text(root / "posterior.md", "\n".join(md))
    _plot(root / "marginals.png", spec, pops)
    atomic_write_text(root / "result.json", json.dumps(
        {"stop_reason": reason, "final_generation": pop.generation, "history": history,
         "posterior": table, "best": best, "median": median, "cost": cost}, indent=1,
        default=float) + "\n")
    return {"history": history, "posterior": post, "best": best, "median": median}


def _plot(path: Path, spec: CalibrationSpec, pops: list[Population]) -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(spec.priors)
    cols = min(k, 3)
    rows = math.ceil(k / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for i, p in enumerate(spec.priors):
        ax = axes[i // cols][i % cols]
        a, b = p.bounds()
        edges = np.linspace(a, b, 31)
        for g, pop in enumerate(pops):
            colour = cmap(g / max(len(pops) - 1, 1))
            ax.hist(pop.Y[:, i], bins=edges, weights=pop.weights, histtype="step",
                    color=colour, label=f"gen {pop.generation}", density=True,
                    linewidth=2 if g == len(pops) - 1 else 1)
        ax.set_xlabel(f"log {p.name}" if p.log else p.name)
        ax.set_xlim(a, b)
        ax.set_yticks([])
    for j in range(k, rows * cols):
        axes[j // cols][j % cols].axis("off")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{spec.name}: marginal posteriors by generation (weighted)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
