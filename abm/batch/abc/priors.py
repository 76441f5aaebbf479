"""Priors, the perturbation kernel and the importance weights of ABC-SMC.

Every prior is flat in a *transformed* space (the value itself for ``uniform``, its log for
``loguniform``); particles move there, by a Gaussian kernel with covariance twice the
weighted covariance of the previous generation (Beaumont et al. 2009; the "multivariate
normal kernel" of Filippi et al. 2013), or, component by component, twice each weighted
variance (``componentwise``: Beaumont et al.'s original kernel, which stays well conditioned
when the effective sample size is below the number of parameters); the importance weight of
a particle is prior / sum_j w_j K(theta | theta_j).

The multivariate kernel's proposals outside the prior are redrawn (the proposal density is
the mixture restricted to the prior, one constant for all particles). The componentwise
kernel is truncated to the prior's box instead, ancestor by ancestor, and sampled exactly
(:func:`truncated_moves`); its density then carries each ancestor's mass inside the box
(:func:`truncated_log_mass`). With many parameters the redrawing fails: in 36 dimensions
twice the covariance of a prior-wide population puts about 4 in 10 million proposals
inside the box (docs/calibration_method.md, "Many parameters").
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


def truncated_log_mass(prevY: np.ndarray, sd: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Per ancestor (row of ``prevY``), the log of its componentwise kernel's mass inside the
    prior's box: sum over coordinates of log(Phi(b) - Phi(a)), with a, b the box's ends in
    standard units (``sd``: the kernel's standard deviations; ``bounds``: k rows of low,
    high)."""
    from scipy.special import log_ndtr

    a = (bounds[:, 0] - prevY) / sd
    b = (bounds[:, 1] - prevY) / sd
    # log(Phi(b) - Phi(a)) = log Phi(b) + log1p(-exp(log Phi(a) - log Phi(b))), computed on
    # the side of the distribution where it does not cancel
    flip = a > 0  # the box lies above the ancestor: use the upper tail, Phi(-a) - Phi(-b)
    lo = np.where(flip, -b, a)
    hi = np.where(flip, -a, b)
    la, lb = log_ndtr(lo), log_ndtr(hi)
    return (lb + np.log1p(-np.exp(np.minimum(la - lb, 0.0)))).sum(axis=1)


def truncated_moves(anc: np.ndarray, sd: np.ndarray, bounds: np.ndarray, rng) -> np.ndarray:
    """Exact draws of the componentwise kernel truncated to the prior's box, one row per
    ancestor row of ``anc``: each coordinate by inverse transform between its bounds."""
    from scipy.special import log_ndtr, ndtri_exp

    a = (bounds[:, 0] - anc) / sd
    b = (bounds[:, 1] - anc) / sd
    flip = a > 0  # sample the mirrored variable where the box lies in the upper tail
    lo = np.where(flip, -b, a)
    hi = np.where(flip, -a, b)
    la, lb = log_ndtr(lo), log_ndtr(hi)
    u = rng.uniform(size=anc.shape)
    # log(Phi(lo) + u (Phi(hi) - Phi(lo))), in logs
    lu = np.logaddexp(la + np.log1p(-u), lb + np.log(np.maximum(u, 1e-300)))
    x = np.clip(ndtri_exp(np.minimum(lu, 0.0)), lo, hi)
    return anc + sd * np.where(flip, -x, x)


def importance_weights(Y: np.ndarray, prevY: np.ndarray, prevw: np.ndarray,
                       cov: np.ndarray, log_mass: np.ndarray | None = None) -> np.ndarray:
    """w_i = prior(theta_i) / sum_j w_j K(theta_i | theta_j), normalised. Priors are uniform in
    the transformed space, so the numerator is constant on the support. ``log_mass``: per
    ancestor, the log of its kernel's mass inside the prior (a truncated kernel,
    :func:`truncated_log_mass`); None for a kernel restricted as a whole."""
    inv = np.linalg.inv(cov)
    logpw = np.log(prevw) if log_mass is None else np.log(prevw) - log_mass
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
