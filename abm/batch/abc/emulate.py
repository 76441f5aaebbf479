"""An emulator of a finished calibration's simulations, to find the point of its acceptance
region closest to a subset of its targets (``experiments/tools/point_summaries.py``).

Every simulation a run made is stored with its point and its target statistics
(``sims/*.json``). Near the posterior, a quadratic ridge regression on the priors' scaled
coordinates (each in [-1, 1] over the prior's support, log scale for log-uniform priors)
predicts every target's z-score, (statistic - value) / half-width, far faster than the model.
:func:`search` then minimises, on the emulator, the distance on the deciding targets plus
``penalty`` x the excess of the all-target distance over ``ceiling`` (and of required
targets' z-scores over a margin), by a deterministic population search; an offset measured
by simulation corrects its predictions (``point_summaries.py`` iterates it at the scale the
review's figures are validated at). Its point is a proposal only: the caller scores it by simulation on fresh
seeds and keeps it only if its all-target distance lies within the run's final tolerance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from abm.batch.abc.store import AbcStore


def scaled(priors, values: np.ndarray) -> np.ndarray:
    """Points (rows; columns in the priors' order) as coordinates in [-1, 1]."""
    values = np.atleast_2d(np.asarray(values, float))
    cols = []
    for j, p in enumerate(priors):
        lo, hi = p.bounds()
        cols.append((p.transform(values[:, j]) - lo) / (hi - lo) * 2.0 - 1.0)
    return np.column_stack(cols)


def unscaled(priors, u) -> dict:
    """One point's coordinates as the values the model receives (whole numbers rounded)."""
    out = {}
    for j, p in enumerate(priors):
        lo, hi = p.bounds()
        out[p.name] = p.to_model((float(np.clip(u[j], -1.0, 1.0)) + 1.0) / 2.0 * (hi - lo) + lo)
    return out


def z_scores(stats: np.ndarray, targets) -> np.ndarray:
    """Statistics (the last axis in the targets' order) as z-scores, (statistic - value) /
    half-width: the emulator's response."""
    v = np.array([t.value for t in targets], float)
    h = np.array([t.scale for t in targets], float)
    return (np.asarray(stats, float) - v) / h


def stored(root: str | Path, priors, targets) -> tuple[np.ndarray, np.ndarray]:
    """Every simulation in the run's folder with finite statistics: scaled points (one row
    per simulation) and the targets' z-scores."""
    names = [p.name for p in priors]
    points, stats = [], []
    for f in AbcStore(root).sim_files():
        for r in json.loads(f.read_text()):
            points.append([r["point"][k] for k in names])
            stats.append(r["stats"])
    if not points:
        return np.empty((0, len(names))), np.empty((0, len(targets)))
    x, y = np.array(points, float), np.array(stats, float)
    keep = np.isfinite(y).all(axis=1)
    return scaled(priors, x[keep]), z_scores(y[keep], targets)


def features(u: np.ndarray) -> np.ndarray:
    """1, the coordinates and their products (each pair once, squares included)."""
    u = np.atleast_2d(u)
    iu = np.triu_indices(u.shape[1])
    return np.column_stack([np.ones(len(u)), u, (u[:, :, None] * u[:, None, :])[:, iu[0], iu[1]]])


def coefficients(d: int) -> int:
    """How many coefficients the emulator fits per target for ``d`` parameters."""
    return 1 + d + d * (d + 1) // 2


class Emulator:
    """Quadratic ridge regression of every target's z-score on the scaled coordinates."""

    def __init__(self, u: np.ndarray, z: np.ndarray, ridge: float = 1.0):
        f = features(u)
        self.coef = np.linalg.solve(f.T @ f + ridge * np.eye(f.shape[1]), f.T @ z)

    def predict(self, u: np.ndarray) -> np.ndarray:
        return features(u) @ self.coef


def rms(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The calibration's distance of z-scores (rows) with target weights ``w``."""
    return np.sqrt((w * np.atleast_2d(z) ** 2).sum(axis=1) / w.sum())


def search(em: Emulator, starts: np.ndarray, weights: np.ndarray, deciding: np.ndarray,
           ceiling: float, rng: np.random.Generator, *, offset: np.ndarray | None = None,
           required: np.ndarray | None = None, margin: float = 0.4,
           centre: np.ndarray | None = None, radius: float = 2.0, penalty: float = 10.0,
           keep: int = 50, children: int = 20, rounds: int = 60,
           step: float = 0.08) -> np.ndarray:
    """The coordinates that minimise, on the emulator, the distance on the ``deciding``
    targets (a boolean mask) + ``penalty`` x max(0, all-target distance - ``ceiling``) +
    ``penalty`` x the sum over the ``required`` targets (a boolean mask) of max(0, |z| -
    ``margin``): a population of ``keep`` points from ``starts``, each round ``children``
    Gaussian moves of each (step shrinking 3% a round, clipped to the prior box and, with a
    ``centre``, to the box of half-width ``radius`` around it: a trust region), the best
    ``keep`` kept. ``offset`` (one z-score per target, default 0) is added to the predictions
    of the deciding and required targets: a correction measured by simulation (the caller's
    bias correction, e.g. for another sampling scale); the ceiling applies to the emulator as
    fitted, the run's own scale."""
    off = np.zeros(len(weights)) if offset is None else np.asarray(offset, float)
    need = np.zeros(len(weights), bool) if required is None else np.asarray(required, bool)
    lo, hi = -1.0, 1.0
    if centre is not None:
        lo, hi = np.maximum(centre - radius, -1.0), np.minimum(centre + radius, 1.0)

    def loss(u):
        z = em.predict(u)
        zc = z + off
        return (rms(zc[:, deciding], weights[deciding])
                + penalty * np.maximum(rms(z, weights) - ceiling, 0.0)
                + penalty * np.maximum(np.abs(zc[:, need]) - margin, 0.0).sum(axis=1))

    best = starts[np.argsort(loss(starts), kind="stable")[:keep]]
    for k in range(rounds):
        kids = np.repeat(best, children, axis=0)
        kids = np.clip(kids + rng.normal(0.0, step * 0.97**k, kids.shape), lo, hi)
        pool = np.vstack([best, kids])
        best = pool[np.argsort(loss(pool), kind="stable")[:keep]]
    return best[0]
