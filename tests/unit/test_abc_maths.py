"""The maths of the ABC-SMC engine (abm/batch/abc/) against direct formulas: the distance
of simulated statistics from the targets, and the importance weights of a new population."""

from __future__ import annotations

import numpy as np
import pytest

from abm.batch.abc import Target, distance, importance_weights


def test_distance_is_the_weighted_rms_of_band_scaled_errors_and_inf_when_missing():
    ts = [Target("a", 10.0, 8.0, 12.0, 1.0), Target("b", 0.5, 0.0, 1.0, 3.0)]
    # z_a = (11 - 10) / 2 = 0.5, z_b = (0.75 - 0.5) / 0.5 = 0.5 -> d = 0.5
    assert distance([11.0, 0.75], ts) == pytest.approx(0.5)
    # z_a = 1, z_b = 0 -> sqrt(1 * 1 / 4)
    assert distance([12.0, 0.5], ts) == pytest.approx(0.5)
    assert distance([8.0, 1.5], ts) == pytest.approx(np.sqrt((1 + 3 * 4) / 4))
    assert distance([np.nan, 0.5], ts) == np.inf
    # a weight-0 target is reported, not fitted: its missing value does not matter
    assert distance([np.nan, 0.75], [Target("a", 10, 8, 12, 0.0), ts[1]]) == pytest.approx(0.5)


def test_importance_weights_match_direct_formula():
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(0)
    prev, new = rng.normal(size=(30, 2)), rng.normal(size=(40, 2))
    pw = rng.uniform(0.1, 1, 30)
    pw /= pw.sum()
    cov = np.array([[0.5, 0.1], [0.1, 0.3]])
    w = importance_weights(new, prev, pw, cov)
    mvn = multivariate_normal(np.zeros(2), cov)
    direct = np.array([1 / np.sum(pw * mvn.pdf(y - prev)) for y in new])
    np.testing.assert_allclose(w, direct / direct.sum(), rtol=1e-10)


def test_kernels_are_twice_the_weighted_covariance_or_its_diagonal():
    from abm.batch.abc import kernel_cov

    rng = np.random.default_rng(1)
    Y = rng.multivariate_normal([0, 0], [[1.0, 0.8], [0.8, 1.0]], size=500)
    w = rng.uniform(0.5, 1.5, 500)
    w /= w.sum()
    m = w @ Y
    direct = 2 * ((Y - m).T * w) @ (Y - m)
    direct += np.diag(1e-6 * np.diag(direct) + 1e-18)  # kept positive definite
    full = kernel_cov(Y, w, np.ones(2))
    np.testing.assert_allclose(full, direct, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(kernel_cov(Y, w, np.ones(2), "componentwise"),
                               np.diag(np.diag(direct)), rtol=1e-9, atol=1e-12)
    # fewer particles than parameters: singular, yet the kernel stays positive definite
    few = rng.normal(size=(3, 6))
    np.linalg.cholesky(kernel_cov(few, np.full(3, 1 / 3), np.ones(6)))
