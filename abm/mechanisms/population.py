"""Family risk and need: initial population and rare severe harm events (brief: Family).

Latent risk follows an Ornstein-Uhlenbeck process around each family's own long-run level
(``core.advance_risk``). Severe harm happens at a hazard h(z) = h0 exp(beta z): rare at
every level of risk, far likelier at high risk (§1.43-1.46). Harm is sampled by thinning
within bins of families sorted by long-run risk, so a week costs O(events), not O(families).
"""

import math

import numpy as np
from numba import njit

from abm.core import indicators as I
from abm.core.kernels import advance_risk, in_social_care, ou_step, ou_table, randbelow

#: Stationary spread multiplier used to bound risk within a bin for thinning.
BOUND_SD = 4.0


@njit(cache=True)
def init_families(fam, las, p, rng):
    """Fill the family table LA by LA: household sizes, long-run risk (sorted), needs.

    Families in each LA are stored in ascending order of long-run risk so that risk bins
    are contiguous index ranges.
    """
    n_las = las.fam_start.shape[0]
    stat_sd = stationary_sd(p)
    for la in range(n_las):
        s, e = las.fam_start[la], las.fam_end[la]
        n = e - s
        base = np.sort(rng.normal(0.0, p.risk_baseline_sd, n))
        for k in range(n):
            i = s + k
            fam.la[i] = la
            fam.base[i] = base[k]
            fam.risk[i] = base[k] + stat_sd * rng.normal()
            fam.risk_t[i] = 0
            logit = p.need_prevalence_logit + p.need_risk_slope * base[k]
            pr = 1.0 / (1.0 + math.exp(-logit))
            m = 0
            for d in range(6):
                if rng.random() < pr:
                    m |= 1 << d
            fam.needs[i] = m
        nb = las.bin_start.shape[1]
        for b in range(nb):
            bs = s + (n * b) // nb
            be = s + (n * (b + 1)) // nb
            las.bin_start[la, b] = bs
            las.bin_end[la, b] = be
            las.bin_base_max[la, b] = fam.base[be - 1] if be > bs else 0.0


@njit(cache=True)
def stationary_sd(p):
    if p.risk_reversion > 0.0:
        return p.risk_volatility / math.sqrt(2.0 * p.risk_reversion)
    return p.risk_volatility * 10.0


@njit(cache=True)
def harm_events(fam, las, p, t, rng, rng_risk, referred):
    """Severe harm events by thinning. Returns the number of events.

    Each event is counted as known (the family has an open social-care case) or missed.
    A harm event brings the family to children's social care: it is queued in ``referred``
    (a forced referral the front door cannot screen out).
    """
    n_las = las.fam_start.shape[0]
    nb = las.bin_start.shape[1]
    bound = BOUND_SD * stationary_sd(p)
    flow = las.flow
    total = 0
    nref = 0
    # the OU transition over every possible elapsed time, looked up (as the front door does)
    ou_decay, ou_sd = ou_table(p.risk_reversion, p.risk_volatility, t)
    for la in range(n_las):
        for b in range(nb):
            s, e = las.bin_start[la, b], las.bin_end[la, b]
            n = e - s
            if n == 0:
                continue
            h_max = min(1.0, p.harm_hazard_base * math.exp(p.harm_hazard_slope * (las.bin_base_max[la, b] + bound)))
            k = rng.poisson(n * h_max)
            for _ in range(k):
                i = s + randbelow(rng, n)
                # advance_risk, with the transition for the elapsed weeks looked up
                dt = t - fam.risk_t[i]
                if 0 < dt <= t:
                    z = ou_step(fam.base[i], fam.risk[i], ou_decay[dt], ou_sd[dt], rng_risk)
                    fam.risk[i] = z
                    fam.risk_t[i] = t
                else:
                    z = advance_risk(fam, i, t, p, rng_risk)
                h = p.harm_hazard_base * math.exp(p.harm_hazard_slope * z)
                if rng.random() * h_max >= h:
                    continue
                total += 1
                fam.n_harm[i] += 1
                flow[la, I.FL_HARM_EVENTS] += 1
                if in_social_care(fam.state[i]):
                    flow[la, I.FL_HARM_KNOWN] += 1
                else:
                    flow[la, I.FL_HARM_MISSED] += 1
                    if nref < referred.shape[0]:
                        referred[nref] = i
                        nref += 1
    return total, nref

