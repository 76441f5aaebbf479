"""Court capacity that responds to listing pressure (brief mechanism 10, §2.32).

When more hearings are listed than a court centre has slots, the courts find capacity:
extra sitting days, deputy and part-time judges. They do so with a lag: the extra capacity
moves towards ``court_capacity_response`` x the excess of listings over the base slots,
as a first-order lag with time constant ``court_capacity_lag_weeks``. With a response of 0
(the neutral setting) capacity is what ``hearing_slots_per_100k`` says; with a lag, a surge
first crowds the lists (closures fall while arrivals rise) and then capacity catches up.

One function serves the engine (arrays of court centres) and the reference (one court).
"""

import numpy as np


def respond(extra, listed, base_slots, gain: float, lag_weeks: float):
    """This week's extra capacity (a share of the base slots), from last week's ``extra``
    and this week's hearings ``listed`` against ``base_slots``."""
    pressure = np.where(base_slots > 0, listed / np.maximum(base_slots, 1e-12), 0.0)
    target = gain * np.maximum(0.0, pressure - 1.0)
    return extra + (target - extra) / lag_weeks
