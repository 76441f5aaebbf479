"""The "floor": a trivial weekly kernel that costs what any engine must pay, for benchmarks.

Each week the engine has to (a) visit every open case, (b) visit every social-work post and
(c) consume the random numbers its mechanisms draw. The floor does exactly that and nothing
else: it reads and writes the same rows of the same family and worker tables, and takes
the same number of raw 64-bit words from each of the same random streams as the engine
did in that week (counted exactly from the generators' states, ``benchmarks.words``). It has
no model logic, so engine time / floor time is the engine's overhead over this machine's
minimum for the same work (goal: within 3x).

Beside that floor the benchmark reports two others:

* a fuller floor, which also reads as many scattered family rows as the front door drew
  contact proposals (:func:`floor_rows`): the front door reads, and advances the risk of,
  every proposal's row;
* a time-stepped floor (:func:`floor_families`), which touches every family's row every week,
  as a kernel that steps every family must. The engine touches only the open cases and the
  contact proposals and advances every other family's risk lazily, when something next reads
  it (the exact Ornstein-Uhlenbeck transition over the weeks elapsed).

:class:`Floor` runs a week of each right after each engine week, beside a model, with each
part timed apart. The kernels put back every value they read, so the engine's run is
unchanged to the last bit.
"""

import time

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


class Floor:
    """The floors, week by week, beside a model.

    Each :meth:`week` first touches every family's row and every post (``families_s``: the
    time-stepped floor's rows); then that week's number of open-case rows and every post
    (``touch_s``); then takes that week's number of words from each stream, from the floor's
    own generators, one per model stream (``draws_s``); then reads as many scattered family
    rows as the front door drew contact proposals, from a pool of random rows far larger
    than the cache (``rows_s``). The touch of every row comes first, so the rows the engine
    visits are the last the floor touched, as they were before it was added. The model is
    read through ``model.fam``, ``model.work`` and ``model.streams`` only."""

    POOL = 2_000_000

    def __init__(self, model, seed: int = 0):
        self.model = model
        self.touch, self.draws, self.rows = floor_touch, floor_draws, floor_rows
        self.families = floor_families
        seqs = np.random.SeedSequence(seed).spawn(len(model.streams))
        self.gens = [np.random.default_rng(s) for s in seqs]
        self.pool = np.random.default_rng(seed).integers(0, len(model.fam.state), self.POOL,
                                                          np.int32)  # as the open list
        self.at, self.check = 0, 0.0
        self.families_s = self.touch_s = self.draws_s = self.rows_s = 0.0
        self.touch(model.fam, model.work, self.pool, 0, 0, 1.0)  # load the kernels first
        self.families(model.fam, model.work, 0, 1.0)
        self.draws(self.gens[0], 0)
        self.rows(model.fam, self.pool, 0, 0, 0)

    def week(self, rows, n_open: int, words: list[int], n_prop: int) -> None:
        """One week of the floors: ``n_open`` open rows (``rows``, repeated if shorter),
        ``words[s]`` words from stream ``s``, ``n_prop`` scattered proposal rows."""
        m = self.model
        if len(rows) < n_open:  # the open rows, repeated if the week had more
            rows = np.resize(rows, n_open)
        ta = time.perf_counter()
        self.check += self.families(m.fam, m.work, 0, 1.0)
        t0 = time.perf_counter()
        self.check += self.touch(m.fam, m.work, rows, n_open, 0, 1.0)
        tb = time.perf_counter()
        for g, nw in zip(self.gens, words, strict=True):
            self.check += float(self.draws(g, nw) & np.uint64(1))
        t1 = time.perf_counter()
        while n_prop > 0:  # the pool's next rows, from its start again when it runs out
            if self.at >= len(self.pool):
                self.at = 0
            k = min(n_prop, len(self.pool) - self.at)
            self.check += self.rows(m.fam, self.pool, self.at, k, 0)
            self.at += k
            n_prop -= k
        self.rows_s += time.perf_counter() - t1
        self.families_s += t0 - ta
        self.touch_s += tb - t0
        self.draws_s += t1 - tb

    @property
    def floor_s(self) -> float:
        """The floor the goal has been judged against: the open rows, the posts and the
        random words."""
        return self.touch_s + self.draws_s

    @property
    def fuller_floor_s(self) -> float:
        """The fuller floor: the floor plus the contact proposals' rows."""
        return self.touch_s + self.draws_s + self.rows_s

    @property
    def family_floor_s(self) -> float:
        """The time-stepped floor: every family's row, the posts and the random words."""
        return self.families_s + self.draws_s
