"""Known answers for the emulator of a calibration's simulations (abm.batch.abc.emulate)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from abm.batch.abc import emulate as E
from abm.batch.abc.priors import Prior
from abm.batch.abc.targets import Target

PRIORS = [Prior("a", "uniform", -2.0, 2.0), Prior("b", "loguniform", 1.0, 100.0),
          Prior("n", "uniform", 0, 10, "int")]


def test_scaling_round_trips_and_spans_the_prior():
    x = np.array([[-2.0, 1.0, 0], [2.0, 100.0, 10], [0.0, 10.0, 5]])
    u = E.scaled(PRIORS, x)
    assert u[0, :2].tolist() == [-1.0, -1.0] and u[1, :2].tolist() == [1.0, 1.0]
    assert u[2, 1] == pytest.approx(0.0)
    back = E.unscaled(PRIORS, u[2])
    assert back == {"a": 0.0, "b": pytest.approx(10.0), "n": 5}


def test_stored_reads_points_and_z_scores(tmp_path):
    (tmp_path / "sims").mkdir()
    recs = [{"point": {"a": 1.0, "b": 10.0, "n": 5}, "stats": [3.0, 1.0]},
            {"point": {"a": 0.0, "b": 1.0, "n": 0}, "stats": [float("nan"), 1.0]}]
    (tmp_path / "sims" / "x.json").write_text(json.dumps(recs))
    targets = [Target("s", 1.0, 0.0, 2.0, 1.0), Target("t", 0.0, -2.0, 2.0, 1.0)]
    u, z = E.stored(tmp_path, PRIORS, targets)
    assert u.shape == (1, 3) and z.tolist() == [[2.0, 0.5]]


def test_the_search_finds_the_constrained_optimum_of_a_known_quadratic():
    """z1 = u0, z2 = u1, z3 = u0 + 1, equal weights; deciding on z1, z2 with the all-target
    distance at most 0.5: the optimum is u1 = 0 and u0 on the constraint, 2 u0^2 + 2 u0 +
    1 = 0.75, i.e. u0 = (-2 + sqrt 2) / 4."""
    rng = np.random.default_rng(1)
    u = rng.uniform(-1, 1, (2000, 2))
    z = np.column_stack([u[:, 0], u[:, 1], u[:, 0] + 1]) + rng.normal(0, 0.05, (2000, 3))
    em = E.Emulator(u, z, ridge=1e-6)
    assert em.coef.shape == (E.coefficients(2), 3) == (6, 3)
    truth = np.column_stack([u[:, 0], u[:, 1], u[:, 0] + 1])
    assert np.abs(em.predict(u) - truth).max() < 0.02  # the noise averaged out
    w = np.ones(3)
    best = E.search(em, u, w, np.array([True, True, False]), 0.5, np.random.default_rng(2))
    assert best[0] == pytest.approx((-2 + np.sqrt(2)) / 4, abs=0.02)
    assert best[1] == pytest.approx(0.0, abs=0.02)
    assert E.rms(em.predict(best), w)[0] <= 0.5 + 0.01
    # without the constraint, the deciding targets' own optimum
    free = E.search(em, u, w, np.array([True, True, False]), 10.0, np.random.default_rng(2))
    assert np.abs(free).max() < 0.02


def test_the_search_holds_required_targets_within_the_margin_after_the_offset():
    """z1 = u0, z2 = u1, z3 = u0 + 1; deciding on z1, z2, no ceiling; z3 required within 0.2
    half-widths: the optimum moves from u0 = 0 to the margin's edge, u0 = -0.8. A measured
    offset of -0.5 on z3 (the model's z3 is the emulator's minus 0.5) moves it to -0.3."""
    rng = np.random.default_rng(1)
    u = rng.uniform(-1, 1, (2000, 2))
    em = E.Emulator(u, np.column_stack([u[:, 0], u[:, 1], u[:, 0] + 1]), ridge=1e-6)
    w, dec, need = np.ones(3), np.array([True, True, False]), np.array([False, False, True])
    best = E.search(em, u, w, dec, 10.0, np.random.default_rng(2), required=need, margin=0.2)
    assert best[0] == pytest.approx(-0.8, abs=0.02) and best[1] == pytest.approx(0.0, abs=0.02)
    moved = E.search(em, u, w, dec, 10.0, np.random.default_rng(2), required=need, margin=0.2,
                     offset=np.array([0.0, 0.0, -0.5]))
    assert moved[0] == pytest.approx(-0.3, abs=0.02)
    # an offset on the deciding targets shifts their optimum the same way
    shifted = E.search(em, u, w, dec, 10.0, np.random.default_rng(2),
                       offset=np.array([0.25, 0.0, 0.0]))
    assert shifted[0] == pytest.approx(-0.25, abs=0.02)


def test_the_search_stays_in_its_trust_region():
    """With a centre and a radius the search moves no further than the radius from it: the
    deciding targets' optimum (0, 0) lies outside the box around (0.5, 0.5), so the corner
    nearest it is found."""
    rng = np.random.default_rng(1)
    u = rng.uniform(-1, 1, (2000, 2))
    em = E.Emulator(u, np.column_stack([u[:, 0], u[:, 1]]), ridge=1e-6)
    centre = np.array([0.5, 0.5])
    best = E.search(em, centre[None], np.ones(2), np.array([True, True]), 10.0,
                    np.random.default_rng(2), centre=centre, radius=0.1)
    assert best == pytest.approx([0.4, 0.4], abs=1e-3)
