"""Priors, the perturbation kernel and the importance weights of ABC-SMC.

Every prior is flat in a *transformed* space (the value itself for ``uniform``, its log for
``loguniform``); particles move there, by a Gaussian kernel with covariance twice the
weighted covariance of the previous generation (Beaumont et al. 2009; the "multivariate
normal kernel" of Filippi et al. 2013), or, component by component, twice each weighted
variance (``componentwise``: Beaumont et al.'s original kernel, which stays well conditioned
when the effective sample size is below the number of parameters); the importance weight of
a particle is prior / sum_j w_j K(theta | theta_j).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DISTS = ("uniform", "loguniform")
KERNELS = ("multivariate", "componentwise")


@dataclass(frozen=True)
class Prior:
    """A uniform or log-uniform prior on one factor (``float`` or ``int``).

    The particle moves on a continuous scale; a whole-number factor receives the nearest
    whole number, and its continuous support is widened by 0.5 at each end so every whole
    number in [low, high] has the same prior mass (in the transformed space)."""

    name: str
    dist: str
    low: float
    high: float
    kind: str = "float"

    @property
    def log(self) -> bool:
        return self.dist == "loguniform"

    def bounds(self) -> tuple[float, float]:
        """Support in the transformed space (log for loguniform)."""
        lo, hi = (self.low - 0.5, self.high + 0.5) if self.kind == "int" else (self.low, self.high)
        return (math.log(lo), math.log(hi)) if self.log else (float(lo), float(hi))

    def transform(self, x):
        return np.log(x) if self.log else np.asarray(x, float)

    def to_model(self, y: float):
        """The value the model receives for transformed coordinate ``y``."""
        x = math.exp(y) if self.log else float(y)
        if self.kind == "int":
            return int(min(max(math.floor(x + 0.5), self.low), self.high))
        return min(max(x, self.low), self.high)  # exp/log round-off at the ends

    def as_dict(self) -> dict:
        return {"dist": self.dist, "low": self.low, "high": self.high, "kind": self.kind}


def kernel_cov(Y: np.ndarray, w: np.ndarray, widths: np.ndarray,
               kind: str = "multivariate") -> np.ndarray:
    """2x the weighted covariance (Beaumont et al. 2009), or its diagonal for
    ``componentwise``, kept positive definite."""
    cov = np.atleast_2d(np.cov(Y, rowvar=False, aweights=w, bias=True)) * 2.0
    if kind == "componentwise":
        cov = np.diag(np.diag(cov))
    # kept positive definite in floating point: a near-singular covariance (few effective
    # particles) gets 1e-6 of each variance on its diagonal, and a collapsed dimension
    # still moves a little
    return cov + np.diag(1e-6 * np.diag(cov) + (1e-9 * widths) ** 2)


def importance_weights(Y: np.ndarray, prevY: np.ndarray, prevw: np.ndarray,
                       cov: np.ndarray) -> np.ndarray:
    """w_i = prior(theta_i) / sum_j w_j K(theta_i | theta_j), normalised. Priors are uniform in
    the transformed space, so the numerator is constant on the support."""
    inv = np.linalg.inv(cov)
    logpw = np.log(prevw)
    out = np.empty(len(Y))
    for a in range(0, len(Y), 256):  # rows in blocks: N x N x k stays small
        d = Y[a:a + 256, None, :] - prevY[None, :, :]
        q = np.einsum("ijk,kl,ijl->ij", d, inv, d)
        lk = logpw[None, :] - 0.5 * q
        m = lk.max(axis=1)
        out[a:a + 256] = -(m + np.log(np.exp(lk - m[:, None]).sum(axis=1)))
    w = np.exp(out - out.max())
    return w / w.sum()


def weighted_quantile(x, w, q):
    """Quantile(s) of the weighted sample (midpoint rule, linear interpolation)."""
    x, w = np.asarray(x, float), np.asarray(w, float)
    o = np.argsort(x, kind="stable")
    x, w = x[o], w[o]
    c = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, c, x)
