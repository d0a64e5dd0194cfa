"""The paper's splits of a class-labelled list: random halves, natural/man-made, reductions.

Rules (docs/PAPER.md, "Datasets and splits"):
- random half s: numpy's legacy RandomState seeded with the one-element array [s] (the integer s
  seeds another stream), choice(n, n // 2, replace=False), sorted = half A; the rest = half B;
- a half's labels are remapped to 0..len-1 in ascending old-label order, lines keep their order,
  and idxmap.txt ("old new" per line) goes beside the list;
- reduced N: the first N lines of each class, labels unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from transferability.data.lists import Entry
from transferability.plan import RANDOM_SPLITS


def random_half(n_classes: int, seed: int) -> tuple[list[int], list[int]]:
    picked = np.random.RandomState([seed]).choice(n_classes, n_classes // 2, replace=False)
    half_a = sorted(int(c) for c in picked)
    return half_a, complement(half_a, n_classes)


def complement(classes: Sequence[int], n_classes: int) -> list[int]:
    chosen = set(classes)
    return [c for c in range(n_classes) if c not in chosen]


def half_classes(n_classes: int, natural: Sequence[int]) -> dict[str, list[int]]:
    """Old class labels of every half, by dataset name (half0A .. half3B, halfnatmanA/B)."""
    halves: dict[str, list[int]] = {}
    for seed in RANDOM_SPLITS:
        halves[f"half{seed}A"], halves[f"half{seed}B"] = random_half(n_classes, seed)
    halves["halfnatmanA"] = sorted(natural)
    halves["halfnatmanB"] = complement(natural, n_classes)
    return halves


def label_map(classes: Sequence[int]) -> dict[int, int]:
    return {old: new for new, old in enumerate(sorted(classes))}


def select(entries: Sequence[Entry], classes: Sequence[int]) -> list[Entry]:
    """The lines of these classes, in list order, relabelled 0..len(classes)-1."""
    mapping = label_map(classes)
    return [(path, mapping[label]) for path, label in entries if label in mapping]


def idxmap_text(classes: Sequence[int]) -> str:
    return "".join(f"{old} {new}\n" for old, new in label_map(classes).items())


def first_per_class(entries: Sequence[Entry], n: int) -> list[Entry]:
    """The first n lines of each class, in list order."""
    seen: Counter[int] = Counter()
    kept = []
    for path, label in entries:
        seen[label] += 1
        if seen[label] <= n:
            kept.append((path, label))
    return kept
