"""Figure 2's treatments and the paper's derived quantities, from plan key -> accuracy.

The treatments are named for target half B: baseB, BnB (selffer), BnB+, AnB (transfer), AnB+. With
`pool_halves` the two halves count alike, as the paper does for its 500/500 random splits: every
base net is a baseB point, every XnX a BnB point (the authors trained AnA), every XnY (X != Y) an
AnB point. Without it only nets that train on half B count (for halves of unequal difficulty).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from statistics import mean

from transferability import plan
from transferability.plan import Net

TREATMENTS = ("baseB", "BnB", "BnB+", "AnB", "AnB+")
RANDOM_GROUPS = tuple(f"split{s}" for s in "0123")
DERIVED = {
    "co-adaptation drop": "baseB - BnB",
    "specificity drop": "BnB - AnB",
    "fine-tuning gain": "AnB+ - baseB",
}


def treatment(net: Net, pool_halves: bool) -> str | None:
    """Which of TREATMENTS a split net belongs to, or None."""
    if net.target_half is None:
        return None
    if not pool_halves and net.target_half != "B":
        return None
    if net.n == 0:
        return "baseB"
    kind = "BnB" if net.source_half == net.target_half else "AnB"
    return kind if net.frozen else kind + "+"


def default_pooling(dataset: str) -> bool:
    """Pool the halves for ImageNet's equal random halves, as the paper does; not otherwise."""
    return dataset == "imagenet"


@dataclass(frozen=True)
class Points:
    """Accuracies by treatment and n (baseB at n = 0), and the plan keys they came from."""

    values: dict[str, dict[int, list[float]]]
    keys: set[str]

    def at(self, name: str, n: int) -> list[float]:
        return self.values[name].get(n, [])

    def mean(self, name: str, n: int) -> float | None:
        values = self.at(name, n)
        return mean(values) if values else None

    def base(self) -> float | None:
        return self.mean("baseB", 0)

    def means(self, name: str) -> dict[int, float]:
        """n -> mean, only where the treatment has points."""
        return {n: mean(v) for n, v in sorted(self.values[name].items()) if v}

    def present(self, name: str) -> bool:
        return any(self.values[name].values())


def points(acc: Mapping[str, float], groups: Iterable[str], pool_halves: bool) -> Points:
    """Figure 2's points from the nets of `groups` that have an accuracy."""
    groups = set(groups)
    values: dict[str, dict[int, list[float]]] = {name: {} for name in TREATMENTS}
    keys: set[str] = set()
    for net in plan.all_nets():
        name = treatment(net, pool_halves) if net.group in groups else None
        if name is not None and net.key in acc:
            values[name].setdefault(net.n, []).append(acc[net.key])
            keys.add(net.key)
    return Points(values, keys)


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def derived(p: Points) -> dict[str, dict[int, float | None]]:
    """Per n = 1..7: co-adaptation drop, specificity drop, fine-tuning gain (None where missing)."""
    base = p.base()
    out: dict[str, dict[int, float | None]] = {name: {} for name in DERIVED}
    for n in range(1, plan.LAYERS + 1):
        out["co-adaptation drop"][n] = _diff(base, p.mean("BnB", n))
        out["specificity drop"][n] = _diff(p.mean("BnB", n), p.mean("AnB", n))
        out["fine-tuning gain"][n] = _diff(p.mean("AnB+", n), base)
    return out
