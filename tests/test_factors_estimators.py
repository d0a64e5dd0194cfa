"""The cheap transferability estimators (LogME, H-score, LEEP, NCE): examples worked by hand,
constructed features whose order is known, their invariances, and the rank correlations."""

from __future__ import annotations

from math import log, pi

import numpy as np
import pytest
from scipy import stats

from transferability.factors import estimators as est
from transferability.factors.rank import interval, kendall_tau, spearman_rho


# --- examples worked by hand ------------------------------------------------------------------
def test_log_evidence_by_hand() -> None:
    # n = 2 images, one feature F = (1, 1)', target y = (1, 0)', alpha = beta = 1.
    # Directly: y ~ N(0, C), C = F F' / alpha + I / beta = [[2, 1], [1, 2]], det C = 3,
    # C^-1 = [[2, -1], [-1, 2]] / 3, y' C^-1 y = 2/3, so
    # log p = -(2/2) log 2 pi - 1/2 log 3 - 1/2 x 2/3 = -log 2 pi - 1/2 log 3 - 1/3.
    # Through the eigenvalues: F'F = 2 (sigma), F'y = 1 (z), y'y = 1.
    got = est.log_evidence(np.array([2.0]), np.array([1.0]), 1.0, 2, 1.0, 1.0)
    assert got == pytest.approx(-log(2 * pi) - 0.5 * log(3) - 1 / 3, rel=1e-12)


def test_logme_fixed_point_by_hand() -> None:
    # n = 3 images, one feature F = (1, 1, 0)', all of one class: the one-hot column y = (1, 1, 1)'.
    # FF' has eigenvalue 2 on u1 = (1, 1, 0)/sqrt 2 and 0 on u2 = (1, -1, 0)/sqrt 2, u3 = (0, 0, 1);
    # y's coordinates: t1 = 2/sqrt 2 = sqrt 2, t2 = 0, t3 = 1. With a = 1/alpha, b = 1/beta the
    # covariance FF' a + I b has eigenvalues 2a + b, b, b, and log p = -3/2 log 2 pi
    #   - 1/2 [log(2a + b) + 2 log b] - 1/2 [t1^2 / (2a + b) + (t2^2 + t3^2) / b].
    # Each term -1/2 log s - t^2 / (2 s) is largest at s = t^2: b = (t2^2 + t3^2) / 2 = 1/2 and
    # 2a + b = t1^2 = 2, so a = 3/4: alpha = 4/3, beta = 2. The fixed point agrees:
    # F'F = 2, F'y = 2; A = alpha + 2 beta = 16/3, m = beta F'y / A = 3/4, gamma = 2 beta / A = 3/4,
    # alpha = gamma / m^2 = (3/4) / (9/16) = 4/3; |Fm - y|^2 = 3 - 2 x 3/4 x 2 + 2 x 9/16 = 9/8,
    # beta = (3 - 3/4) / (9/8) = 2.
    # log p = -3/2 log 2 pi - 1/2 [log 2 + 2 log 1/2] - 1/2 [2/2 + 1/(1/2)]
    #       = -3/2 log 2 pi + 1/2 log 2 - 3/2, and LogME is that per image, / 3.
    alpha, beta, evidence = est.evidence_maximum(np.array([2.0]), np.array([2.0]), 3.0, 3)
    want = -1.5 * log(2 * pi) + 0.5 * log(2) - 1.5
    assert (alpha, beta) == (pytest.approx(4 / 3, rel=1e-5), pytest.approx(2, rel=1e-5))
    assert evidence == pytest.approx(want, rel=1e-9)
    features = np.array([[1.0], [1.0], [0.0]])
    assert est.logme(features, np.array([0, 0, 0])) == pytest.approx(want / 3, rel=1e-9)


def test_h_score_by_hand() -> None:
    # f = (0, 2, 4, 6), classes (0, 0, 1, 1): mean 3, var f = (9 + 1 + 1 + 9) / 4 = 5; the class
    # means 1 and 5 give E[f | y] = (1, 1, 5, 5), whose variance is (4 + 4 + 4 + 4) / 4 = 4.
    # H = 4 / (5 + shrink x 5): 0.8 without the regularisation.
    f = np.array([[0.0], [2.0], [4.0], [6.0]])
    y = np.array([0, 0, 1, 1])
    assert est.h_score(f, y, shrink=0.0) == pytest.approx(0.8, rel=1e-12)
    assert est.h_score(f, y) == pytest.approx(4 / (5 * (1 + est.H_SCORE_SHRINK)), rel=1e-12)


THETA = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.4]])  # the source head, 2 classes
TARGET = np.array([0, 0, 1, 1])


def test_leep_by_hand() -> None:
    # P(y, z) = 1/4 sum over the images of class y of theta: y = 0: (1 + 1, 0) / 4 = (1/2, 0);
    # y = 1: (0 + 0.6, 1 + 0.4) / 4 = (0.15, 0.35). P(z) = (0.65, 0.35).
    # P(y | z = 0) = (0.5, 0.15) / 0.65 = (10/13, 3/13); P(y | z = 1) = (0, 1).
    # The expected empirical prediction of each image's own label: images 1, 2: 1 x 10/13;
    # image 3: 1 x 1; image 4: 0.6 x 3/13 + 0.4 x 1 = 7/13.
    want = (2 * log(10 / 13) + log(1) + log(7 / 13)) / 4
    assert est.leep(THETA, TARGET) == pytest.approx(want, rel=1e-12)


def test_nce_by_hand() -> None:
    # The head's most probable classes: z = (0, 0, 1, 0). Joint: (y0, z0) 2/4, (y1, z1) 1/4,
    # (y1, z0) 1/4; P(z0) = 3/4, P(z1) = 1/4.
    # NCE = 1/2 log((1/2) / (3/4)) + 1/4 log((1/4) / (1/4)) + 1/4 log((1/4) / (3/4)).
    want = 0.5 * log(2 / 3) + 0.25 * log(1) + 0.25 * log(1 / 3)
    assert est.nce(THETA, TARGET) == pytest.approx(want, rel=1e-12)


# --- constructed features: known order, invariances, weights -----------------------------------
def _sets(n: int = 400, classes: int = 4, dims: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    onehot = np.eye(classes)[y]
    noise = rng.normal(size=(n, dims))
    mixed = onehot @ rng.normal(size=(classes, dims)) + 2 * rng.normal(size=(n, dims))
    return y, onehot, mixed, noise


@pytest.mark.parametrize("name", est.PER_LAYER)
def test_one_hot_features_score_highest_and_noise_lowest(name) -> None:
    y, onehot, mixed, noise = _sets()
    scores = [est.score(name, f, y) for f in (onehot, mixed, noise)]
    assert scores[0] > scores[1] > scores[2]


@pytest.mark.parametrize("name", est.HEAD_ONLY)
def test_a_head_that_names_the_target_scores_highest(name) -> None:
    y, *_ = _sets()
    rng = np.random.default_rng(1)
    perfect = 30.0 * np.eye(6)[np.array([3, 0, 5, 1])[y]]  # each class its own source class
    blurred = perfect + 20 * rng.normal(size=perfect.shape)
    unrelated = 5 * rng.normal(size=perfect.shape)
    scores = [est.score(name, logits, y) for logits in (perfect, blurred, unrelated)]
    assert scores[0] == pytest.approx(0, abs=1e-9) and scores[0] > scores[1] > scores[2]


@pytest.mark.parametrize("name", est.PER_LAYER)
def test_logme_and_h_score_do_not_depend_on_the_features_scale(name) -> None:
    y, _, mixed, _ = _sets()
    base = est.score(name, mixed, y)
    for factor in (1e-3, 7.0, 1e4):
        assert est.score(name, factor * mixed, y) == pytest.approx(base, rel=1e-6)


def test_nce_does_not_depend_on_the_logits_scale_but_leep_does() -> None:
    y, _, mixed, _ = _sets(dims=6)
    assert est.score("NCE", 5 * mixed, y) == pytest.approx(est.score("NCE", mixed, y), rel=1e-12)
    assert est.score("LEEP", 5 * mixed, y) != pytest.approx(est.score("LEEP", mixed, y), rel=1e-3)


@pytest.mark.parametrize("name", est.ESTIMATORS)
def test_weights_count_images_as_repeated_rows(name) -> None:
    y, _, mixed, _ = _sets(n=120)
    counts = np.random.default_rng(2).multinomial(120, np.full(120, 1 / 120))
    repeated = np.repeat(np.arange(120), counts)
    assert est.score(name, mixed, y, counts) == pytest.approx(
        est.score(name, mixed[repeated], y[repeated]), rel=1e-9)


def test_dead_units_and_more_features_than_images_give_finite_scores() -> None:
    y, _, mixed, _ = _sets(n=30, dims=60)
    mixed[:, :10] = 0.0
    for name in est.PER_LAYER:
        assert np.isfinite(est.score(name, mixed, y))


# --- rank correlations --------------------------------------------------------------------------
def test_rank_correlations_match_scipy_with_ties_for_many_replicates() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 4, (50, 7)), rng.integers(0, 5, (50, 7))
    tau, rho = kendall_tau(x, y), spearman_rho(x, y)
    for i in range(50):
        assert tau[i] == pytest.approx(stats.kendalltau(x[i], y[i]).statistic, abs=1e-12)
        assert rho[i] == pytest.approx(stats.spearmanr(x[i], y[i]).statistic, abs=1e-12)
    assert np.isnan(kendall_tau(np.ones(5), np.arange(5.0)))
    assert interval(np.arange(1001.0)) == pytest.approx((25.0, 975.0))
