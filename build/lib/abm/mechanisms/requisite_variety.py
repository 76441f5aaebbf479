"""Requisite variety: help that matches the family's needs (brief mechanism 6, App2 ¶16,
§1.21).

Families' needs vary across six domains (``Families.needs``, a bitmask). The variety of
responses a worker can offer rises with the local service range and with scope for
judgment; help quality is the share of the family's need domains the response can meet.
A "one size fits all" response helps less, which shows up as escalation and re-referral.
Casework (``abm.mechanisms.casework``) multiplies the help a case receives by this match.
Switch: ``mech_requisite_variety``.
"""

from numba import njit

from abm.core.kernels import popcount6


@njit(cache=True)
def response_match(needs, p, scope):
    """The share (0 to 1) of the need domains in ``needs`` the response can meet, with
    scope for judgment ``scope`` (``p``: a record with ``service_range`` and
    ``mech_requisite_variety``)."""
    if not p.mech_requisite_variety:
        return 1.0
    k = popcount6(needs)
    if k == 0:
        return 1.0
    variety = p.service_range * (0.4 + 0.6 * scope)
    return min(1.0, variety / k)
