"""Where the engine's week goes, beside the floors' parts, in one process (docs/performance.md,
section 10).

Runs the England scenario at 1:1 (default: 2 calendar years after the warm-up) with every
kernel call timed, and after each engine week the same week of the benchmark's floor
(``benchmarks.engine.Floor``), whose parts are timed apart: the open rows and posts, the random
words the engine took, the contact proposals' rows, and every family's row. Prints the
engine's milliseconds a week by kernel, the floors' parts, and the engine against each
floor. Then, on their own, the cost of a raw 64-bit word against the variates the kernels
draw (normal, uniform, exponential), in nanoseconds.

    python experiments/tools/floor_attribution.py [YEARS]

Only a measurement: nothing it prints is asserted anywhere.
"""

import collections
import sys
import time

import numpy as np
from benchmarks.engine import ENGLAND, Floor, _stream_states, make_scenario, pcg64_distance
from benchmarks.floor import floor_draws
from numba import njit

from abm.core.model import ChildProtectionModel


def engine_and_floors(years: int) -> None:
    sc = make_scenario({"path": ENGLAND, "years": years})
    m = ChildProtectionModel(sc, rng=1, agent_views=False)
    per_kernel = collections.Counter()
    call = m._kernel

    def timed(kernel, *args):
        a = time.perf_counter()
        out = call(kernel, *args)
        per_kernel[kernel.__name__] += time.perf_counter() - a
        return out

    m._kernel = timed
    fl = Floor(m)
    before = _stream_states(m)
    engine_s, weeks, n_open, n_prop, n_words = 0.0, 0, 0, 0, 0
    while m.week < m.calendar.n_weeks:
        k = int(m.open.n[0])
        a = time.perf_counter()
        m.step()
        engine_s += time.perf_counter() - a
        after = _stream_states(m)
        words = [pcg64_distance(x, y) for x, y in zip(before, after, strict=True)]
        before = after
        weeks, n_open, n_prop, n_words = weeks + 1, n_open + k, n_prop + m.contact_proposals, n_words + sum(words)
        fl.week(m.open.idx[:max(1, int(m.open.n[0]))], k, words, int(m.contact_proposals))

    def ms(s):
        return 1000 * s / weeks

    print(f"England 1:1, {weeks} calendar weeks: a week had {n_open / weeks:,.0f} open cases, "
          f"{n_prop / weeks:,.0f} contact proposals and {n_words / weeks:,.0f} random words")
    print(f"engine: {ms(engine_s):.2f} ms a week")
    for name, s in per_kernel.most_common():
        print(f"  {name:28s} {ms(s):6.2f}")
    print(f"  {'outside the kernels':28s} {ms(engine_s - sum(per_kernel.values())):6.2f}")
    print(f"floor parts, ms a week: open rows and posts {ms(fl.touch_s):.2f}; random words "
          f"{ms(fl.draws_s):.2f}; contact proposals' rows {ms(fl.rows_s):.2f}; every family's "
          f"row {ms(fl.families_s):.2f}")
    print(f"engine / floor {engine_s / fl.floor_s:.2f}; / fuller floor "
          f"{engine_s / (fl.floor_s + fl.rows_s):.2f}; / time-stepped floor "
          f"{engine_s / fl.family_floor_s:.2f}")


# One loop per kind, not one loop branching on the kind: a branch in the loop (or Numba's
# ``literally``) made the draws measure 1.5-3x slower.
@njit
def _normal(rng, n):
    s = 0.0
    for _ in range(n):
        s += rng.normal()
    return s


@njit
def _uniform(rng, n):
    s = 0.0
    for _ in range(n):
        s += rng.random()
    return s


@njit
def _exponential(rng, n):
    s = 0.0
    for _ in range(n):
        s += rng.exponential(1.0)
    return s


def variates(n: int = 2_000_000, repeats: int = 7) -> None:
    g = np.random.default_rng(1)
    print("ns per draw (median of", repeats, "runs of", f"{n:,}):")
    for name, draw in (("raw 64-bit word", floor_draws), ("normal", _normal),
                       ("uniform", _uniform), ("exponential", _exponential)):
        draw(g, 10)
        ts = []
        for _ in range(repeats):
            a = time.perf_counter()
            draw(g, n)
            ts.append(time.perf_counter() - a)
        print(f"  {name:16s} {1e9 * sorted(ts)[repeats // 2] / n:.2f}")


if __name__ == "__main__":
    engine_and_floors(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    variates()
