"""Figure 2's treatments on the replicates of a study, and the paper's derived quantities per n.

A replicate (`Unit`) is one split and one direction: the nets that train on one target half of one
split, each taken against that half's base net (the mean of the base net and its seed replicates
where they exist). The treatments are named for target half B: baseB, BnB (the selffer: copied
from the target half's own base), BnB+, AnB (the transfer: copied from the other half's base),
AnB+. So the paper's selffers AnA (target A) and the demo's BnB (target B) count alike, each
against its own base, and so do the transfers AnB and BnA: halves of unequal difficulty pool
without bias. Random splits 0-3 give up to 8 replicates; the demo's split 0 one (target B).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from transferability import plan
from transferability.results import estimate
from transferability.results.estimate import Accuracies, Combo, Estimate, Noise

TREATMENTS = ("baseB", "BnB", "BnB+", "AnB", "AnB+")
RANDOM_GROUPS = tuple(f"split{s}" for s in plan.RANDOM_SPLITS)
ALL = tuple(range(1, plan.LAYERS + 1))
DERIVED = {
    "co-adaptation drop": "baseB - BnB",
    "specificity drop": "BnB - AnB",
    "fine-tuning gain": "AnB+ - baseB",
}


@dataclass(frozen=True)
class Unit:
    """One replicate: the nets of `group` that train on half `target`."""

    group: str
    target: str
    base_keys: tuple[str, ...]  # the target half's base net and its seed replicates

    @property
    def source(self) -> str:
        return "A" if self.target == "B" else "B"

    @property
    def base(self) -> Combo:
        return estimate.mean_of([estimate.net(k) for k in self.base_keys])

    def key(self, name: str, n: int) -> str:
        """The plan key of treatment `name` (TREATMENTS, named for target B) at n."""
        if name == "baseB":
            return self.base_keys[0]
        source = self.target if name.startswith("BnB") else self.source
        return f"{self.group}/{source}{n}{self.target}{'+' if name.endswith('+') else ''}"

    def net(self, name: str, n: int) -> Combo:
        return self.base if name == "baseB" else estimate.net(self.key(name, n))

    def rel(self, name: str, n: int) -> Combo:
        """The treatment's net less the base."""
        return estimate.minus(self.net(name, n), self.base)

    def mean_rel(self, name: str, ns: Iterable[int]) -> Combo:
        return estimate.mean_of([self.rel(name, n) for n in ns])


def base_keys(acc: Accuracies, group: str, half: str) -> tuple[str, ...]:
    """The base net of `half` in `group` and its seed replicates, those that have an accuracy."""
    keys = [f"{group}/base{half}"] + [f"{group}/base{half}-seed{s}" for s in plan.NOISE_SEEDS]
    return tuple(k for k in keys if k in acc)


def units(acc: Accuracies, groups: Iterable[str], halves: Iterable[str] = plan.HALVES,
          ) -> list[Unit]:
    """The replicates of `groups` whose target half's base net has an accuracy."""
    out = []
    for group in groups:
        for half in halves:
            keys = base_keys(acc, group, half)
            if keys and keys[0] == f"{group}/base{half}":
                out.append(Unit(group, half, keys))
    return out


def own_base(acc: Accuracies, key: str) -> Combo | None:
    """The base a net is measured against: its target half's (with seed replicates) for a split
    net, the whole set's base net for the whole and reduced-data nets; None for others."""
    net = plan.find(key)
    if net.target_half is not None:
        keys = base_keys(acc, net.group, net.target_half)
        return estimate.mean_of([estimate.net(k) for k in keys]) if keys else None
    if net.group in ("whole", "reduced") and "whole/base" in acc:
        return estimate.net("whole/base")
    return None


def relative(acc: Accuracies, key: str) -> float | None:
    """A net's accuracy less its own base's (`own_base`)."""
    base = own_base(acc, key)
    return None if base is None else estimate.value(estimate.minus(estimate.net(key), base), acc)


def derived(acc: Accuracies, groups: Iterable[str], noise: Noise | None,
            ) -> dict[str, dict[int, Estimate]]:
    """Per n = 1..7 over the replicates of `groups`: co-adaptation drop (base less selffer),
    specificity drop (selffer less transfer) and fine-tuning gain (fine-tuned transfer less
    base)."""
    reps = units(acc, groups)
    out: dict[str, dict[int, Estimate]] = {name: {} for name in DERIVED}
    for n in ALL:
        out["co-adaptation drop"][n] = estimate.over(
            [estimate.minus(u.base, u.net("BnB", n)) for u in reps], acc, noise)
        out["specificity drop"][n] = estimate.over(
            [estimate.minus(u.net("BnB", n), u.net("AnB", n)) for u in reps], acc, noise)
        out["fine-tuning gain"][n] = estimate.over([u.rel("AnB+", n) for u in reps], acc, noise)
    return out


def treatment_means(acc: Accuracies, reps: list[Unit], name: str, noise: Noise | None,
                    relative_to_base: bool) -> dict[int, Estimate]:
    """n -> the treatment's mean over the replicates (less each one's base, or as accuracies),
    only where it has one; baseB at n = 0 (0 by definition, with no interval, relative to it)."""
    if name == "baseB":
        if relative_to_base:
            return {0: Estimate(0.0, (len(reps),))} if reps else {}
        e = estimate.over([u.base for u in reps], acc, noise)
        return {0: e} if e.mean is not None else {}
    out = {}
    for n in ALL:
        e = estimate.over([u.rel(name, n) if relative_to_base else u.net(name, n) for u in reps],
                          acc, noise)
        if e.mean is not None:
            out[n] = e
    return out


def points(acc: Accuracies, reps: list[Unit], name: str, relative_to_base: bool,
           ) -> dict[int, list[float]]:
    """n -> every net's value of the treatment (each base net and seed replicate at n = 0)."""
    out: dict[int, list[float]] = {}
    for u in reps:
        if name == "baseB":
            combos = {0: [estimate.net(k) for k in u.base_keys]}
        else:
            combos = {n: [estimate.net(u.key(name, n))] for n in ALL}
        for n, cs in combos.items():
            for c in cs:
                c = estimate.minus(c, u.base) if relative_to_base else c
                v = estimate.value(c, acc)
                if v is not None:
                    out.setdefault(n, []).append(v)
    return out
