"""Rank correlations of bootstrap replicates: Kendall's tau-b and Spearman's rho of two score
vectors, for many replicates at once (the last axis holds the points: layers, sources, targets),
and the percentile interval of the replicates."""

from __future__ import annotations

import numpy as np

LEVEL = 0.95


def kendall_tau(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """tau-b = sum of sign(x_i - x_j) sign(y_i - y_j) over the pairs, divided by the square root
    of (pairs not tied in x) x (pairs not tied in y); NaN where either has no untied pair."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    sx = np.sign(x[..., :, None] - x[..., None, :])
    sy = np.sign(y[..., :, None] - y[..., None, :])
    untied = np.sum(np.abs(sx), axis=(-2, -1)) * np.sum(np.abs(sy), axis=(-2, -1))
    agree = np.sum(sx * sy, axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(untied > 0, agree / np.sqrt(untied), np.nan)


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks along the last axis, ties sharing their mean rank."""
    x = np.asarray(x, dtype=np.float64)
    below = np.sum(x[..., None, :] < x[..., :, None], axis=-1)
    equal = np.sum(x[..., None, :] == x[..., :, None], axis=-1)
    return below + (equal + 1) / 2


def spearman_rho(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson's correlation of the average ranks; NaN where either is constant."""
    rx, ry = average_ranks(x), average_ranks(y)
    rx = rx - rx.mean(axis=-1, keepdims=True)
    ry = ry - ry.mean(axis=-1, keepdims=True)
    norm = np.sqrt(np.sum(rx * rx, axis=-1) * np.sum(ry * ry, axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, np.sum(rx * ry, axis=-1) / norm, np.nan)


def interval(replicates: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central `level` percentile interval of the bootstrap replicates (NaNs left out);
    (NaN, NaN) when none is a number."""
    values = np.asarray(replicates, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
