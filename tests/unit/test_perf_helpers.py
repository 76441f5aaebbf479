"""The exact helpers of the performance work (docs/performance.md), each against a known
answer: ``randbelow`` draws what ``Generator.integers`` draws, the pause of Python's
collector, and casework's scalar ``assessment_done``. No timed assertions: speed is recorded
by ``make bench``."""

import gc

import numpy as np
import pytest
from numba import njit

from abm.core.kernels import randbelow
from abm.core.model import gc_paused
from abm.mechanisms.casework import assessment_done, assessment_work


@njit(cache=False)
def _randbelow_many(rng, ns):
    out = np.empty(ns.shape[0], np.int64)
    for k in range(ns.shape[0]):
        out[k] = randbelow(rng, ns[k])
    return out


@njit(cache=False)
def _integers_many(rng, ns):
    out = np.empty(ns.shape[0], np.int64)
    for k in range(ns.shape[0]):
        out[k] = rng.integers(0, ns[k])
    return out


def test_randbelow_is_bit_identical_to_integers():
    """Same values and the same stream position afterwards, including n = 1 (no draw) and
    ranges beyond 32 bits."""
    ns = np.concatenate([np.random.default_rng(0).integers(1, 5000, 20_000),
                         [1, 2, 3, 1, 2**32 - 1, 2**32, 2**32 + 1, 2**40 + 7, 2**62]]).astype(np.int64)
    for seed in (1, 2):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        assert np.array_equal(_randbelow_many(a, ns), _integers_many(b, ns))
        assert a.bit_generator.state == b.bit_generator.state


@pytest.mark.parametrize("enabled", [True, False])
def test_gc_paused_pauses_and_restores_the_collector_even_on_error(enabled):
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with gc_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError), gc_paused():
            raise RuntimeError("boom")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_assessment_done_when_its_work_is_done_or_after_a_year():
    """``assessment_done(acc_record, need, t, since)``: complete once the work done (weeks at
    full pace) reaches the work needed, whatever the week; a year in the state is the
    backstop."""
    assert not assessment_done(0.0, 2.5, 5, 0)  # no work done at all
    assert not assessment_done(2.4, 2.5, 52, 0)
    assert assessment_done(2.5, 2.5, 1, 0)  # all done, before any deadline
    assert assessment_done(0.0, 2.5, 53, 0)  # the backstop: over 52 weeks in the state


def test_assessment_work_has_the_mean_and_spread_asked():
    @njit(cache=False)
    def draws(n, mean, cv, rng):
        out = np.empty(n)
        for k in range(n):
            out[k] = assessment_work(mean, cv, rng)
        return out

    x = draws(200_000, 5.0, 0.6, np.random.default_rng(3))
    assert x.min() > 0
    assert x.mean() == pytest.approx(5.0, rel=0.01)
    assert x.std() / x.mean() == pytest.approx(0.6, rel=0.02)
    assert (draws(10, 2.0, 0.0, np.random.default_rng(3)) == 2.0).all()  # no spread
