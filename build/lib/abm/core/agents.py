"""Mesa agents as thin views onto rows of the state arrays.

An agent holds only its model and its row index; every attribute is a property that reads
the arrays, so an agent can never disagree with the kernels. ``model.agents``,
``agents_by_type``, ``select``, ``groupby`` and ``agg`` therefore give the same numbers as
the arrays. Families get a view only while they have an open social-care case.
"""

from __future__ import annotations

import mesa

from abm.core import state as S


class FamilyAgent(mesa.Agent):
    """A household with an open children's social care case (view onto Families row)."""

    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def la(self) -> int:
        return int(self.model.fam.la[self.row])

    @property
    def n_children(self) -> int:
        return int(self.model.fam.n_children[self.row])

    @property
    def state(self) -> str:
        return S.STATE_NAMES[self.model.fam.state[self.row]]

    @property
    def state_code(self) -> int:
        return int(self.model.fam.state[self.row])

    @property
    def true_risk(self) -> float:
        return float(self.model.fam.risk[self.row])

    @property
    def needs(self) -> int:
        return int(self.model.fam.needs[self.row])

    @property
    def worker_row(self) -> int:
        return int(self.model.fam.worker[self.row])

    @property
    def weeks_in_state(self) -> int:
        return int(self.model._t - self.model.fam.since[self.row])

    @property
    def worker_changes(self) -> int:
        return int(self.model.fam.n_worker_changes[self.row])


class SocialWorkerAgent(mesa.Agent):
    """A social-work post in an LA team: permanent, agency, or vacant (view onto Workers)."""

    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def la(self) -> int:
        return int(self.model.work.la[self.row])

    @property
    def team(self) -> int:
        return int(self.model.work.team[self.row])

    @property
    def status(self) -> str:
        return ("vacant", "permanent", "agency")[self.model.work.status[self.row]]

    @property
    def is_vacant(self) -> bool:
        return self.model.work.status[self.row] == S.VACANT

    @property
    def caseload(self) -> int:
        return int(self.model.work.caseload[self.row])

    @property
    def experience(self) -> float:
        return float(self.model.work.experience[self.row])

    @property
    def direct_ratio(self) -> float:
        return float(self.model.work.direct_ratio[self.row])

    @property
    def direct_hours(self) -> float:
        return float(self.model.work.direct_hours[self.row])

    @property
    def record_hours(self) -> float:
        return float(self.model.work.record_hours[self.row])

    @property
    def satisfaction(self) -> float:
        return float(self.model.work.satisfaction[self.row])

    @property
    def stress(self) -> float:
        return float(self.model.work.stress[self.row])


class ReferrerAgent(mesa.Agent):
    """A universal-services agency of one type in one LA (police, schools, health, ...)."""

    def __init__(self, model, la: int, kind: int):
        super().__init__(model)
        self.la = la
        self.kind_code = kind

    @property
    def kind(self) -> str:
        return S.REFERRER_TYPES[self.kind_code]

    @property
    def contacts(self) -> int:
        return int(self.model.referrers_total[self.la, self.kind_code, 0])

    @property
    def referrals(self) -> int:
        return int(self.model.referrers_total[self.la, self.kind_code, 1])

    @property
    def early_help_offers(self) -> int:
        return int(self.model.referrers_total[self.la, self.kind_code, 2])


class CourtAgent(mesa.Agent):
    """A family court centre serving a group of LAs (view onto Courts row)."""

    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def hearing_slots(self) -> float:
        return float(self.model.courts.slots[self.row])

    @property
    def extra_capacity(self) -> float:
        """Capacity found under listing pressure, a share of the base slots (ODD 7.16)."""
        return float(self.model.courts.extra_capacity[self.row])

    @property
    def guardian_capacity(self) -> float:
        return float(self.model.courts.guardian_capacity[self.row])

    @property
    def unallocated(self) -> int:
        return int(self.model.courts.unallocated[self.row])

    @property
    def ineffective_hearings(self) -> int:
        return int(self.model.courts.ineffective[self.row])

    @property
    def open_cases(self) -> int:
        return int(self.model.courts.open_cases[self.row])

    @property
    def children_served(self) -> float:
        return float(self.model.courts.children_served[self.row])
