"""STAND-IN for care proceedings, until the courts issue lands (brief mechanism 10).

A deliberately simple queue, marked as such everywhere it is reported: each application
spends ``court_process_weeks`` in proceedings and then waits, first come first served, for
a final hearing at its court centre, which can hear ``court_final_hearings_per_100k`` cases
a week per 100,000 children served. Under a surge the queue grows, so durations of
concluded cases rise and arrivals outrun closures. Guardians, hearings, adjournments and
experts are the courts issue's job.
"""

import numpy as np
from numba import njit

from ..state import CARE, COURT, FL_CARE_ORDERS, FL_COURT_CONCLUDED, FL_COURT_DURATION_WEEKS_SUM
from .casework import to_cpp
from .core import geometric_weeks, move


@njit(cache=True)
def court_standin(fam, las, courts, open_list, p, t, rng):
    """Serve the final-hearing queues of every court centre for one week."""
    n = open_list.n[0]
    ready = np.empty(n, np.int64)
    m = 0
    big = fam.la.shape[0] + 1
    for k in range(n):
        i = open_list.idx[k]
        if fam.state[i] == COURT:
            courts.open_cases[las.court[fam.la[i]]] += 1
            if fam.due[i] <= t:
                ready[m] = np.int64(fam.due[i]) * big + i  # FIFO by readiness, then row
                m += 1
    ready = np.sort(ready[:m])
    for c in range(courts.capacity.shape[0]):
        courts.credit[c] += courts.capacity[c]
    for k in range(m):
        i = ready[k] % big
        c = las.court[fam.la[i]]
        if courts.credit[c] < 1.0:
            continue
        courts.credit[c] -= 1.0
        la = fam.la[i]
        las.flow[la, FL_COURT_CONCLUDED] += 1
        las.flow[la, FL_COURT_DURATION_WEEKS_SUM] += t - fam.since[i]
        if rng.random() < p.order_probability:
            las.flow[la, FL_CARE_ORDERS] += 1
            move(fam, las, open_list, i, CARE, t)
            fam.due[i] = t + geometric_weeks(p.care_weeks, rng)
        else:
            to_cpp(fam, las, open_list, p, i, t)  # home with support under a plan
    for c in range(courts.capacity.shape[0]):
        # unused hearing capacity does not carry over beyond one hearing
        courts.credit[c] = min(courts.credit[c], 1.0)
