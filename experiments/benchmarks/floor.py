"""The "floor": a trivial weekly kernel that costs what any engine must pay, for benchmarks.

Each week the engine has to (a) visit every open case, (b) visit every social-work post and
(c) consume the random numbers its mechanisms draw. The floor does exactly that and nothing
else: it reads and writes the same rows of the same family and worker tables, and takes
the same number of raw 64-bit words from each of the same random streams as the engine
did in that week (counted exactly from the generators' states, see ``benchmarks.engine``). It has no
model logic, so engine time / floor time is the engine's overhead over this machine's
minimum for the same work (issue 8, goal: within 3x).

The front door also reads (and advances the risk of) every contact proposal's row: about
130,000 scattered rows a week at England, which the floor above does not touch.
:func:`floor_rows` reads as many scattered rows, so the benchmark also reports a floor that
includes them, beside the floor as first defined (the goal has been judged against it).

:func:`floor_families` is the floor read as a *time-stepped* trivial kernel: it touches every
family's row every week (about 6.2 million at England), as a kernel that steps every family
each week must. The engine touches only the open cases and the contact proposals, and
advances the risk of every other family lazily, when something next reads it (the exact
Ornstein-Uhlenbeck transition over the weeks elapsed): it is event-driven for idle
families. The benchmark reports it beside the others (docs/performance.md, section 10).
"""

import numpy as np
from numba import njit
from numba.np.random.generator_core import next_uint64

from abm.core.kernels import PREFETCH_AHEAD, prefetch


@njit(cache=True)
def floor_touch(fam, work, rows, n, zero, one):
    """Read ``n`` open cases' rows, ``rows[:n]``, prefetched as the engine's loops prefetch
    them (state, LA, worker, risk, due) and write each row's risk clock; read each post's
    status and caseload and write its hours. Returns a checksum.

    The writes put back the value read (plus ``zero``, times ``one``: arguments, so that the
    compiler must still store them), so the floor can run between the engine's weeks
    without changing its state."""
    s = 0.0
    for k in range(n):
        if k + PREFETCH_AHEAD < n:
            prefetch(fam.state, rows[k + PREFETCH_AHEAD])
        i = rows[k]
        s += fam.state[i] + fam.la[i] + fam.worker[i] + fam.risk[i] + fam.due[i]
        fam.risk_t[i] = fam.risk_t[i] + zero
    return s + floor_posts(work, one)


@njit(cache=True)
def floor_posts(work, one):
    """Read each post's status and caseload and write its hours back (times ``one``).
    Returns a checksum."""
    s = 0.0
    for w in range(work.la.shape[0]):
        work.direct_hours[w] = work.direct_hours[w] * one
        s += work.status[w] + work.caseload[w]
    return s


@njit(cache=True)
def floor_draws(rng, n_words):
    """Take ``n_words`` raw 64-bit words from ``rng``'s bit generator. Returns a checksum."""
    bitgen = rng.bit_generator
    x = np.uint64(0)
    for _ in range(n_words):
        x ^= next_uint64(bitgen)
    return x


@njit(cache=True)
def floor_rows(fam, rows, start, n, zero):
    """Read ``n`` scattered family rows, ``rows[start:start + n]``, prefetched as the front door
    prefetches its proposals' rows (risk, clock, long-run risk, state), and write each row's
    risk clock (the value read, as :func:`floor_touch` does): the part of the front door's
    work that any engine must do, for the floor that also reads the contact proposals'
    rows. Returns a checksum."""
    s = 0.0
    for j in range(start, start + n):
        if j + PREFETCH_AHEAD < start + n:
            prefetch(fam.risk, rows[j + PREFETCH_AHEAD])
        i = rows[j]
        s += fam.risk[i] + fam.risk_t[i] + fam.base[i] + fam.state[i]
        fam.risk_t[i] = fam.risk_t[i] + zero
    return s


@njit(cache=True)
def floor_families(fam, work, zero, one):
    """Read every family's row (the fields :func:`floor_touch` reads) and write its risk clock
    back, in row order; read each post's status and caseload and write its hours back: one
    week of a kernel that steps every family, without the random words (timed apart). Returns
    a checksum."""
    s = 0.0
    for i in range(fam.state.shape[0]):
        s += fam.state[i] + fam.la[i] + fam.worker[i] + fam.risk[i] + fam.due[i]
        fam.risk_t[i] = fam.risk_t[i] + zero
    return s + floor_posts(work, one)
