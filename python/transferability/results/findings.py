"""The paper's seven findings and its convergence controls, each judged from the replicates.

Every finding is one number q computed on each replicate (treatments.Unit) and a claim about it;
its estimate, interval and verdict come from results/estimate.py, and CRITERIA says how, in the
words the published findings print.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from transferability.results import estimate, paper, treatments
from transferability.results.estimate import (
    NOT_REPRODUCED,
    REPRODUCED,
    Accuracies,
    Combo,
    Estimate,
    Noise,
)
from transferability.results.treatments import ALL, Unit

NO_EFFECT_TOLERANCE = 0.01  # 1 point: what "almost perfectly" and "recovers" allow at the least
HIGH, LOW, MIDDLE = (6, 7), (1, 2), (3, 4, 5)
CRITERIA = (
    "Every finding is one number q (percentage points) computed on each replicate of the random "
    "splits, and a claim about it. Its estimate is the mean over the replicates with a 95% "
    "interval. An effect claim says q > 0: reproduced when the interval lies above 0, not "
    "reproduced when it lies below, within noise when it holds 0. A no-effect claim says q is "
    "within 1 point of 0: reproduced when the whole interval is, not reproduced when it lies "
    "wholly outside, within noise when it crosses the bound. A finding whose runs are missing, "
    "or whose one replicate has no seed noise to size it, is no data. The paper's q is the same "
    "computation on its published accuracies. The convergence controls are no-effect claims on "
    "the selffers with the limits that the paper's own nets meet: met, not met, or within noise.")
MET, NOT_MET = "met", "not met"


@dataclass(frozen=True)
class Finding:
    number: int
    claim: str        # the paper's finding
    quantity: str     # how q is computed on one replicate
    tolerance: float | None  # None: an effect claim (q > 0); else q within +-tolerance
    ours: Estimate
    paper: Estimate
    verdict: str

    @property
    def criterion(self) -> str:
        return estimate.criterion(self.tolerance)


def _specificity(u: Unit, ns: Sequence[int]) -> Combo:
    return estimate.mean_of([estimate.minus(u.net("BnB", n), u.net("AnB", n)) for n in ns])


Part = Callable[[Unit], Combo]
# (claim, quantity, tolerance, q per random-split replicate); findings 6 and 7 are differences of
# the random splits' estimate and another set's (_FAR), below.
SPECS: tuple[tuple[str, str, float | None, Part], ...] = (
    ("layers 1-2 transfer almost perfectly (AnB close to baseB at n = 1, 2)",
     "baseB - mean AnB(n = 1, 2)", NO_EFFECT_TOLERANCE,
     lambda u: estimate.minus(u.base, estimate.mean_of([u.net("AnB", n) for n in LOW]))),
    ("fragile co-adaptation: the selffer BnB dips below baseB at middle n",
     "baseB - mean BnB(n = 3, 4, 5)", None,
     lambda u: estimate.minus(u.base, estimate.mean_of([u.net("BnB", n) for n in MIDDLE]))),
    ("fine-tuning recovers the co-adapted interactions (BnB+ close to baseB)",
     "mean BnB+(n = 1..7) - baseB", NO_EFFECT_TOLERANCE, lambda u: u.mean_rel("BnB+", ALL)),
    ("representation specificity: AnB falls below BnB, more at high n",
     "mean (BnB - AnB)(n = 6, 7) - mean (BnB - AnB)(n = 1, 2)", None,
     lambda u: estimate.minus(_specificity(u, HIGH), _specificity(u, LOW))),
    ("transfer with fine-tuning generalises better than training from scratch (AnB+ above baseB)",
     "mean AnB+(n = 1..7) - baseB", None, lambda u: u.mean_rel("AnB+", ALL)),
    ("features from a distant task (the dissimilar split) transfer worse at high n",
     "mean (AnB - baseB)(n = 6, 7) on random splits - mean (XnY - baseY)(n = 6, 7) on natman",
     None, lambda u: u.mean_rel("AnB", HIGH)),
    ("random frozen lower layers do worse than transferred ones",
     "mean (AnB - baseB)(n = 1..7) on random splits - mean (randomN - whole base)(n = 1..7)",
     None, lambda u: u.mean_rel("AnB", ALL)),
)


def _far(number: int, acc: Accuracies, noise: Noise | None) -> Estimate:
    """What findings 6 and 7 subtract: natman's transfers, or the random frozen layers."""
    if number == 6:
        return estimate.over([u.mean_rel("AnB", HIGH) for u in treatments.units(acc, ["natman"])],
                             acc, noise)
    random = estimate.mean_of([estimate.net(f"whole/random{n}") for n in ALL])
    return estimate.over([estimate.minus(random, estimate.net("whole/base"))], acc, noise)


def _estimates(acc: Accuracies, noise: Noise | None,
               groups: Sequence[str]) -> list[Estimate]:
    reps = treatments.units(acc, groups)
    out = []
    for number, (_, _, _, part) in enumerate(SPECS, 1):
        e = estimate.over([part(u) for u in reps], acc, noise)
        out.append(estimate.difference(e, _far(number, acc, noise)) if number >= 6 else e)
    return out


def findings(acc: Accuracies, noise: Noise | None, published: Accuracies,
             groups: Sequence[str] = treatments.RANDOM_GROUPS) -> list[Finding]:
    """The seven findings from our accuracies, beside the same from the paper's (`published`,
    the same metric)."""
    ours = _estimates(acc, noise, groups)
    theirs = _estimates(published, None, treatments.RANDOM_GROUPS)
    return [Finding(number, claim, quantity, tol, mine, paper_q, estimate.judge(mine, tol))
            for number, ((claim, quantity, tol, _), mine, paper_q)
            in enumerate(zip(SPECS, ours, theirs, strict=True), 1)]


@dataclass(frozen=True)
class Control:
    name: str
    ours: Estimate
    limit: float
    status: str      # met, not met, within noise, no data
    paper: Estimate  # the same from the paper's nets (its selffers AnA, AnA+)

    @property
    def criterion(self) -> str:
        return estimate.criterion(self.limit).replace("reproduced", MET)


CONTROL_NAMES = ("selffer at n = 1 (B1B or A1A) - baseB",
                 "mean over n = 1..7 of fine-tuned selffer (BnB+) - baseB",
                 "fine-tuned selffer - baseB at the n where its mean is largest")
CONTROL_LIMITS = (0.010, 0.010, 0.015)


def _control_estimates(acc: Accuracies, noise: Noise | None,
                       groups: Sequence[str]) -> list[Estimate]:
    reps = treatments.units(acc, groups)
    first = estimate.over([u.rel("BnB", 1) for u in reps], acc, noise)
    mean_plus = estimate.over([u.mean_rel("BnB+", ALL) for u in reps], acc, noise)
    per_n = [estimate.over([u.rel("BnB+", n) for u in reps], acc, noise) for n in ALL]
    present = [e for e in per_n if e.mean is not None]
    worst = max(present, key=lambda e: abs(e.mean)) if present else estimate.NONE
    if present:
        worst = Estimate(worst.mean, worst.replicates, worst.se, worst.df,
                         f"n = {per_n.index(worst) + 1}; {worst.how}")
    return [first, mean_plus, worst]


def controls(acc: Accuracies, noise: Noise | None, published: Accuracies,
             groups: Sequence[str] = treatments.RANDOM_GROUPS) -> list[Control]:
    """The paper's own controls, which only converged base nets meet: a net whose first layer is
    its own base's (B1B, A1A) and the selffers fine-tuned on their own data (BnB+, AnA+) give
    nothing back, each against its own base."""
    ours = _control_estimates(acc, noise, groups)
    theirs = _control_estimates(published, None, treatments.RANDOM_GROUPS)
    out = []
    for name, mine, limit, paper_q in zip(CONTROL_NAMES, ours, CONTROL_LIMITS, theirs,
                                          strict=True):
        status = estimate.judge(mine, limit).replace(NOT_REPRODUCED, NOT_MET)
        out.append(Control(name, mine, limit, status.replace(REPRODUCED, MET), paper_q))
    return out


@dataclass(frozen=True)
class Analysis:
    """Everything judged from one metric's accuracies: the noise, the derived quantities per n
    (ours and the paper's), the findings and the controls."""

    metric: str
    noise: Noise | None
    derived: dict[str, dict[int, tuple[Estimate, Estimate]]]
    findings: list[Finding]
    controls: list[Control]


def analyse(acc: Accuracies, metric: str = paper.PLOTTED) -> Analysis:
    """The one computation behind findings.md, derived.csv, the report and `make compare`."""
    published = paper.accuracies(metric)
    spread = estimate.noise(acc)
    ours = treatments.derived(acc, treatments.RANDOM_GROUPS, spread)
    theirs = treatments.derived(published, treatments.RANDOM_GROUPS, None)
    derived = {q: {n: (ours[q][n], theirs[q][n]) for n in ALL} for q in treatments.DERIVED}
    return Analysis(metric, spread, derived, findings(acc, spread, published),
                    controls(acc, spread, published))
