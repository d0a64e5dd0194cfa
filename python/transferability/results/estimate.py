"""Means, replicates and 95% intervals of the numbers derived from accuracies.

A derived number of one replicate is a linear combination of nets' accuracies (`Combo`: plan key ->
coefficient), e.g. A3B less the mean of baseB and its seed replicates. Over k >= 2 independent
replicates its interval is Student's t-interval, mean +- t(0.975, k - 1) x s / sqrt(k). A number
with one replicate (the demo's split 0) gets its interval from the seed-to-seed noise instead:
every net's accuracy varies with the solver seed by the standard deviation s of the base net's seed
replicates, so the combination varies by s x sqrt(sum of its squared coefficients), and the
interval takes t at the degrees of freedom of s (seeds - 1). The difference of two independent
estimates (findings 6 and 7) takes Welch's interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from math import sqrt
from statistics import fmean

from scipy.stats import t as student_t

from transferability import plan

Combo = dict[str, float]
Accuracies = Mapping[str, float]
LEVEL = 0.95


def net(key: str) -> Combo:
    return {key: 1.0}


def mean_of(combos: Sequence[Combo]) -> Combo:
    out: Combo = {}
    for combo in combos:
        for key, c in combo.items():
            out[key] = out.get(key, 0.0) + c / len(combos)
    return out


def minus(a: Combo, b: Combo) -> Combo:
    out = dict(a)
    for key, c in b.items():
        out[key] = out.get(key, 0.0) - c
    return {k: c for k, c in out.items() if abs(c) > 1e-12}


def sd(values: Sequence[float]) -> float:
    """The sample standard deviation (statistics.stdev's exact fractions are slow here)."""
    m = fmean(values)
    return sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def value(combo: Combo, acc: Accuracies) -> float | None:
    """The combination's value, None when a net it needs has no accuracy."""
    if any(key not in acc for key in combo):
        return None
    return sum(c * acc[key] for key, c in combo.items())


@dataclass(frozen=True)
class Noise:
    """The seed-to-seed standard deviation of one net's accuracy."""

    sd: float
    df: int    # its degrees of freedom: the runs less one per base net
    runs: int  # the runs it comes from

    def text(self) -> str:
        return (f"{100 * self.sd:.2f} points (the sample standard deviation of {self.runs} runs "
                f"of a base net that differ only in the solver seed, {self.df} degrees of freedom)")


def noise(acc: Accuracies, groups: Iterable[str] | None = None) -> Noise | None:
    """The seed noise pooled over the groups whose baseB has seed replicates (split 0's in the
    plan's demo and study): sqrt(sum of squared deviations / degrees of freedom)."""
    squares, df, runs = 0.0, 0, 0
    for group in groups or [plan.group_of_split(s) for s in plan.SPLITS]:
        keys = [f"{group}/baseB"] + [f"{group}/baseB-seed{s}" for s in plan.NOISE_SEEDS]
        values = [acc[k] for k in keys if k in acc]
        if len(values) >= 2:
            squares += sd(values) ** 2 * (len(values) - 1)
            df += len(values) - 1
            runs += len(values)
    return Noise(sqrt(squares / df), df, runs) if df else None


@dataclass(frozen=True)
class Estimate:
    """A derived number: its mean over replicates, their count (per independent part), and the
    standard error and degrees of freedom of its interval (None: no interval)."""

    mean: float | None
    replicates: tuple[int, ...]
    se: float | None = None
    df: float | None = None
    how: str = ""

    @property
    def half_width(self) -> float | None:
        if self.se is None or self.df is None or self.df <= 0:
            return None
        return float(student_t.ppf((1 + LEVEL) / 2, self.df)) * self.se

    @property
    def low(self) -> float | None:
        hw = self.half_width
        return None if hw is None or self.mean is None else self.mean - hw

    @property
    def high(self) -> float | None:
        hw = self.half_width
        return None if hw is None or self.mean is None else self.mean + hw

    @property
    def count(self) -> str:
        """The replicates as printed: `8`, or `8 and 2` for a difference of two parts."""
        return " and ".join(str(k) for k in self.replicates)


NONE = Estimate(None, (0,))


def over(combos: Iterable[Combo | None], acc: Accuracies, noise: Noise | None) -> Estimate:
    """The estimate over independent replicates, each a combination (None: that replicate lacks
    a net the number needs, and does not count)."""
    found = [(combo, v) for combo in combos if combo is not None
             and (v := value(combo, acc)) is not None]
    values = [v for _, v in found]
    k = len(values)
    if k == 0:
        return NONE
    if k >= 2:
        return Estimate(fmean(values), (k,), sd(values) / sqrt(k), k - 1,
                        f"t-interval over {k} replicates")
    if noise is None:
        return Estimate(values[0], (1,), how="one replicate and no seed noise: no interval")
    weight = sqrt(sum(c * c for c in found[0][0].values()))
    return Estimate(values[0], (1,), noise.sd * weight, noise.df,
                    f"one replicate: the seed noise ({noise.df} degrees of freedom)")


def difference(a: Estimate, b: Estimate) -> Estimate:
    """a - b for independent a and b, with Welch's degrees of freedom."""
    if a.mean is None or b.mean is None:
        return Estimate(None, a.replicates + b.replicates)
    mean = a.mean - b.mean
    if a.se is None or b.se is None or not a.df or not b.df:
        return Estimate(mean, a.replicates + b.replicates, how="a part has no interval")
    var = a.se ** 2 + b.se ** 2
    parts = (a.se ** 4 / a.df if a.se else 0.0) + (b.se ** 4 / b.df if b.se else 0.0)
    df = var ** 2 / parts if parts else a.df + b.df
    return Estimate(mean, a.replicates + b.replicates, sqrt(var), df,
                    f"Welch's interval ({a.how}; {b.how})")


# --- verdicts ------------------------------------------------------------------------------------
REPRODUCED, NOT_REPRODUCED, WITHIN_NOISE, NO_DATA = (
    "reproduced", "not reproduced", "within noise", "no data")


def judge(e: Estimate, tolerance: float | None) -> str:
    """An effect claim (tolerance None) says the number is above 0: reproduced when the whole
    interval is, not reproduced when it lies below 0, within noise when it holds 0. A no-effect
    claim says it is within +-tolerance: reproduced when the whole interval is, not reproduced
    when the interval lies wholly outside, within noise when it crosses the bound."""
    low, high = e.low, e.high
    if low is None or high is None:
        return NO_DATA
    if tolerance is None:
        return REPRODUCED if low > 0 else NOT_REPRODUCED if high < 0 else WITHIN_NOISE
    if -tolerance <= low and high <= tolerance:
        return REPRODUCED
    return NOT_REPRODUCED if low > tolerance or high < -tolerance else WITHIN_NOISE


def criterion(tolerance: float | None) -> str:
    if tolerance is None:
        return ("reproduced if the interval lies above 0 (below 0: not reproduced; holding 0: "
                "within noise)")
    points = 100 * tolerance
    bound = f"+-{points:g} point{'' if points == 1 else 's'}"
    return (f"reproduced if the interval lies within {bound} (wholly outside: not reproduced; "
            "across the bound: within noise)")
