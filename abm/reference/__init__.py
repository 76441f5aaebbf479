"""A plain-Mesa reference implementation of the model, and the equivalence check against the
engine (see ``docs/reference.md``).

The engine (``abm.core.model.ChildProtectionModel``) keeps its state in NumPy tables and runs
Numba kernels. The reference keeps each agent's state in Python attributes and runs ordinary
``step`` methods implementing the same mechanisms, in the same weekly order, with the same
parameters. It is the executable specification, and the baseline for the engine's speed.

    >>> import abm
    >>> from abm.reference import ReferenceModel, family_weeks
    >>> model = ReferenceModel(abm.small_la_scenario(children=2000, years=1), rng=1).run()
    >>> from abm.outputs.tables import summary
    >>> summary(model, "fy")  # the same summary code as for the engine
"""

from abm.reference.agents import CareCase, Court, Family, LocalAuthority, Referrer, SocialWorker
from abm.reference.model import ReferenceModel, family_weeks

__all__ = ["ReferenceModel", "family_weeks", "Family", "SocialWorker", "Referrer",
           "LocalAuthority", "Court", "CareCase"]
