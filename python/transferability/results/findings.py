"""The paper's seven findings, each judged from measured accuracies with a stated criterion.

Every finding is one number q (percentage points, computed from the accuracy table) and a claim
about it. An *effect* claim says q > 0: "reproduced" when q > 2 x noise, "not reproduced" when
q < -2 x noise (the opposite effect), "within noise" between. A *no-effect* claim says q is about
0: "reproduced" when |q| <= max(1 point, 2 x noise), else "not reproduced". Noise is the
seed-to-seed spread of one base net (see `noise`); without it, or without the runs a finding
needs, the verdict is "no data". The paper's own q comes from its published accuracies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from statistics import mean, stdev

from transferability import plan
from transferability.results import paper, treatments

REPRODUCED, NOT_REPRODUCED, WITHIN_NOISE, NO_DATA = (
    "reproduced", "not reproduced", "within noise", "no data")
NO_EFFECT_TOLERANCE = 0.01  # 1 point: what "almost perfectly" and "recovers" allow at the least

Accuracies = Mapping[str, float]


@dataclass(frozen=True)
class Finding:
    number: int
    claim: str        # the paper's finding
    quantity: str     # how q is computed
    effect: bool      # True: the claim is q > 0; False: the claim is q close to 0
    ours: float | None
    paper: float | None
    verdict: str

    def criterion(self, noise: float | None) -> str:
        two = "2 x noise" if noise is None else f"2 x noise = {200 * noise:.2f}"
        if self.effect:
            return f"reproduced if q > {two} points; the opposite sign beyond it: not reproduced"
        floor = f"max(1, {two})"
        return f"reproduced if |q| <= {floor} points"


def noise(acc: Accuracies, group: str = "split0") -> float | None:
    """The sample standard deviation of baseB and its seed replicates in `group` (None below 2)."""
    keys = [f"{group}/baseB"] + [f"{group}/baseB-seed{s}" for s in plan.NOISE_SEEDS]
    values = [acc[k] for k in keys if k in acc]
    return stdev(values) if len(values) >= 2 else None


def verdict(q: float | None, effect: bool, spread: float | None) -> str:
    if q is None or spread is None:
        return NO_DATA
    if effect:
        if q > 2 * spread:
            return REPRODUCED
        return NOT_REPRODUCED if q < -2 * spread else WITHIN_NOISE
    return REPRODUCED if abs(q) <= max(NO_EFFECT_TOLERANCE, 2 * spread) else NOT_REPRODUCED


def _avg(values: Sequence[float | None]) -> float | None:
    """The mean of the values, None when any is missing."""
    return None if not values or any(v is None for v in values) else mean(values)


def _relative(acc: Accuracies, keys: Mapping[int, str], base: str,
              ns: Sequence[int]) -> float | None:
    if base not in acc:
        return None
    return _avg([acc[keys[n]] - acc[base] if keys[n] in acc else None for n in ns])


def _transfer_drop(pts: treatments.Points, ns: Sequence[int]) -> float | None:
    base = pts.base()
    return _avg([None if base is None or pts.mean("AnB", n) is None else pts.mean("AnB", n) - base
                 for n in ns])


def _natman_drop(acc: Accuracies, ns: Sequence[int]) -> float | None:
    """natman XnY less natman baseY, both directions, averaged over ns."""
    drops = []
    for source, target in (("A", "B"), ("B", "A")):
        keys = {n: f"natman/{source}{n}{target}" for n in ns}
        drops.append(_relative(acc, keys, f"natman/base{target}", ns))
    return _avg(drops)


def _random_drop(acc: Accuracies, ns: Sequence[int]) -> float | None:
    return _relative(acc, {n: f"whole/random{n}" for n in ns}, "whole/base", ns)


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


HIGH, LOW, MIDDLE, ALL = (6, 7), (1, 2), (3, 4, 5), tuple(range(1, plan.LAYERS + 1))

# (claim, quantity, effect, q from (points, accuracies))
Quantity = Callable[[treatments.Points, Accuracies], float | None]
SPECS: tuple[tuple[str, str, bool, Quantity], ...] = (
    ("layers 1-2 transfer almost perfectly (AnB close to baseB at n = 1, 2)",
     "baseB - mean AnB(n = 1, 2)", False,
     lambda p, a: _diff(p.base(), _avg([p.mean("AnB", n) for n in LOW]))),
    ("fragile co-adaptation: the selffer BnB dips below baseB at middle n",
     "baseB - mean BnB(n = 3, 4, 5)", True,
     lambda p, a: _diff(p.base(), _avg([p.mean("BnB", n) for n in MIDDLE]))),
    ("fine-tuning recovers the co-adapted interactions (BnB+ close to baseB)",
     "mean BnB+(n = 1..7) - baseB", False,
     lambda p, a: _diff(_avg([p.mean("BnB+", n) for n in ALL]), p.base())),
    ("representation specificity: AnB falls below BnB, more at high n",
     "mean (BnB - AnB)(n = 6, 7) - mean (BnB - AnB)(n = 1, 2)", True,
     lambda p, a: _diff(_avg([_diff(p.mean("BnB", n), p.mean("AnB", n)) for n in HIGH]),
                        _avg([_diff(p.mean("BnB", n), p.mean("AnB", n)) for n in LOW]))),
    ("transfer with fine-tuning generalises better than training from scratch (AnB+ above baseB)",
     "mean AnB+(n = 1..7) - baseB", True,
     lambda p, a: _diff(_avg([p.mean("AnB+", n) for n in ALL]), p.base())),
    ("features from a distant task (the dissimilar split) transfer worse at high n",
     "mean (AnB - baseB)(n = 6, 7) on random splits - mean (XnY - baseY)(n = 6, 7) on natman",
     True, lambda p, a: _diff(_transfer_drop(p, HIGH), _natman_drop(a, HIGH))),
    ("random frozen lower layers do worse than transferred ones",
     "mean (AnB - baseB)(n = 1..7) on random splits - mean (randomN - whole base)(n = 1..7)",
     True, lambda p, a: _diff(_transfer_drop(p, ALL), _random_drop(a, ALL))),
)


def relative(acc: Accuracies) -> dict[str, float]:
    """Every split net's accuracy less its target half's base net (the mean over the base and
    its seed replicates where they exist): halves of unequal difficulty pool without bias, as the
    paper pools its equally hard random halves."""
    nets = {net.key: net for net in plan.all_nets()}
    out = {}
    for key, value in acc.items():
        net = nets.get(key)
        if net is None or net.target_half is None:
            continue
        bases = [f"{net.group}/base{net.target_half}"]
        if net.target_half == "B":
            bases += [f"{net.group}/baseB-seed{s}" for s in plan.NOISE_SEEDS]
        present = [acc[b] for b in bases if b in acc]
        if bases[0] in acc:
            out[key] = value - mean(present)
    return out


def findings(acc: Accuracies, spread: float | None,
             groups: Sequence[str] = treatments.RANDOM_GROUPS) -> list[Finding]:
    """The seven findings from our accuracies, beside the same quantities from the paper's; both
    halves of each split count, each net against its own target half's base (`relative`)."""
    ours = treatments.points(relative(acc), groups, True)
    published = paper.accuracies()
    theirs = treatments.points(relative(published), treatments.RANDOM_GROUPS, True)
    out = []
    for number, (claim, quantity, effect, q) in enumerate(SPECS, 1):
        mine = q(ours, acc)
        out.append(Finding(number, claim, quantity, effect, mine, q(theirs, published),
                           verdict(mine, effect, spread)))
    return out


@dataclass(frozen=True)
class Control:
    name: str
    value: float | None  # percentage points as a fraction
    limit: float
    met: bool | None     # None: no data
    paper: float | None  # the same from the paper's nets (its selffers AnA+, against baseA)


def _control_values(pts: treatments.Points) -> list[float | None]:
    base = pts.base()
    plus = [_diff(pts.mean("BnB+", n), base) for n in ALL]
    mean_plus = _avg(plus)
    worst = None if mean_plus is None else max(plus, key=lambda v: abs(v))
    return [_diff(pts.mean("BnB", 1), base), mean_plus, worst]


def controls(acc: Accuracies, group: str = "split0") -> list[Control]:
    """The paper's own controls on one split, which only converged base nets meet: a net whose
    first layer is its own base's (B1B) and the selffers fine-tuned on their own data (BnB+)
    give nothing back. baseB is the mean over the base net and its seed replicates."""
    ours = _control_values(treatments.points(acc, (group,), False))
    theirs = _control_values(treatments.points(relative(paper.accuracies()),
                                           treatments.RANDOM_GROUPS, True))
    names = ("B1B - baseB", "mean over n = 1..7 of BnB+ - baseB",
             "largest |BnB+ - baseB| over n = 1..7")
    limits = (0.010, 0.010, 0.015)
    return [Control(name, value, limit, None if value is None else abs(value) <= limit, paper_q)
            for name, value, limit, paper_q in zip(names, ours, limits, theirs, strict=True)]
