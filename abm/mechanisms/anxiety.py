"""Referral thresholds and anxiety after a media shock (brief mechanism 1, §1.39-1.50,
§2.9-2.11).

A media shock (the Peter Connelly publicity, November 2008) raises public anxiety, which then
fades with a half-life. Anxiety acts all along the chain at once, each effect with its own
time course:

* defensive practice lowers every decision threshold by ``anxiety_threshold_shift`` x the
  anxiety felt with the defensive half-life (``Drivers.threshold_shift``), at once, except
  the LA's decision to apply for care proceedings, which follows that shift with a lag
  (``anxiety_court_lag_weeks``, ``Drivers.court_shift``);
* publicity raises the rate of contacts of concern, with a lag
  (``Drivers.contact_gain``);
* courts commission more experts (``abm.mechanisms.courts``);
* the audit after a shock adds a review of every open plan and child-in-need case
  (:func:`audit_open_cases`), without cancelling its routine review.

Switch: ``mech_anxiety``.
"""

from __future__ import annotations

from numba import njit

from abm.core.mechanism import Mechanism
from abm.core.state import CIN, CPP


@njit(cache=True)
def audit_open_cases(fam, open_list, t, weeks, rng):
    """After a media shock, add a review of every open CP plan and child-in-need case in a
    week drawn uniformly within ``weeks``. A review so added before the routine one keeps
    the routine one (``routine_due``): if the audit changes nothing, the case is reviewed
    again when it was due anyway. Returns the number of cases audited."""
    n = 0
    if weeks <= 0:
        return 0
    for k in range(open_list.n[0]):
        i = open_list.idx[k]
        s = fam.state[i]
        if s == CPP or s == CIN:
            due = t + 1 + int(rng.random() * weeks)
            if due < fam.due[i]:
                if fam.routine_due[i] < 0:  # (a second shock keeps the first routine date)
                    fam.routine_due[i] = fam.due[i]
                fam.due[i] = due
            n += 1
    return n


class Anxiety(Mechanism):
    """Public anxiety: the media shocks so far, and publicity as felt in reporting habits."""

    name = "anxiety"

    def __init__(self, model):
        super().__init__(model)
        self.shocks: list[tuple[int, float]] = []  # (calendar week, magnitude)
        self.reporting = 0.0  # anxiety as felt in reporting habits (anxiety_contact_lag_weeks)
        self.court_shift = 0.0  # the shift as felt in care applications (court lag)

    def shock(self, magnitude: float) -> None:
        """A media shock this week: public anxiety jumps and, with the mechanism on, open
        plans are audited."""
        m = self.model
        self.shocks.append((m.week, float(magnitude)))
        if m.p.mech_anxiety and magnitude > 0:
            audit_open_cases(m.fam, m.open, m._t, m.p.shock_audit_weeks, m.streams["casework"])

    def level(self, week: int, halflife: float) -> float:
        """Anxiety at ``week``: the sum of past shocks, each decaying with ``halflife``."""
        return float(sum(mag * 0.5 ** ((week - w) / halflife) for w, mag in self.shocks
                         if w <= week))

    def shocks_at(self, week: int) -> float:
        return sum(mag for w, mag in self.shocks if w == week)

    def week_drivers(self) -> tuple[float, float, float, float]:
        """This week's (anxiety, threshold shift, contact gain, court shift); advances the
        reporting and court lags (call once a week)."""
        p, week = self.model.p, self.model.week
        anxiety = self.level(week, p.anxiety_halflife_weeks)
        self.reporting += (anxiety - self.reporting) / p.anxiety_contact_lag_weeks
        on = p.mech_anxiety
        gain = 1.0 + p.anxiety_contact_gain * self.reporting if on else 1.0
        shift = (p.anxiety_threshold_shift * self.level(week, p.defensive_halflife_weeks)
                 if on else 0.0)
        self.court_shift += (shift - self.court_shift) / p.anxiety_court_lag_weeks
        return anxiety, shift, gain, self.court_shift
