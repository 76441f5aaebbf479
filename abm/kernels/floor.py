"""The "floor": a trivial weekly kernel that costs what any engine must pay, for benchmarks.

Each week the engine has to (a) visit every open case, (b) visit every social-work post and
(c) consume the random numbers its mechanisms draw. The floor does exactly that and nothing
else: it reads and writes the same rows of the same family and worker tables, and takes
the same number of raw 64-bit words from each of the same random streams as the engine
did in that week (counted exactly from the generators' states, see ``abm.bench``). It has no
model logic, so engine time / floor time is the engine's overhead over this machine's
minimum for the same work (issue 8, goal: within 3x).
"""

import numpy as np
from numba import njit
from numba.np.random.generator_core import next_uint64


@njit(cache=True)
def floor_touch(fam, work, open_idx, n_open, t):
    """Read each open case's row (state, LA, worker, risk, due) and write its risk clock;
    read each post's status and caseload and write its hours. Returns a checksum."""
    s = 0.0
    for k in range(n_open):
        i = open_idx[k]
        s += fam.state[i] + fam.la[i] + fam.worker[i] + fam.risk[i] + fam.due[i]
        fam.risk_t[i] = t
    for w in range(work.la.shape[0]):
        work.direct_hours[w] = np.float32(work.caseload[w])
        s += work.status[w]
    return s


@njit(cache=True)
def floor_draws(rng, n_words):
    """Take ``n_words`` raw 64-bit words from ``rng``'s bit generator. Returns a checksum."""
    bitgen = rng.bit_generator
    x = np.uint64(0)
    for _ in range(n_words):
        x ^= next_uint64(bitgen)
    return x
