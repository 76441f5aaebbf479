"""The learning loops of Appendix 2: B1, B2 and R acting on the level of prescription.

National, scalar system dynamics, updated once a week (no per-family work, so plain Python):

* **B1, single-loop compliance** (App2 ¶12-13): compliance (the share of assessments
  completed on time, an EMA over about a quarter) below the target pulls prescription up.
* **B2, double-loop learning** (App2 ¶17-18): errors - severe harm to children known to
  services, and media shocks as high-profile errors - that are *acknowledged* pull
  prescription down.
* **R, addiction to prescription** (App2 ¶19-20): the more compliance there is to show, the
  more errors are defended as "we followed the rules" and hidden: they are not acknowledged
  (weakening B2), and they are met with more rules (pushing prescription up).

Prescription relaxes slowly to the regime's level, and prescription above that level eats
into scope for judgment (App2 ¶12). Each loop's current pull is reported (loop activity).
"""

from __future__ import annotations

from dataclasses import dataclass

from abm.core import indicators as I
from abm.core.mechanism import Mechanism


@dataclass
class LoopState:
    prescription: float  # current level (multiplier of the recording demand)
    anchor: float  # the regime's level, to which prescription relaxes
    compliance: float = 1.0  # EMA of the on-time share
    error_rate: float = 0.0  # EMA of errors per 100k children per year
    pull_b1: float = 0.0  # prescription per year
    pull_b2: float = 0.0
    pull_r: float = 0.0
    hidden_share: float = 0.0


def step_loops(ls: LoopState, p, on_time: int, completed: int, errors: float,
               children: float) -> float:
    """Advance the loops one week; returns the new prescription level."""
    if completed > 0:
        ls.compliance += (on_time / completed - ls.compliance) / 13.0
    per100k_year = errors / max(children, 1.0) * 1e5 * 52.0
    ls.error_rate += (per100k_year - ls.error_rate) / 13.0
    shortfall = max(0.0, p.compliance_target - ls.compliance)
    ls.hidden_share = p.r_defence * ls.compliance if p.mech_loop_r else 0.0
    acknowledged = ls.error_rate * (1.0 - ls.hidden_share)
    hidden = ls.error_rate * ls.hidden_share
    ls.pull_b1 = p.b1_gain * shortfall if p.mech_loop_b1 else 0.0
    ls.pull_b2 = -p.b2_gain * acknowledged if p.mech_loop_b2 else 0.0
    ls.pull_r = p.r_gain * hidden if p.mech_loop_r else 0.0
    relax = (ls.anchor - ls.prescription) / p.prescription_relax_years
    dp = (ls.pull_b1 + ls.pull_b2 + ls.pull_r + relax) / 52.0
    ls.prescription = min(p.prescription_max, max(0.0, ls.prescription + dp))
    return ls.prescription


def effective_scope(p, prescription: float, anchor: float) -> float:
    """Scope for judgment after prescription above the regime's level has eroded it."""
    return min(1.0, max(0.0, p.scope_for_judgment - p.scope_prescription_slope * (prescription - anchor)))


class LearningLoops(Mechanism):
    """The loops of Appendix 2 acting on prescription (switches ``mech_loop_b1``,
    ``mech_loop_b2``, ``mech_loop_r``). Sets the prescription and scope for judgment in
    force (:meth:`in_force`, read into each week's drivers)."""

    name = "loops"

    def __init__(self, model):
        p = model.p
        self.state = LoopState(prescription=p.prescription, anchor=p.prescription)
        super().__init__(model)

    def configure(self, p) -> None:
        """A policy that sets prescription sets it now; the loops then act from there."""
        super().configure(p)
        if p.prescription != self.state.anchor:
            self.state.anchor = p.prescription
            self.state.prescription = p.prescription

    def in_force(self) -> tuple[float, float]:
        """(prescription, scope for judgment) in force this week."""
        ls = self.state
        return ls.prescription, effective_scope(self.model.p, ls.prescription, ls.anchor)

    def step(self, d) -> None:
        m = self.model
        f = m.las.flow.sum(axis=0)
        children = float(m.las.children.sum())
        shocks = m.mechanisms["anxiety"].shocks_at(m.week)  # high-profile errors
        errors = f[I.FL_HARM_KNOWN] + shocks * m.p.media_error_weight * children / 1e5
        step_loops(self.state, m.p, int(f[I.FL_IA_ON_TIME] + f[I.FL_CA_ON_TIME]),
                   int(f[I.FL_IA_COMPLETED] + f[I.FL_CA_COMPLETED]), float(errors), children)
