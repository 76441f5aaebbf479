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
from abm.core.params import make_params
from abm.mechanisms.casework import CaseworkParams, assessment_done


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


def test_assessment_done_waits_for_the_due_week():
    p = make_params({"mech_workload_squeeze": False})
    cp = CaseworkParams.of(p)
    assert not assessment_done(0.0, 1, 3, 0, 10.0, cp, p.prescription)  # before the due week
    assert not assessment_done(1e9, 2, 3, 0, 10.0, cp, p.prescription)
    assert assessment_done(0.0, 3, 3, 0, 10.0, cp, p.prescription)  # no squeeze: due = done


def test_assessment_done_under_the_squeeze_waits_for_its_recording_or_a_year():
    p = make_params({"mech_workload_squeeze": True})
    req = 4.0 * p.direct_hours_assessment
    recorded = float(np.float32(req * p.recording_ratio * p.prescription))
    cp, pr = CaseworkParams.of(p), p.prescription
    assert not assessment_done(0.0, 5, 0, 0, req, cp, pr)  # no recording done at all
    assert not assessment_done(0.9 * recorded, 52, 0, 0, req, cp, pr)
    assert assessment_done(0.0, 53, 0, 0, req, cp, pr)  # the backstop: over 52 weeks in the state
    assert assessment_done(recorded, 5, 0, 0, req, cp, pr)  # all recorded
    # the prescription in force (a driver), not the regime's, sets the recording needed
    assert not assessment_done(recorded, 5, 0, 0, req, cp, 2 * pr)
