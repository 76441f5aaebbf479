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


def test_truncated_kernel_draws_and_mass_match_scipy():
    """The componentwise kernel truncated to the prior's box: its draws have the truncated
    normal's moments, stay inside the box, and its log mass per ancestor is the sum of the
    coordinates' log(Phi(b) - Phi(a)), finite far in a tail."""
    from scipy.stats import norm, truncnorm

    from abm.batch.abc.priors import truncated_log_mass, truncated_moves

    rng = np.random.default_rng(3)
    bounds = np.array([[0.0, 1.0], [-2.0, 5.0], [0.0, 1.0]])
    anc = np.array([0.05, 4.9, 0.5])
    sd = np.array([0.3, 2.0, 0.01])
    x = truncated_moves(np.repeat(anc[None], 100_000, 0), sd, bounds, rng)
    assert np.all((x >= bounds[:, 0]) & (x <= bounds[:, 1]))
    for k in range(3):
        a, b = (bounds[k] - anc[k]) / sd[k]
        assert x[:, k].mean() == pytest.approx(truncnorm.mean(a, b, anc[k], sd[k]), abs=0.01 * sd[k])
        assert x[:, k].std() == pytest.approx(truncnorm.std(a, b, anc[k], sd[k]), rel=0.02)
    mass = np.prod([norm.cdf((bounds[k, 1] - anc[k]) / sd[k])
                    - norm.cdf((bounds[k, 0] - anc[k]) / sd[k]) for k in range(3)])
    assert truncated_log_mass(anc[None], sd, bounds)[0] == pytest.approx(np.log(mass), rel=1e-10)
    far = truncated_log_mass(np.array([[-30.0]]), np.array([1.0]), np.array([[0.0, 1.0]]))
    assert np.isfinite(far[0]) and far[0] < -400
    assert np.all(truncated_moves(np.full((50, 1), -30.0), np.array([1.0]),
                                   np.array([[0.0, 1.0]]), rng) >= 0.0)


def test_truncated_kernel_weights_give_back_a_flat_prior():
    """A population uniform on the box, moved by the truncated kernel and reweighted with
    the ancestors' masses, is uniform on the box again, edges included: an ancestor near a
    bound keeps only part of its kernel inside, so its moves pile up there, and its mass in
    the weights corrects that; without the masses the edge gets a fifth too much."""
    from abm.batch.abc.priors import truncated_log_mass, truncated_moves

    rng = np.random.default_rng(4)
    bounds = np.array([[0.0, 1.0]] * 2)
    prev = rng.uniform(size=(2000, 2))
    pw = np.full(2000, 1 / 2000)
    cov = np.diag(np.full(2, 0.1**2))
    sd = np.sqrt(np.diag(cov))
    y = truncated_moves(prev[rng.choice(2000, size=40_000, p=pw)], sd, bounds, rng)
    w = importance_weights(y, prev, pw, cov, truncated_log_mass(prev, sd, bounds))
    edge = y[:, 0] < 0.05
    assert np.sum(w[edge]) == pytest.approx(0.05, abs=0.004)
    assert np.sum(w[y[:, 1] < 0.5]) == pytest.approx(0.5, abs=0.01)
    assert np.sum(importance_weights(y, prev, pw, cov)[edge]) > 0.057


def test_the_multivariate_kernel_proposes_almost_nothing_inside_a_36_parameter_prior():
    """docs/calibration_method.md, "Many parameters": with 36 parameters and a generation
    spread over the whole prior (as generation 0 is), twice its weighted covariance moves
    fewer than 1 in 100,000 proposals inside the prior box (about 4 in 10 million on the
    England run's generation 0), once the covariance about 1 in 10,000; one coordinate stays
    inside about two times in three."""
    from abm.batch.abc import kernel_cov

    rng = np.random.default_rng(7)
    k, n, draws = 36, 500, 2_000_000
    Y = rng.uniform(size=(n, k))
    w = np.full(n, 1 / n)
    cov = kernel_cov(Y, w, np.ones(k))

    def inside(c):
        L = np.linalg.cholesky(c)
        hits = coord = 0
        for _ in range(draws // 250_000):
            P = Y[rng.integers(n, size=250_000)] + rng.standard_normal((250_000, k)) @ L.T
            ok = (P >= 0) & (P <= 1)
            hits += ok.all(axis=1).sum()
            coord += ok[:, 0].sum()
        return hits / draws, coord / draws

    twice, one_coordinate = inside(cov)
    assert twice < 1e-5 and 0.6 < one_coordinate < 0.75
    once, _ = inside(cov / 2)
    assert 3e-5 < once < 3e-4


def _posterior(points: np.ndarray, weights: np.ndarray, lows, highs, dists=None):
    import pandas as pd

    from abm.batch.abc import Posterior, Prior

    names = [f"p{i}" for i in range(points.shape[1])]
    priors = [Prior(n, (dists or ["uniform"] * len(names))[i], lo, hi)
              for i, (n, lo, hi) in enumerate(zip(names, lows, highs, strict=True))]
    frame = pd.DataFrame(points, columns=names).assign(generation=3)
    return Posterior(None, "t", priors, frame, weights / weights.sum(), {}, {}, "")


def test_constrained_directions_find_a_narrow_sum_of_wide_parameters_and_nothing_in_the_prior():
    """Two of twelve parameters whose sum the targets pin (posterior sd along it a tenth of
    the prior's) while each stays almost as wide as its prior: one constrained axis, loading
    +0.71 on each, although neither is identified alone; the prior itself, as many particles
    and weighted alike, has none (its smallest ratios, about 0.7, are sampling noise)."""
    from abm.batch.abc import constrained_directions

    rng = np.random.default_rng(5)
    n, k = 400, 12
    w = rng.uniform(0.2, 1.0, n)
    lows, highs = [0.0] * k, [10.0] * (k - 1) + [100.0]
    prior = rng.uniform(0, 1, (n, k)) * np.array(highs)
    none = constrained_directions(_posterior(prior, w, lows, highs))
    assert none["axes"] == [] and 0.55 < none["null"][0] < 0.8
    pinned = prior.copy()
    u = rng.uniform(0, 10, n)  # p0 + p1 = 10 +- a little: p0 uniform, p1 its complement
    pinned[:, 0], pinned[:, 1] = u, 10 - u + rng.normal(0, 0.2, n)
    pinned[:, 1] = np.clip(pinned[:, 1], 0, 10)
    post = _posterior(pinned, w, lows, highs)
    axes = constrained_directions(post)["axes"]
    assert len(axes) == 1 and axes[0]["sd_ratio"] < 0.1
    (a, la), (b, lb) = axes[0]["loadings"]
    assert {a, b} == {"p0", "p1"} and la == pytest.approx(0.71, abs=0.02)
    assert lb == pytest.approx(0.71, abs=0.02)  # a sum: the same sign
    from abm.batch.abc import summarise
    ratios = {r["parameter"]: r["width_ratio"] for r in summarise(post)}
    assert ratios["p0"] > 0.9 and ratios["p1"] > 0.9  # neither is identified alone
    # a log-uniform prior is uniform in the log: its axes are measured there
    logs = prior.copy()
    logs[:, 11] = np.exp(rng.uniform(0, np.log(100), n))
    assert constrained_directions(_posterior(logs, w, lows[:11] + [1.0], highs,
                                             ["uniform"] * 11 + ["loguniform"]))["axes"] == []


def test_the_mode_stays_on_a_ring_where_the_marginal_medians_fall_off_it():
    """Particles on a ring (a posterior curved around its centre): the marginal medians lie
    near the centre, where no particle is; the kernel-density mode is a particle on the
    ring. On a Gaussian cloud the mode is a particle near the mean."""
    from abm.batch.abc import mode, summarise

    rng = np.random.default_rng(3)
    n = 500
    phi = rng.uniform(0, 2 * np.pi, n)
    ring = np.column_stack([5 + 2 * np.cos(phi), 5 + 2 * np.sin(phi)]) + rng.normal(0, 0.1, (n, 2))
    post = _posterior(ring, np.ones(n), [0.0, 0.0], [10.0, 10.0])
    med = np.array([r["value"] for r in summarise(post)])
    assert np.hypot(*(med - 5)) < 0.5  # the medians: off the ring
    m = mode(post)
    got = np.array([m["values"]["p0"], m["values"]["p1"]])
    assert abs(np.hypot(*(got - 5)) - 2) < 0.3 and np.allclose(got, ring[m["index"]])
    # a dense patch of the ring wins: the mode is there
    dense = ring.copy()
    dense[:150] = np.column_stack([7 + rng.normal(0, 0.1, 150), 5 + rng.normal(0, 0.1, 150)])
    got = mode(_posterior(dense, np.ones(n), [0.0, 0.0], [10.0, 10.0]))["values"]
    assert abs(got["p0"] - 7) < 0.3 and abs(got["p1"] - 5) < 0.3
    # weights count: the same ring with the far side weighted up moves the mode there
    w = np.where(ring[:, 0] < 4, 20.0, 1.0)
    got = mode(_posterior(ring, w, [0.0, 0.0], [10.0, 10.0]))["values"]
    assert got["p0"] < 4
    cloud = rng.normal(5, 1, (n, 3))
    m = mode(_posterior(cloud, np.ones(n), [0.0] * 3, [10.0] * 3))
    assert np.linalg.norm(np.array(list(m["values"].values())) - 5) < 0.6


def test_movement_measures_the_last_generations_shift_against_sampling_noise(tmp_path):
    """movement(): a marginal moved by 0.2 of its prior's width reads 0.2, far above the
    noise; one drawn again from the same distribution moves by about the noise; the
    interval ratio reads a halving; no previous generation, no check."""
    import pandas as pd

    from abm.batch.abc import Posterior, Prior, movement

    rng = np.random.default_rng(5)
    n = 4000
    priors = [Prior("moved", "uniform", 0.0, 10.0), Prior("still", "loguniform", 1.0, 100.0),
              Prior("narrowed", "uniform", 0.0, 1.0)]
    old = pd.DataFrame({"generation": 0, "weight": 1.0, "moved": rng.uniform(2, 6, n),
                        "still": np.exp(rng.uniform(np.log(2), np.log(50), n)),
                        "narrowed": rng.uniform(0.2, 0.8, n)})
    (tmp_path / "generations").mkdir()
    old.to_parquet(tmp_path / "generations" / "gen_000.parquet")
    new = pd.DataFrame({"generation": 1, "weight": 1.0, "moved": rng.uniform(4, 8, n),
                        "still": np.exp(rng.uniform(np.log(2), np.log(50), n)),
                        "narrowed": rng.uniform(0.35, 0.65, n)})
    post = Posterior(tmp_path, "t", priors, new, np.full(n, 1.0 / n), {}, {}, "x")
    rows = {r["parameter"]: r for r in movement(post)}
    assert rows["moved"]["generations"] == (0, 1)
    assert rows["moved"]["shift"] == pytest.approx(0.2, abs=0.01)
    assert rows["moved"]["shift"] > 10 * rows["moved"]["noise"]
    # the standard error of a median of a uniform of width 0.4 (of the prior's) over n, twice
    assert rows["moved"]["noise"] == pytest.approx(1.2533 * 0.4 / np.sqrt(12 * n) * np.sqrt(2),
                                                   rel=0.05)
    assert rows["still"]["shift"] < 4 * rows["still"]["noise"]
    assert rows["narrowed"]["narrowing"] == pytest.approx(0.5, abs=0.03)
    assert rows["moved"]["narrowing"] == pytest.approx(1.0, abs=0.05)
    one = Posterior(tmp_path, "t", priors, old, np.full(n, 1.0 / n), {}, {}, "x")
    assert movement(one) == []
