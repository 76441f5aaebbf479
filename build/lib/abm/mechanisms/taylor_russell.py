"""Decisions under uncertainty: Taylor-Russell (brief mechanism 2, §1.47-1.50).

Every judgment in the caseflow (referrer, screening, initial and core assessment,
conference, the LA's decision to apply to court) is a noisy estimate of the family's true
risk set against a threshold: :func:`judge`. Its accuracy (the noise ``sigma``) comes from
the person deciding: experience, supervision, the regime's scope for judgment and the direct
time the case actually received (:func:`worker_sigma`, :func:`case_sigma`). The threshold
follows anxiety (``Drivers.threshold_shift``). Each decision is scored against the truth
(true risk above the significant-harm cut): true/false positives and negatives per decision
point, score histograms (for the AUC) and a reservoir of recent decisions (for the review's
Figures I-IV, ``abm.studies.taylor_russell``). With accuracy fixed, moving the threshold only
trades one error for the other; better accuracy reduces both.
"""

import math

import numpy as np
from numba import njit

from abm.core.state import FN, FP, SCORE_BINS, SCORE_HI, SCORE_LO, TN, TP

#: A decision log: one row per decision a kernel's loop makes, with these columns, scored
#: after the loop by :func:`score_decisions`. One float64 array, so that the loop hands
#: :func:`judge` one array rather than the seven of the confusion counts and the reservoir:
#: an inlined helper takes and releases a reference to every array it is given, on every
#: call (docs/performance.md).
LOG_KIND, LOG_LA, LOG_TRUE, LOG_SCORE, LOG_THRESHOLD = 0, 1, 2, 3, 4


@njit(cache=True)
def decision_log(n):
    """An empty decision log with room for ``n`` decisions."""
    return np.empty((n, 5))


@njit(cache=True, inline="always")
def judge(true_risk, sigma, threshold, rng, log, n, kind, la):
    """A Taylor-Russell decision of kind ``kind`` in LA ``la``: a noisy estimate of true risk
    against a threshold. Returns (positive, score), and writes the decision to row ``n`` of
    ``log`` (the caller then counts it) for :func:`score_decisions`."""
    score = true_risk + sigma * rng.normal()
    log[n, LOG_KIND] = kind
    log[n, LOG_LA] = la
    log[n, LOG_TRUE] = true_risk
    log[n, LOG_SCORE] = score
    log[n, LOG_THRESHOLD] = threshold
    return score > threshold, score


@njit(cache=True)
def score_decisions(log, n, cut, counts, res, t):
    """Score the first ``n`` decisions of ``log``, in the order made, against the truth (true
    risk above the significant-harm cut): counts[la, kind, TP/FP/TN/FN], the score
    histograms, and the reservoir of recent decisions (for the Figures I-IV scatter and the
    AUC). Decisions made at week ``t``."""
    for j in range(n):
        d = int(log[j, LOG_KIND])
        la = int(log[j, LOG_LA])
        true_risk = log[j, LOG_TRUE]
        score = log[j, LOG_SCORE]
        threshold = log[j, LOG_THRESHOLD]
        positive = score > threshold
        truly = true_risk > cut
        if positive:
            if truly:
                counts[la, d, TP] += 1
            else:
                counts[la, d, FP] += 1
        else:
            if truly:
                counts[la, d, FN] += 1
            else:
                counts[la, d, TN] += 1
        b = int((score - SCORE_LO) / (SCORE_HI - SCORE_LO) * SCORE_BINS)
        res.hist[d, 1 if truly else 0, min(SCORE_BINS - 1, max(0, b))] += 1
        k = res.count[d] % res.true_risk.shape[1]
        res.true_risk[d, k] = true_risk
        res.score[d, k] = score
        res.threshold[d, k] = threshold
        res.week[d, k] = t
        res.count[d] += 1


# ------------------------------------------------------------------ accuracy
@njit(cache=True, inline="always")
def worker_sigma(experience, p, scope):
    """Noise of a worker's risk estimates before the per-case direct-time factor: less with
    experience, scope for judgment ``scope`` and supervision."""
    return (p.worker_sigma_base
            * (1.0 + p.sigma_inexperience * math.exp(-experience / p.experience_scale_years))
            * (1.0 + p.sigma_low_scope * (1.0 - scope))
            * (1.0 + p.sigma_low_supervision * (1.0 - p.supervision_quality)))


@njit(cache=True, inline="always")
def duty_sigma(p, scope):
    """Estimate noise of a duty manager deciding a case with no worker in post."""
    return p.worker_sigma_base * (1.0 + p.sigma_inexperience) * (1.0 + p.sigma_low_scope * (1.0 - scope))


@njit(cache=True, inline="always")
def case_sigma(base, dq, p):
    """Estimate noise for a decision on a case: ``base``, its worker's (or the duty
    manager's, :func:`duty_sigma`), widened by the direct time ``dq`` (0 to 1) it missed.

    Takes scalars: a helper given the family and worker tables takes and releases a
    reference to each of their arrays on every call (docs/performance.md)."""
    return base * (1.0 + p.sigma_low_direct_time * (1.0 - dq))


@njit(cache=True)
def skill_index(sig, p):
    """A worker's judgment skill on this case: 0 for a newly qualified worker with no direct
    time, no scope and no supervision, to just under 1 for an experienced worker with full
    direct time, full scope and good supervision."""
    floor = p.worker_sigma_base
    worst = ((1.0 + p.sigma_inexperience) * (1.0 + p.sigma_low_direct_time)
             * (1.0 + p.sigma_low_scope) * (1.0 + p.sigma_low_supervision))
    x = 1.0 - (sig / floor - 1.0) / (worst - 1.0) if worst > 1.0 else 1.0
    return min(0.999, max(0.0, x))
