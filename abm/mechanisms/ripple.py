"""The ripple effect: turnover, recruitment, agency cover and the profession's status
(brief mechanism 5, App2 ¶14-15).

Less direct work and less scope lower satisfaction; pressure, and the LA's cover gap
(posts vacant or agency-held, weighted by ``ripple_gain``: the ripple loop), raise stress
(both set by ``abm.mechanisms.workload``); both raise the quit hazard (switch
``mech_turnover``).
Leavers are replaced after a recruitment lag that lengthens as the profession's status
falls, often by newly qualified staff; agency workers cover some vacancies, at higher cost,
with shorter stays. Better-paying LAs recruit faster. The profession's status follows
turnover and the blame climate (switch ``mech_status``), which sets next week's
recruitment lag (``Drivers.status_level``).
"""

import math

from numba import njit

from abm.core import indicators as I
from abm.core.kernels import geometric_weeks_from
from abm.core.mechanism import Mechanism
from abm.core.params import param_record
from abm.core.state import AGENCY, PERMANENT, VACANT

#: The parameters of quits, agency cover and recruitment.
RippleParams = param_record("RippleParams", """
    mech_turnover quit_hazard_base quit_hazard_max quit_stress_slope quit_satisfaction_slope
    agency_fill_share agency_stay_weeks newly_qualified_share recruitment_weeks
    status_recruit_slope pay_recruit_slope""")


@njit(cache=True)
def turnover_and_recruitment(work, las, p, t, status_level, rng):
    """Quits, agency cover and recruitment for every post. Draws a fixed number of random
    numbers per post per week so regimes keep common random numbers."""
    nw = work.la.shape[0]
    national = p.recruitment_weeks * math.exp(-p.status_recruit_slope * status_level)
    for w in range(nw):
        la = work.la[w]
        lag = national * math.exp(-p.pay_recruit_slope * las.pay[la])  # local pay
        u_quit = rng.random()
        u_agency = rng.random()
        u_nq = rng.random()
        e_draw = rng.exponential(5.0)
        e_lag = rng.exponential(1.0)  # the recruitment wait, if a post falls vacant
        st = work.status[w]
        if st != VACANT:
            work.experience[w] += 1.0 / 52.0
        if st == PERMANENT and p.mech_turnover:
            h = min(p.quit_hazard_max,
                    p.quit_hazard_base * math.exp(p.quit_stress_slope * work.stress[w]
                                                  - p.quit_satisfaction_slope * work.satisfaction[w]))
            if u_quit < h:
                work.status[w] = VACANT
                las.flow[la, I.FL_LEAVERS] += 1
                work.hire_due[w] = t + geometric_weeks_from(lag, e_lag)
                work.agency_due[w] = t + 2 if u_agency < p.agency_fill_share else -1
                continue
        elif st == AGENCY:
            if u_quit < 1.0 / p.agency_stay_weeks:
                work.status[w] = VACANT
                work.agency_due[w] = t + 2 if u_agency < p.agency_fill_share else -1
                if work.hire_due[w] < 0:
                    work.hire_due[w] = t + geometric_weeks_from(lag, e_lag)
                continue
        st = work.status[w]
        if st != PERMANENT:
            if work.hire_due[w] >= 0 and t >= work.hire_due[w]:
                work.status[w] = PERMANENT
                work.experience[w] = 0.0 if u_nq < p.newly_qualified_share else e_draw
                work.satisfaction[w] = 0.0
                work.stress[w] = 0.0
                work.hire_due[w] = -1
                work.agency_due[w] = -1
                work.changed[w] = t
                las.flow[la, I.FL_JOINERS] += 1
            elif st == VACANT and work.agency_due[w] >= 0 and t >= work.agency_due[w]:
                work.status[w] = AGENCY
                work.experience[w] = e_draw
                work.satisfaction[w] = 0.0
                work.stress[w] = 0.0
                work.agency_due[w] = -1
                work.changed[w] = t
                las.flow[la, I.FL_AGENCY_STARTS] += 1



class Ripple(Mechanism):
    """Quits, agency cover and recruitment for every post, then the profession's status."""

    name = "ripple"
    Params = RippleParams

    def __init__(self, model):
        self.status_level = 0.0
        self.turnover_annual = 0.10  # permanent staff turnover, smoothed (26 weeks)
        super().__init__(model)

    def step(self, d) -> None:
        m = self.model
        self.call(turnover_and_recruitment, m.work, m.las, self.p, m._t, d.status_level,
                  m.streams["workforce"])
        p = m.p
        permanent = max(1, int((m.work.status == PERMANENT).sum()))
        leavers = int(m.las.flow[:, I.FL_LEAVERS].sum())
        self.turnover_annual += (leavers * 52.0 / permanent - self.turnover_annual) / 26.0
        if p.mech_status:
            target = (-p.status_turnover_slope * (self.turnover_annual - 0.10)
                      - p.status_blame_slope * d.anxiety)
            self.status_level += (target - self.status_level) / p.status_adapt_weeks
