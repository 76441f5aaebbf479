"""Reading a finished calibration folder: its posterior, summarised and sampled.

Everything here reads only the folder (``manifest.json`` for the priors, ``posterior.parquet``
for the final particles and their weights, ``result.json`` and ``cost.json``), so it works on
any calibration, of any model, without loading the model or its spec:

* :func:`load_posterior`: the priors and the final weighted particles;
* :func:`summarise`: per parameter the calibrated value (the **weighted posterior median**,
  see :data:`SUMMARY`), the 5/10/90/95% quantiles, the width ratio (posterior 10-90% over the
  prior's, in the transformed space) and whether the targets identify it
  (ratio < :data:`abm.batch.abc.report.WEAK`);
* :func:`correlations`: the weighted correlations of the particles (transformed space);
* :func:`constrained_directions`: the combinations of parameters the targets constrain when
  single parameters are not, against what sampling noise alone would show;
* :func:`mode`: the particle at the highest kernel density of the particles, a summary that
  stays on a curved or ridge-shaped posterior where the marginal medians may not;
* :func:`particle`, :func:`closest`: one particle's values; the particles closest to the
  targets in the run;
* :func:`movement`: how far each marginal moved in the last generation, against what
  sampling noise alone moves it (a check that the run has stopped where more generations
  would change little).

Draws of the posterior (posterior-predictive checks, sweeps with ``[posterior]``,
``abm.posterior_draws``) are :mod:`abm.batch.draws`'.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from abm.batch.abc.priors import Prior, weighted_quantile
from abm.batch.abc.report import WEAK, marginal, weighted_correlation
from abm.batch.abc.store import GENS, MANIFEST
from abm.core.errors import ConfigError

#: how a calibrated value is derived from the posterior (the docs quote this)
SUMMARY = "weighted posterior median"


@dataclass
class Posterior:
    root: Path
    name: str
    priors: list[Prior]
    frame: object  # DataFrame of the final particles (posterior.parquet)
    weights: np.ndarray
    result: dict
    cost: dict
    identity_sha256: str

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.priors]

    @property
    def ess(self) -> float:
        return float(1.0 / np.sum(self.weights**2))

    @property
    def generation(self) -> int:
        return int(self.frame["generation"].iloc[0])

    def Y(self) -> np.ndarray:
        """The particles in the transformed space (log for loguniform priors)."""
        return np.column_stack([np.asarray(p.transform(self.frame[p.name].to_numpy(float)))
                                for p in self.priors])


def priors_from_identity(identity: dict) -> list[Prior]:
    """The priors a run's identity (its manifest's ``spec.identity``) records, in order."""
    return [Prior(k, v["dist"], v["low"], v["high"], v.get("kind", "float"))
            for k, v in identity["priors"].items()]


def load_posterior(root: str | Path) -> Posterior:
    """The final population of the calibration in ``root``, with its priors (from the
    manifest). Raises ConfigError if ``root`` is not a finished calibration."""
    import pandas as pd

    root = Path(root)
    man, post = root / MANIFEST, root / "posterior.parquet"
    if not man.is_file() or not post.is_file():
        raise ConfigError(f"{root}: not a finished calibration (needs {MANIFEST} and "
                          f"posterior.parquet, written by `cpabm calibrate`)")
    m = json.loads(man.read_text())
    priors = priors_from_identity(m["spec"]["identity"])
    df = pd.read_parquet(post)
    missing = [p.name for p in priors if p.name not in df.columns]
    if missing or "weight" not in df.columns:
        raise ConfigError(f"{post}: lacks the columns {missing or ['weight']}")
    w = df["weight"].to_numpy(float)
    if not (np.all(w >= 0) and w.sum() > 0):
        raise ConfigError(f"{post}: the weights are not a distribution")
    res = json.loads((root / "result.json").read_text()) if (root / "result.json").exists() else {}
    cost = json.loads((root / "cost.json").read_text()) if (root / "cost.json").exists() else {}
    return Posterior(root, m.get("name", root.name), priors, df, w / w.sum(), res, cost,
                     m["identity_sha256"])


def summarise(post: Posterior, threshold: float = WEAK) -> list[dict]:
    """Per parameter: prior, the calibrated value (:data:`SUMMARY`), 5/10/90/95% quantiles,
    the width ratio and ``identified`` (ratio < ``threshold``)."""
    Y = post.Y()
    out = []
    for k, p in enumerate(post.priors):
        x = post.frame[p.name].to_numpy(float)
        row = marginal(p, x, Y[:, k], post.weights)
        q05, q95 = weighted_quantile(x, post.weights, [0.05, 0.95])
        # the median in the transformed space, mapped back (equal to the median of x; this
        # also gives whole numbers for int factors)
        value = p.to_model(float(weighted_quantile(Y[:, k], post.weights, 0.5)))
        row.update({"kind": p.kind, "value": value, "q05": float(q05), "q95": float(q95),
                    "identified": row["width_ratio"] < threshold})
        out.append(row)
    return out


def correlations(post: Posterior) -> np.ndarray:
    """Weighted correlation matrix of the particles in the transformed space."""
    return weighted_correlation(post.Y(), post.weights)


#: an axis of the posterior is constrained when its sd ratio is below both of these: half
#: the prior's sd, and the 1% quantile of the same ratio in samples of the prior weighted as
#: the particles are (what sampling noise alone gives)
CONSTRAINED = 0.5
NULL_QUANTILE = 0.01


def _axis_sd_ratios(Z: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Square roots of the eigenvalues (ascending) and eigenvectors of the weighted
    covariance of ``Z``."""
    lam, V = np.linalg.eigh(np.atleast_2d(np.cov(Z, rowvar=False, aweights=w, bias=True)))
    return np.sqrt(np.clip(lam, 0.0, None)), V


def constrained_directions(post: Posterior, threshold: float = CONSTRAINED,
                           loading: float = 0.3, null_draws: int = 200, seed: int = 0) -> dict:
    """The combinations of parameters the targets constrain, also when no single parameter
    is: the principal axes of the weighted particles in the transformed space, each
    parameter scaled by its prior's sd there (every prior is uniform in the transformed
    space: width / sqrt(12)), so that an axis's sd ratio is the posterior's sd along it
    over the prior's (1 along every axis of the prior).

    With a few hundred particles in tens of dimensions, the smallest ratios of a sample of
    the prior itself fall well below 1 (sampling noise), so each ranked ratio is compared
    with the same ratio in ``null_draws`` samples of the prior, as many and weighted as the
    particles. An axis is constrained when its ratio is below the null's
    :data:`NULL_QUANTILE` quantile and below ``threshold`` (a general mild narrowing of the
    posterior puts every ratio a little under the null's, without any axis being
    constrained). Returns ``{"axes": [...], "null": [...]}``: each
    constrained axis, tightest first, with its sd ratio, the null's quantile and the
    parameters loading on it (``|loading| >=`` the argument; signs relative to the largest,
    which is positive); and the null quantile of each rank."""
    lo, hi = np.array([p.bounds() for p in post.priors], float).T
    scale = (hi - lo) / np.sqrt(12.0)
    w = post.weights
    ratios, V = _axis_sd_ratios(post.Y() / scale, w)
    rng = np.random.default_rng(seed)
    null = np.array([_axis_sd_ratios(rng.uniform(size=(len(w), len(lo))) * np.sqrt(12.0), w)[0]
                     for _ in range(null_draws)])
    q = np.quantile(null, NULL_QUANTILE, axis=0)
    axes = []
    for k in range(len(ratios)):  # ascending: stop at the first axis within the noise
        if ratios[k] >= min(threshold, q[k]):
            break
        v = V[:, k] * np.sign(V[np.argmax(np.abs(V[:, k])), k])
        order = [i for i in np.argsort(-np.abs(v)) if abs(v[i]) >= loading]
        axes.append({"sd_ratio": float(ratios[k]), "null_quantile": float(q[k]),
                     "loadings": [(post.priors[i].name, float(v[i])) for i in order]})
    return {"axes": axes, "null": [float(x) for x in q]}


def mode(post: Posterior) -> dict:
    """The posterior's mode among its particles: the particle at which a weighted Gaussian
    kernel density of the particles is highest. The density is taken in the transformed
    space, whitened by the particles' weighted covariance, with Scott's bandwidth
    ``ESS ** (-1 / (d + 4))``. The mode is a particle the run simulated and accepted, so its
    values hang together as the targets required; where the posterior is curved, or
    concentrated near a ridge of combinations, the marginal medians may lie off it.

    Returns ``{"index", "values" (as the model receives them), "log_density"}``."""
    Y, w = post.Y(), post.weights
    mu = w @ Y
    C = np.atleast_2d(np.cov(Y, rowvar=False, aweights=w, bias=True))
    vals, vecs = np.linalg.eigh(C)
    keep = vals > 1e-12 * max(vals.max(), 1e-300)
    Z = (Y - mu) @ (vecs[:, keep] / np.sqrt(vals[keep]))
    h = post.ess ** (-1.0 / (Z.shape[1] + 4))
    sq = (Z * Z).sum(1)
    logk = -0.5 * np.maximum(sq[:, None] + sq[None, :] - 2.0 * Z @ Z.T, 0.0) / h**2
    logk += np.log(np.maximum(w, 1e-300))[None, :]
    top = logk.max(1)
    logdens = top + np.log(np.exp(logk - top[:, None]).sum(1))
    i = int(np.argmax(logdens))
    return {"index": i, "log_density": float(logdens[i]), "values": particle(post, i)}


def particle(post: Posterior, i: int) -> dict:
    """The values of the final generation's particle ``i`` (its row in posterior.parquet),
    as the model received them."""
    if isinstance(i, bool) or not isinstance(i, int | np.integer) or not 0 <= i < len(post.frame):
        raise ConfigError(f"particle {i!r} is not one of the final generation's 0-"
                          f"{len(post.frame) - 1}")
    row = post.frame.iloc[int(i)]
    return {p.name: (int(row[p.name]) if p.kind == "int" else float(row[p.name]))
            for p in post.priors}


def closest(post: Posterior, k: int) -> list[int]:
    """The ``k`` particles of the final generation with the smallest distance in the run (the
    replicates' median statistics it accepted them on), closest first. That distance was
    measured on the seeds that chose them, so it flatters them (the winner's curse): a point
    picked from these is judged again on other seeds (``experiments/tools/
    point_summaries.py``)."""
    if "distance" not in post.frame.columns:
        raise ConfigError(f"{post.root}: posterior.parquet has no distance column")
    d = post.frame["distance"].to_numpy(float)
    return [int(i) for i in np.argsort(d, kind="stable")[:max(int(k), 0)]]


def movement(post: Posterior) -> list[dict]:
    """How far each parameter's marginal moved from the previous generation to the final one
    (``generations/gen_NNN.parquet``), in the transformed space, as a share of its prior's
    width: ``shift`` = |median_t - median_t-1| / (b - a); ``noise`` = the shift sampling
    alone gives, sqrt(se_t^2 + se_t-1^2) / (b - a) with se = 1.2533 x weighted sd / sqrt(ESS)
    (the standard error of a median); ``narrowing`` = the final 10-90% width over the
    previous one. Empty when the run has one generation or its folder lacks the previous
    generation's table."""
    import pandas as pd

    t = post.generation
    prev = Path(post.root) / GENS / f"gen_{t - 1:03d}.parquet"
    if t < 1 or not prev.is_file():
        return []
    df = pd.read_parquet(prev)
    w0 = df["weight"].to_numpy(float)
    w0 = w0 / w0.sum()

    def stats(y, w):
        q10, q50, q90 = weighted_quantile(y, w, [0.1, 0.5, 0.9])
        sd = float(np.sqrt(np.sum(w * (y - np.sum(w * y)) ** 2)))
        return float(q50), float(q90 - q10), 1.2533 * sd * float(np.sqrt(np.sum(w**2)))

    Y = post.Y()
    out = []
    for k, p in enumerate(post.priors):
        a, b = p.bounds()
        m1, w1, se1 = stats(Y[:, k], post.weights)
        m0, wd0, se0 = stats(np.asarray(p.transform(df[p.name].to_numpy(float))), w0)
        out.append({"parameter": p.name, "generations": (t - 1, t),
                    "shift": abs(m1 - m0) / (b - a), "noise": float(np.hypot(se0, se1)) / (b - a),
                    "narrowing": w1 / wd0 if wd0 > 0 else float("nan")})
    return out
