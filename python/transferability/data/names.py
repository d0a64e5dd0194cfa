"""The paper's dataset names: every network trains on one of these (and validates on its pair)."""

from __future__ import annotations

SPLIT_SEEDS = (0, 1, 2, 3)
REDUCTIONS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 750, 1000, 1300)

RANDOM_HALVES = tuple(f"half{s}{h}" for s in SPLIT_SEEDS for h in "AB")
NATMAN_HALVES = ("halfnatmanA", "halfnatmanB")
HALVES = RANDOM_HALVES + NATMAN_HALVES
REDUCED = tuple(f"reduced{n:04d}" for n in REDUCTIONS)
IMAGENET_DATASETS = ("whole", *HALVES, *REDUCED)
FASHION_MNIST_DATASETS = ("whole", *HALVES, *REDUCED)

