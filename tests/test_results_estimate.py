"""Means, replicates, 95% intervals and the verdict rule (results/estimate.py)."""

from __future__ import annotations

from statistics import fmean, stdev

import pytest

from transferability.results import estimate
from transferability.results.estimate import (
    NO_DATA,
    NOT_REPRODUCED,
    REPRODUCED,
    WITHIN_NOISE,
    Estimate,
)

T95 = {2: 4.302653, 3: 3.182446}  # Student's t(0.975, df)


def test_the_t_interval_over_replicates() -> None:
    acc = {f"split{s}/A3B": v for s, v in zip("0123", (0.80, 0.82, 0.81, 0.85), strict=True)}
    e = estimate.over([estimate.net(k) for k in acc], acc, None)
    values = list(acc.values())
    assert (e.mean, e.replicates, e.df) == (pytest.approx(fmean(values)), (4,), 3)
    assert e.se == pytest.approx(stdev(values) / 2)
    assert e.high - e.mean == pytest.approx(T95[3] * stdev(values) / 2)
    assert e.low == pytest.approx(2 * e.mean - e.high)


def test_one_replicate_takes_its_interval_from_the_seed_noise() -> None:
    acc = {"split0/baseB": 0.85, "split0/baseB-seed1": 0.86, "split0/baseB-seed2": 0.84,
           "split0/A3B": 0.80}
    noise = estimate.noise(acc)
    assert (noise.sd, noise.df, noise.runs) == (pytest.approx(0.01), 2, 3)
    base = estimate.mean_of([estimate.net(k) for k in acc if "base" in k])
    a3b = estimate.minus(estimate.net("split0/A3B"), base)
    e = estimate.over([a3b], acc, noise)
    # A3B less the mean of three seeds: coefficients 1 and three times -1/3
    assert (e.mean, e.replicates, e.df) == (pytest.approx(-0.05), (1,), 2)
    assert e.se == pytest.approx(0.01 * (1 + 3 / 9) ** 0.5)
    assert e.high - e.mean == pytest.approx(T95[2] * e.se)
    alone = estimate.over([a3b], acc, None)
    assert (alone.mean, alone.low, alone.high) == (pytest.approx(-0.05), None, None)
    assert estimate.over([estimate.net("split0/A4B"), None], acc, noise).mean is None


def test_a_difference_of_two_sets_takes_welchs_interval() -> None:
    a = Estimate(0.10, (8,), 0.01, 7)
    b = Estimate(0.04, (2,), 0.02, 1)
    d = estimate.difference(a, b)
    assert (d.mean, d.replicates, d.count) == (pytest.approx(0.06), (8, 2), "8 and 2")
    assert d.se == pytest.approx((0.01 ** 2 + 0.02 ** 2) ** 0.5)
    assert d.df == pytest.approx((0.01 ** 2 + 0.02 ** 2) ** 2 / (0.01 ** 4 / 7 + 0.02 ** 4 / 1))
    assert estimate.difference(a, Estimate(0.04, (1,))).low is None


@pytest.mark.parametrize("low, high, tolerance, expected", [
    (0.01, 0.03, None, REPRODUCED),
    (-0.03, -0.01, None, NOT_REPRODUCED),
    (-0.01, 0.03, None, WITHIN_NOISE),
    (-0.008, 0.009, 0.01, REPRODUCED),
    (0.012, 0.03, 0.01, NOT_REPRODUCED),
    (-0.05, -0.011, 0.01, NOT_REPRODUCED),
    (0.005, 0.015, 0.01, WITHIN_NOISE),
    (-0.02, 0.02, 0.01, WITHIN_NOISE),
])
def test_verdict_from_the_interval(low: float, high: float, tolerance: float | None,
                                   expected: str) -> None:
    mean, half = (low + high) / 2, (high - low) / 2
    e = Estimate(mean, (4,), half / T95[3], 3)
    assert (e.low, e.high) == (pytest.approx(low), pytest.approx(high))
    assert estimate.judge(e, tolerance) == expected
    assert estimate.judge(Estimate(mean, (1,)), tolerance) == NO_DATA
    assert estimate.judge(estimate.NONE, tolerance) == NO_DATA
