"""Centred kernel alignment (Kornblith et al., ICML 2019): how alike two representations of the
same images are, from their Gram matrices, for many bootstrap replicates of the images at once.

CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)), HSIC(K, L) = tr(Kc Lc) with Kc the centred
Gram matrix. A linear kernel (K = X X^T) gives linear CKA; an RBF kernel exp(-d^2 / (2 sigma^2))
with sigma the median distance between the images (the median heuristic) gives RBF CKA.

A bootstrap replicate draws the images with replacement; image i drawn w_i times out of m. Its
HSIC over the drawn images (duplicates included) is, with p = w / m, a = K p, alpha = p^T K p
and b, beta likewise for L,
    HSIC_p(K, L) = p^T (K o L) p - 2 p^T (a o b) + alpha beta     (o: the elementwise product)
times m^2, which CKA's ratio cancels: the centring by the drawn images' mean is inside it, and
every replicate is a matrix product over the n images, not a copy of the drawn ones.
"""

from __future__ import annotations

import numpy as np


def linear_gram(x: np.ndarray) -> np.ndarray:
    """(n, n) X X^T of (n, d) features, in float64; the features are centred first (the
    centred Gram does not change, its rounding does)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    return x @ x.T


def squared_distances(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    norms = np.einsum("ij,ij->i", x, x)
    return np.maximum(norms[:, None] + norms[None, :] - 2 * x @ x.T, 0.0)


def rbf_gram(x: np.ndarray) -> np.ndarray:
    """(n, n) exp(-d_ij^2 / (2 sigma^2)), sigma^2 the median squared distance between two
    different images (the median heuristic; all images, fixed for every bootstrap replicate)."""
    d2 = squared_distances(x)
    off = d2[~np.eye(len(d2), dtype=bool)]
    median = float(np.median(off)) if len(off) else 0.0
    if median <= 0:  # every image alike (a dead layer): one constant kernel
        return np.ones_like(d2)
    return np.exp(-d2 / (2 * median))


GRAMS = {"linear": linear_gram, "rbf": rbf_gram}


def weights(counts: np.ndarray | None, n: int) -> np.ndarray:
    """(1 + B, n): row 0 every image once, then each replicate's draws as fractions."""
    rows = [np.full((1, n), 1 / n)]
    if counts is not None and len(counts):
        counts = np.asarray(counts, dtype=np.float64)
        rows.append(counts / counts.sum(axis=1, keepdims=True))
    return np.concatenate(rows)


class Kernel:
    """One Gram matrix and what every HSIC with it reuses: K p and p^T K p per replicate."""

    def __init__(self, gram: np.ndarray, p: np.ndarray) -> None:
        self.gram = gram
        self.p = p
        self.a = p @ gram                        # (1 + B, n): K is symmetric
        self.alpha = np.einsum("bi,bi->b", p, self.a)
        self.self_hsic = hsic(self, self)


def hsic(k: Kernel, m: Kernel) -> np.ndarray:
    """(1 + B,) HSIC of the two kernels per replicate (up to the factor m^2 CKA cancels)."""
    p = k.p
    first = np.einsum("bi,bi->b", p, p @ (k.gram * m.gram))
    second = np.einsum("bi,bi,bi->b", p, k.a, m.a)
    return first - 2 * second + k.alpha * m.alpha


def cka(k: Kernel, m: Kernel) -> np.ndarray:
    """(1 + B,) CKA per replicate; 0 where either representation is constant on the images."""
    denominator = np.sqrt(np.maximum(k.self_hsic, 0) * np.maximum(m.self_hsic, 0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, hsic(k, m) / denominator, 0.0)


def cka_of(x: np.ndarray, y: np.ndarray, kernel: str = "linear",
           counts: np.ndarray | None = None) -> np.ndarray:
    """(1 + B,) CKA of two (n, d) representations of the same n images: on all of them, then on
    each replicate of `counts` ((B, n) draws per image)."""
    if len(x) != len(y):
        raise ValueError(f"{len(x)} and {len(y)} images: CKA compares the same images")
    p = weights(counts, len(x))
    return cka(Kernel(GRAMS[kernel](x), p), Kernel(GRAMS[kernel](y), p))
