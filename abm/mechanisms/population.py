"""Families' risk and need, and rare severe harm (brief: Family; mechanism 12, §1.43-1.46).

Latent risk follows an Ornstein-Uhlenbeck process around each family's own long-run level.
Risk of a family nobody touches is advanced lazily, only when something reads it, with the
exact transition over the weeks elapsed (:func:`advance_risk`), which makes it statistically
identical to weekly updates. Severe harm happens at a hazard h(z) = h0 exp(beta z): rare at
every level of risk, far likelier at high risk. Harm is sampled by thinning within bins of
families sorted by long-run risk, so a week costs O(events), not O(families); a harmed
family without an open case is referred (the front door cannot screen it out).

The exposure harm comes from (:class:`HarmExposure`), counted every week in child-weeks: the
children above the significant-harm cut without a protective service (a plan, proceedings or
care), and the children under a protective service while below the cut (unnecessary
intervention). Casework counts the open cases exactly (``abm.mechanisms.casework``); the
families with no open case are estimated here, without bias, from a small sample of each risk
bin whose risk can reach the cut, so a week costs O(bins), not O(families).
"""

import math

import numpy as np
from numba import njit

from abm.core import indicators as I
from abm.core.kernels import in_social_care, randbelow
from abm.core.mechanism import Mechanism
from abm.core.params import param_record
from abm.core.state import NONE

#: The parameters of family risk, need and harm.
FamilyParams = param_record("FamilyParams", """
    risk_baseline_sd risk_reversion risk_volatility need_prevalence_logit need_risk_slope
    harm_hazard_base harm_hazard_slope significant_harm_cut household_renewal_rate""")

#: Stationary spread multiplier used to bound risk within a bin for thinning.
BOUND_SD = 4.0


# ------------------------------------------------------------------ latent risk (OU)
@njit(cache=True, inline="always")
def ou_transition(theta, volatility, dt):
    """Decay and innovation SD of the exact Ornstein-Uhlenbeck transition over dt weeks."""
    if theta > 0.0:
        decay = math.exp(-theta * dt)
        sd = volatility * math.sqrt((1.0 - decay * decay) / (2.0 * theta))
    else:
        decay = 1.0
        sd = volatility * math.sqrt(dt)
    return decay, sd


@njit(cache=True, inline="always")
def ou_step(mu, risk, decay, sd, rng):
    """Risk after an OU transition with this decay and innovation SD, from ``risk`` around
    the long-run level ``mu``. Every caller that advances a family's risk uses it."""
    return mu + (risk - mu) * decay + sd * rng.normal()


@njit(cache=True)
def ou_table(theta, volatility, t_max):
    """:func:`ou_transition` for every elapsed time 0..t_max weeks, as two arrays: loops that
    advance many families' risk look it up instead of computing ``exp`` and ``sqrt`` each
    time (the same arithmetic, so the same values)."""
    decay = np.ones(t_max + 1)
    sd = np.zeros(t_max + 1)
    for dt in range(1, t_max + 1):
        decay[dt], sd[dt] = ou_transition(theta, volatility, dt)
    return decay, sd


@njit(cache=True)
def advance_risk(fam, i, t, theta, volatility, rng):
    """Bring family i's latent risk forward to week t: the exact OU transition.

    (Casework, which steps every open case every week, computes the one-week transition once
    per week and applies it with the same arithmetic; the front door and harm look the
    transition up in :func:`ou_table`.)
    """
    dt = t - fam.risk_t[i]
    if dt <= 0:
        return fam.risk[i]
    decay, sd = ou_transition(theta, volatility, dt)
    z = ou_step(fam.base[i], fam.risk[i], decay, sd, rng)
    fam.risk[i] = z
    fam.risk_t[i] = t
    return z


@njit(cache=True)
def stationary_sd(theta, volatility):
    if theta > 0.0:
        return volatility / math.sqrt(2.0 * theta)
    return volatility * 10.0


# ------------------------------------------------------------------ the population
@njit(cache=True)
def init_la_families(fam, las, la, base, p, rng):
    """Fill LA ``la``'s rows of the family table: long-run risk ``base`` (sorted ascending,
    so that risk bins are contiguous row ranges), current risk and needs; then its bins."""
    stat_sd = stationary_sd(p.risk_reversion, p.risk_volatility)
    s, e = las.fam_start[la], las.fam_end[la]
    n = e - s
    for k in range(n):
        i = s + k
        fam.la[i] = la
        fam.base[i] = base[k]
        fam.base_origin[i] = base[k]
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


def init_families(fam, las, p, rng) -> None:
    """Fill the family table LA by LA: household risk (sorted), needs, risk bins."""
    fp = FamilyParams.of(p)
    for la in range(las.fam_start.shape[0]):
        n = int(las.fam_end[la] - las.fam_start[la])
        base = np.sort(rng.normal(0.0, fp.risk_baseline_sd, n))
        init_la_families(fam, las, la, base, fp, rng)


@njit(cache=True)
def harm_events(fam, las, p, t, rng, rng_risk, referred):
    """Severe harm events by thinning. Returns the number of events, the number of
    families queued, and the queue: ``referred``, or a larger copy of it when the week's
    forced referrals did not fit (the caller keeps the returned array).

    Each event is counted as known (the family has an open social-care case) or missed.
    A harm event brings the family to children's social care: it is queued in ``referred``
    (a forced referral the front door cannot screen out).
    """
    n_las = las.fam_start.shape[0]
    nb = las.bin_start.shape[1]
    bound = BOUND_SD * stationary_sd(p.risk_reversion, p.risk_volatility)
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
            # the bound on the bin's hazard; not capped at 1: a hazard is a rate (the
            # reference model draws Poisson(h) events), and thinning under a bound above 1
            # gives exactly that
            h_max = p.harm_hazard_base * math.exp(p.harm_hazard_slope * (las.bin_base_max[la, b] + bound))
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
                    z = advance_risk(fam, i, t, p.risk_reversion, p.risk_volatility, rng_risk)
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
                    if nref == referred.shape[0]:  # full: grow it (no referral is dropped)
                        grown = np.empty(2 * nref + 1, np.int64)
                        grown[:nref] = referred
                        referred = grown
                    referred[nref] = i
                    nref += 1
    return total, nref, referred


class HarmEvents(Mechanism):
    """Rare severe harm at a hazard rising with true risk (switch: ``mech_harm_events``).
    Leaves the families it harmed without an open case in ``forced``, ``n_forced`` for the
    front door (forced referrals)."""

    name = "harm"
    Params = FamilyParams

    def __init__(self, model):
        super().__init__(model)
        self.forced = np.zeros(max(1024, model.n_families // 1000), np.int64)
        self.n_forced = 0

    def step(self, d) -> None:
        m = self.model
        self.n_forced = 0
        if m.p.mech_harm_events:
            _, self.n_forced, self.forced = self.call(
                harm_events, m.fam, m.las, self.p, m._t, m.streams["harm"], m.streams["risk"],
                self.forced)


# ------------------------------------------------------------------ households renew
@njit(cache=True)
def renew_households(fam, las, p, t, rng):
    """This week's renewal: each row whose household has no open case is taken by a new
    household at ``household_renewal_rate`` a year (its children grow up or move away, and a
    household with the same place in the LA's risk distribution takes the row). The new
    household has the row's original long-run risk (``base_origin``: any lasting change was
    the old household's), a current risk drawn from its stationary spread, and no history:
    no earlier referral, closure, plan or harm. Rows are drawn uniformly, so a week costs
    O(renewals), not O(families); a drawn row with an open case is left as it is. Returns
    the number of households renewed."""
    q = p.household_renewal_rate * 7.0 / 365.25
    if q <= 0.0:
        return 0
    stat_sd = stationary_sd(p.risk_reversion, p.risk_volatility)
    done = 0
    for la in range(las.fam_start.shape[0]):
        s, e = las.fam_start[la], las.fam_end[la]
        n = e - s
        if n == 0:
            continue
        for _ in range(rng.binomial(n, q)):
            i = s + randbelow(rng, n)
            if fam.state[i] != NONE:
                continue
            fam.base[i] = fam.base_origin[i]
            fam.risk[i] = fam.base_origin[i] + stat_sd * rng.normal()
            fam.risk_t[i] = t
            fam.last_closed[i] = -1_000_000
            fam.returned[i] = -1
            fam.n_worker_changes[i] = 0
            fam.n_referrals[i] = 0
            fam.n_harm[i] = 0
            fam.n_plans[i] = 0
            done += 1
    return done


class Renewal(Mechanism):
    """Households with children leave the population and new ones take their rows
    (:func:`renew_households`), so a household's history, and a plan's lasting change, last
    as long as the household does."""

    name = "renewal"
    Params = FamilyParams

    def step(self, d) -> None:
        m = self.model
        self.call(renew_households, m.fam, m.las, self.p, m._t, m.streams["renewal"])


# ------------------------------------------------------------------ exposure to harm
#: Families sampled per week, at most, in one risk bin to estimate the idle families' exposure
#: (a bin samples this many times the stationary probability that its riskiest family is above
#: the cut, at least one).
EXPOSURE_SAMPLES_PER_BIN = 16


@njit(cache=True)
def harm_exposure(fam, las, p, t, rng):
    """This week's exposure of the families with no open case, in child-weeks per LA: the
    children above the significant-harm cut (none of them has a protective service).
    Casework counts the open cases' exposure exactly, in the same week.

    Estimated from a uniform sample of each risk bin whose long-run risk can reach the cut
    (the bound used for harm), larger where the bin's riskiest family is likelier above the
    cut (:data:`EXPOSURE_SAMPLES_PER_BIN`): each sampled family's risk this week is drawn
    with the exact transition from its last value and not kept (so the model's own paths
    and streams are untouched), and an idle one above the cut counts for the bin's families
    over the sample's size. The estimate is unbiased; a week costs O(bins), not O(families)."""
    n_las = las.fam_start.shape[0]
    nb = las.bin_start.shape[1]
    cut = p.significant_harm_cut
    sd = stationary_sd(p.risk_reversion, p.risk_volatility)
    bound = BOUND_SD * sd
    ou_decay, ou_sd = ou_table(p.risk_reversion, p.risk_volatility, t)
    flow = las.flow
    for la in range(n_las):
        idle = 0.0
        for b in range(nb):
            s, e = las.bin_start[la, b], las.bin_end[la, b]
            n = e - s
            if n == 0 or las.bin_base_max[la, b] + bound <= cut:
                continue
            if sd > 0.0:
                q = 0.5 * math.erfc((cut - las.bin_base_max[la, b]) / (sd * math.sqrt(2.0)))
            else:  # no spread (risk_volatility = 0): the bin's riskiest family is above the
                q = 1.0  # cut for certain (bins whose riskiest family is not were skipped)
            k = max(1, int(math.ceil(EXPOSURE_SAMPLES_PER_BIN * q)))
            hits = 0
            for _ in range(k):
                i = s + randbelow(rng, n)
                if fam.state[i] != NONE:
                    continue  # open (early help included): casework counts it
                dt = t - fam.risk_t[i]
                z = fam.risk[i]
                if 0 < dt <= t:  # a draw of its risk now, not kept: the model is unchanged
                    z = ou_step(fam.base[i], z, ou_decay[dt], ou_sd[dt], rng)
                if z > cut:
                    hits += fam.n_children[i]
            idle += hits * n / k
        flow[la, I.FL_UNPROTECTED_HARM_WEEKS] += int(round(idle))


class HarmExposure(Mechanism):
    """The exposure to harm of the families with no open case, estimated each week just
    before casework (which counts the open cases, the same week's open set), in child-weeks."""

    name = "exposure"
    Params = FamilyParams

    def step(self, d) -> None:
        m = self.model
        self.call(harm_exposure, m.fam, m.las, self.p, m._t, m.streams["exposure"])
