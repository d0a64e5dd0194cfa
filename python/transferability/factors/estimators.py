"""Cheap transferability estimators: scores of a frozen net's activations (or its source head's
predictions) on a target's labelled training images, computed before any training.

Written from the papers' definitions, numpy only:
- LogME (You et al. 2021): for each class, the one-hot target column y is explained by a Bayesian
  linear model y = F w + noise, w ~ N(0, I / alpha), noise ~ N(0, I / beta); alpha and beta are
  set by maximising the marginal evidence p(y | F, alpha, beta) with MacKay's fixed-point
  iteration; the score is the maximum log evidence divided by the number of images, averaged over
  the classes. Higher is better.
- H-score (Bao et al. 2019): tr(cov(f)^-1 cov(E[f | y])), the share of the features' variance
  that the class explains, summed over the features' directions (between 0 and classes - 1).
- LEEP (Nguyen et al. 2020): the mean log-likelihood of the target labels under the "empirical
  conditional" classifier sum_z P(y | z) theta(z | x), where theta is the source head's softmax
  and P(y | z) is estimated from the same images. Only for a whole net: it needs the source head.
- NCE (Tran et al. 2019): the negative conditional entropy -H(Y | Z) of the target labels given
  the source labels of the same images. The target images carry no labels of the source's task,
  so Z is the source head's most probable class, as Nguyen et al. apply NCE.

Every estimator takes optional weights, one non-negative count per image: a bootstrap replicate
is the same data with each image counted as often as it was drawn, and the weighted estimator
equals the estimator of the data with the rows repeated (a test checks it). None of them sees
anything but the training images and their labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import log, pi

import numpy as np

# LogME's fixed point: stop when alpha and beta change by less than this relative amount.
LOGME_TOLERANCE = 1e-6
LOGME_MAX_ITERATIONS = 500
# alpha and beta stay within these bounds (the features scaled to a mean square of 1 first, which
# leaves the maximum evidence unchanged): a target that the features fit exactly (beta -> inf)
# or that they do not explain at all (alpha -> inf) gets a finite score, its noise or weight
# variance floored at 1e-8.
LOGME_BOUNDS = (1e-8, 1e8)
# H-score's regularisation: cov(f) + H_SCORE_SHRINK x (tr cov(f) / D) x I. Relative to the mean
# variance, so the score stays invariant to the features' scale; it lets dead (constant) units and
# the rank-deficient covariance of one-hot features be inverted.
H_SCORE_SHRINK = 1e-3
ESTIMATORS = ("LogME", "H-score", "LEEP", "NCE")
PER_LAYER = ("LogME", "H-score")   # of any layer's activations
HEAD_ONLY = ("LEEP", "NCE")        # of the source head's softmax: one value per whole net


def _weights(n: int, weights: np.ndarray | None) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be {n} non-negative counts, not all 0")
    return w


def _classes(labels: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The labels of the images that count (weight > 0)."""
    return np.unique(np.asarray(labels)[w > 0])


@dataclass(frozen=True)
class Moments:
    """What LogME and H-score need of (weighted) features and labels, in one pass over them:
    the image count n = sum w, F'WF, F'W1, and per class F'W y_c and the class's count y_c'W y_c
    (y_c its one-hot column)."""

    n: float
    gram: np.ndarray          # (D, D)
    total: np.ndarray         # (D,)
    by_class: np.ndarray      # (D, C)
    counts: np.ndarray        # (C,)


def moments(features: np.ndarray, labels: np.ndarray,
            weights: np.ndarray | None = None) -> Moments:
    w = _weights(len(features), weights)
    drawn = w > 0  # a bootstrap replicate leaves about a third of the images out
    f, w = np.asarray(features, dtype=np.float64)[drawn], w[drawn]
    labels = np.asarray(labels)[drawn]
    onehot = (labels[:, None] == _classes(labels, w)[None, :]) * w[:, None]  # W Y
    return Moments(float(w.sum()), (f * w[:, None]).T @ f, w @ f, f.T @ onehot,
                   onehot.sum(axis=0))


# --- LogME ----------------------------------------------------------------------------------
def log_evidence(sigma: np.ndarray, z: np.ndarray, yy: float, n: float, alpha: float,
                 beta: float) -> float:
    """log p(y | F, alpha, beta) of the Bayesian linear model, from the nonzero eigenvalues
    sigma of F'F, the coordinates z of F'y in their eigenvectors, y'y and the number of images n.

    With A = alpha I + beta F'F and its posterior mean m = beta A^-1 F'y:
    n/2 log beta + D/2 log alpha - n/2 log 2 pi - beta/2 |F m - y|^2 - alpha/2 m'm - 1/2 log|A|;
    each zero eigenvalue adds 1/2 log alpha - 1/2 log alpha = 0, so only sigma's count."""
    t = alpha + beta * sigma
    m = beta * z / t
    residual = yy - 2 * float(m @ z) + float(sigma @ (m * m))
    return (n / 2 * log(beta) + 0.5 * float(np.sum(np.log(alpha / t))) - n / 2 * log(2 * pi)
            - beta / 2 * residual - alpha / 2 * float(m @ m))


def evidence_maximum(sigma: np.ndarray, z: np.ndarray, yy: float,
                     n: float) -> tuple[float, float, float]:
    """(alpha, beta, log evidence) at MacKay's fixed point, from alpha = beta = 1:
    gamma = sum beta sigma / (alpha + beta sigma), alpha <- gamma / m'm, beta <- (n - gamma) /
    |F m - y|^2, until both change by less than LOGME_TOLERANCE (relative)."""
    low, high = LOGME_BOUNDS
    alpha = beta = 1.0
    for _ in range(LOGME_MAX_ITERATIONS):
        t = alpha + beta * sigma
        m = beta * z / t
        gamma = float(np.sum(beta * sigma / t))
        mm = float(m @ m)
        residual = max(yy - 2 * float(m @ z) + float(sigma @ (m * m)), 0.0)
        new_alpha = float(np.clip(gamma / mm, low, high)) if mm > 0 else alpha
        new_beta = float(np.clip((n - gamma) / residual, low, high)) if residual > 0 else high
        done = (abs(new_alpha - alpha) <= LOGME_TOLERANCE * alpha
                and abs(new_beta - beta) <= LOGME_TOLERANCE * beta)
        alpha, beta = new_alpha, new_beta
        if done:
            break
    return alpha, beta, log_evidence(sigma, z, yy, n, alpha, beta)


def logme_of(m: Moments) -> float:
    """LogME from the moments: F scaled to a mean square of 1 first (the maximum evidence does
    not depend on F's scale: F -> cF is alpha -> alpha / c^2), then per class the maximum
    evidence per image, averaged over the classes."""
    dims = max(len(m.gram), 1)
    scale = float(np.trace(m.gram)) / (m.n * dims)
    gram = m.gram / scale if scale > 0 else m.gram
    sigma, vectors = np.linalg.eigh(gram)
    keep = sigma > sigma.max(initial=0.0) * np.finfo(float).eps * dims  # numerical zeros out
    sigma, vectors = sigma[keep], vectors[:, keep]
    z = vectors.T @ (m.by_class / np.sqrt(scale) if scale > 0 else m.by_class)
    return float(np.mean([evidence_maximum(sigma, z[:, c], float(m.counts[c]), m.n)[2] / m.n
                          for c in range(len(m.counts))]))


def logme(features: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """LogME: the maximum log evidence per image, averaged over the classes' one-hot columns."""
    return logme_of(moments(features, labels, weights))


# --- H-score --------------------------------------------------------------------------------
def h_score_of(m: Moments, shrink: float = H_SCORE_SHRINK) -> float:
    """tr(S^-1 B): S the features' covariance regularised by `shrink` (H_SCORE_SHRINK), B the
    covariance of the class-conditional means E[f | y] over the images (both with 1/n)."""
    mean = m.total / m.n
    cov = m.gram / m.n - np.outer(mean, mean)
    cov[np.diag_indices_from(cov)] += shrink * max(np.trace(cov) / len(cov), 1e-300)
    # B = M M' with a column sqrt(n_c / n) (mean_c - mean) per class: tr(S^-1 B) = tr(M' S^-1 M)
    between = np.sqrt(m.counts / m.n) * (m.by_class / m.counts - mean[:, None])
    return float(np.sum(between * np.linalg.solve(cov, between)))


def h_score(features: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None,
            shrink: float = H_SCORE_SHRINK) -> float:
    return h_score_of(moments(features, labels, weights), shrink)


# --- from the source head: LEEP and NCE -------------------------------------------------------
def softmax(logits: np.ndarray) -> np.ndarray:
    """theta(z | x): the source head's class probabilities from its logits (one row per image)."""
    x = np.asarray(logits, dtype=np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _joint(theta: np.ndarray, labels: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the target classes, P(y, z) = 1/n sum over the images of class y of theta(z | x))."""
    classes = _classes(labels, w)
    rows = np.stack([(w * (labels == c)) @ theta for c in classes])
    return classes, rows / w.sum()


def leep(source_probs: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """LEEP: 1/n sum_i log sum_z P(y_i | z) theta(z | x_i), P(y | z) = P(y, z) / P(z)."""
    theta = np.asarray(source_probs, dtype=np.float64)
    w = _weights(len(theta), weights)
    labels = np.asarray(labels)
    classes, joint = _joint(theta, labels, w)
    p_z = joint.sum(axis=0)
    conditional = np.divide(joint, p_z, out=np.zeros_like(joint), where=p_z > 0)  # P(y | z)
    row = np.searchsorted(classes, labels)
    keep = w > 0
    eep = np.einsum("iz,iz->i", conditional[row[keep]], theta[keep])
    return float(w[keep] @ np.log(eep) / w.sum())


def nce(source_probs: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """NCE: -H(Y | Z) = sum_{y,z} P(y, z) log P(y | z), Z the source head's most probable class
    of each image and P the images' empirical joint distribution."""
    theta = np.asarray(source_probs, dtype=np.float64)
    hard = np.zeros_like(theta)
    hard[np.arange(len(theta)), theta.argmax(axis=1)] = 1.0
    w = _weights(len(theta), weights)
    _, joint = _joint(hard, np.asarray(labels), w)
    p_z = np.broadcast_to(joint.sum(axis=0), joint.shape)
    seen = joint > 0  # 0 log 0 = 0
    return float(np.sum(joint[seen] * np.log(joint[seen] / p_z[seen])))


def score(name: str, features: np.ndarray, labels: np.ndarray,
          weights: np.ndarray | None = None) -> float:
    """The estimator `name` of ESTIMATORS; LEEP and NCE take the source head's logits."""
    if name == "LogME":
        return logme(features, labels, weights)
    if name == "H-score":
        return h_score(features, labels, weights)
    if name == "LEEP":
        return leep(softmax(features), labels, weights)
    if name == "NCE":
        return nce(softmax(features), labels, weights)
    raise ValueError(f"unknown estimator {name}: expected one of {', '.join(ESTIMATORS)}")
