"""The paper's dataset names: every network trains on one of these (and validates on its pair).

Taken from the one experiment plan (plan.py), never spelled again here.
"""

from __future__ import annotations

from transferability import plan

SPLIT_SEEDS = tuple(int(s) for s in plan.SPLITS if s.isdigit())
REDUCTIONS = plan.REDUCED_PER_CLASS

RANDOM_HALVES = tuple(f"half{s}{h}" for s in SPLIT_SEEDS for h in plan.HALVES)
NATMAN_HALVES = tuple(f"halfnatman{h}" for h in plan.HALVES)
HALVES = RANDOM_HALVES + NATMAN_HALVES
REDUCED = tuple(plan.reduced_name(n) for n in REDUCTIONS)
IMAGENET_DATASETS = ("whole", *HALVES, *REDUCED)
FASHION_MNIST_DATASETS = ("whole", *HALVES, *REDUCED)
