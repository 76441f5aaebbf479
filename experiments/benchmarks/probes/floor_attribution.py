"""Question: where does the engine's week go, kernel by kernel, beside each floor's parts?

The bench (``benchmarks.engine``) records the engine against the floors as whole weeks; this
splits both, in one process, to say which kernels hold the excess over each floor
(docs/performance.md, *The floors*). Run it again after an engine change.

Runs the England scenario at 1:1 (or its first ``--las`` LAs; default: 2 calendar years
after the warm-up) with every kernel call timed, and after each engine week the same week
of the bench's floors (``benchmarks.floor.Floor``), whose parts are timed apart: the open
rows and posts, the random words the engine took, the contact proposals' rows, and every
family's row. Prints the engine's milliseconds a week by kernel, the floors' parts, and the
engine against each floor. Then, on their own, the cost of a raw 64-bit word against the
variates the kernels draw (normal, uniform, exponential), in nanoseconds.

    PYTHONPATH=experiments .venv/bin/python -m benchmarks.probes.floor_attribution [--years 2] [--las 152]
"""

import argparse
import collections
import time

import numpy as np
from numba import njit

from abm.core.model import ChildProtectionModel
from benchmarks.floor import Floor, floor_draws
from benchmarks.plans import ENGLAND, make_scenario
from benchmarks.words import stream_states, words_between


def time_kernels(model, per_kernel: collections.Counter) -> None:
    """Time every kernel call of ``model`` into ``per_kernel`` (seconds by kernel name).
    The one place that knows how the model calls its kernels: each mechanism calls them
    through :meth:`abm.core.mechanism.Mechanism.call` (its compiled entry point after the
    first call), which this wraps on every mechanism of the model, so the entry points are
    still the mechanism's own (and forgotten by its ``configure`` as usual)."""
    for mechanism in model.mechanisms.values():
        mechanism.call = _timed(mechanism.call, per_kernel)


def _timed(call, per_kernel: collections.Counter):
    def timed(kernel, *args):
        a = time.perf_counter()
        out = call(kernel, *args)
        per_kernel[kernel.__name__] += time.perf_counter() - a
        return out

    return timed


def engine_and_floors(years: int, las: int | None = None) -> None:
    desc = {"path": ENGLAND, "years": years, **({"las": las} if las else {})}
    m = ChildProtectionModel(make_scenario(desc), rng=1, agent_views=False)
    per_kernel = collections.Counter()
    time_kernels(m, per_kernel)
    fl = Floor(m)
    before = stream_states(m)
    engine_s, weeks, n_open, n_prop, n_words = 0.0, 0, 0, 0, 0
    while m.week < m.calendar.n_weeks:
        k = int(m.open.n[0])
        a = time.perf_counter()
        m.step()
        engine_s += time.perf_counter() - a
        after = stream_states(m)
        words = words_between(before, after)
        before = after
        weeks, n_open, n_prop, n_words = weeks + 1, n_open + k, n_prop + m.contact_proposals, n_words + sum(words)
        fl.week(m.open.idx[:max(1, int(m.open.n[0]))], k, words, int(m.contact_proposals))

    def ms(s):
        return 1000 * s / weeks

    where = f"England's first {las} LAs" if las else "England"
    print(f"{where} at 1:1, {weeks} calendar weeks: a week had {n_open / weeks:,.0f} open cases, "
          f"{n_prop / weeks:,.0f} contact proposals and {n_words / weeks:,.0f} random words")
    print(f"engine: {ms(engine_s):.2f} ms a week")
    for name, s in per_kernel.most_common():
        print(f"  {name:28s} {ms(s):6.2f}")
    print(f"  {'outside the kernels':28s} {ms(engine_s - sum(per_kernel.values())):6.2f}")
    print(f"floor parts, ms a week: open rows and posts {ms(fl.touch_s):.2f}; random words "
          f"{ms(fl.draws_s):.2f}; contact proposals' rows {ms(fl.rows_s):.2f}; every family's "
          f"row {ms(fl.families_s):.2f}")
    print(f"engine / floor {engine_s / fl.floor_s:.2f}; / fuller floor "
          f"{engine_s / fl.fuller_floor_s:.2f}; / time-stepped floor "
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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--years", type=int, default=2, help="calendar years after the warm-up")
    ap.add_argument("--las", type=int, default=None, help="England's first LAS LAs (default all)")
    ap.add_argument("--draws", type=int, default=2_000_000, help="draws per variate timing")
    a = ap.parse_args(argv)
    engine_and_floors(a.years, a.las)
    variates(a.draws)


if __name__ == "__main__":
    main()
