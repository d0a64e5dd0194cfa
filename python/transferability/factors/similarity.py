"""Layer-by-layer similarity of the study's nets (linear and RBF CKA, factors/cka.py), beside the
transfer it measured.

For each random split whose baseA and baseB are finished (split 0 first; natman, a different
kind of split, is left out): a fixed set of half B's validation images, spread evenly over the
LMDB (factors/features.py's `chosen`), goes through every finished net of the pairs below, each
with its own TEST transform (its own training set's mean), and each learnable layer's activations
(after its ReLU, the whole map, not pooled) are kept as features files in RUNS/similarity/. The
pairs, at every layer conv1..fc8:
- baseA and baseB: the two halves' nets, different data and different starts;
- baseB and baseB-seed1, baseB-seed2: the same data, another solver seed (the seed floor: what
  "the same" looks like between two trainings);
- baseB and AnB, n = 1..7: the frozen transfer against the target's own base;
- AnB+ and BnB+, n = 1..7: the fine-tuned transfer against the fine-tuned selffer;
- baseA and AnB+, n = 1..7: the fine-tuned transfer against its source.
The bootstrap draws the images with replacement, one draw per split shared by every pair and
layer (comparisons between them are paired). Where several splits have a pair, its CKA is their
mean, replicate by replicate (each split's images drawn independently).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from transferability import plan
from transferability.caffe_io import read_solver
from transferability.data.lmdb_io import entry_count
from transferability.errors import UserError
from transferability.factors import cka
from transferability.factors.feature_store import load
from transferability.factors.features import resolve_lmdb
from transferability.factors.study import layer_features
from transferability.nets import caffenet
from transferability.nets.generate import profile
from transferability.plan import layout
from transferability.results import paper, tables
from transferability.training.logparse import wall_seconds

IMAGES = 1000
BOOTSTRAP = 200
KERNELS = ("linear", "rbf")
SEED_PAIRS = tuple(("baseB", f"baseB-seed{s}") for s in plan.NOISE_SEEDS)
NS = tuple(range(1, plan.LAYERS + 1))


def pairs() -> list[tuple[str, str, str, int]]:
    """(kind, first net, second net, n) in the order the table lists them (n 0: no n)."""
    out = [("baseA-baseB", "baseA", "baseB", 0)]
    out += [("seed floor", a, b, 0) for a, b in SEED_PAIRS]
    out += [("baseB-AnB", "baseB", f"A{n}B", n) for n in NS]
    out += [("AnB+-BnB+", f"A{n}B+", f"B{n}B+", n) for n in NS]
    out += [("baseA-AnB+", "baseA", f"A{n}B+", n) for n in NS]
    return out


@dataclass(frozen=True)
class Settings:
    images: int = IMAGES
    bootstrap: int = BOOTSTRAP
    seed: int = 0


@dataclass
class Measured:
    """CKA per (group, kernel, kind, first, second, layer): (1 + B,) replicates, index 0 on all
    images; the accuracies of the nets (the plotted metric), and what it cost."""

    dataset: str
    layers: tuple[str, ...]
    cka: dict[tuple[str, str, str, str, str, str], np.ndarray]
    acc: dict[str, float]                      # plan key -> accuracy, finished nets only
    groups: list[str]                          # the splits measured
    images: dict[str, int]                     # group -> images compared
    bootstrap: int
    missing: dict[str, list[str]]              # group -> nets of the pairs not finished
    seconds: dict[str, float] = field(default_factory=dict)  # features, grams, CKA (wall)
    training: dict[str, float] = field(default_factory=dict)  # plan key -> training seconds
    seeds: dict[str, int] = field(default_factory=dict)  # plan key -> its solver's random_seed

    def groups_with(self, kernel: str, kind: str, first: str, second: str) -> list[str]:
        return [g for g in self.groups
                if (g, kernel, kind, first, second, self.layers[0]) in self.cka]

    def pooled(self, kernel: str, kind: str, first: str, second: str,
               layer: str) -> np.ndarray | None:
        """The mean over the splits that have the pair, replicate by replicate."""
        found = [self.cka[(g, kernel, kind, first, second, layer)]
                 for g in self.groups_with(kernel, kind, first, second)]
        return np.mean(found, axis=0) if found else None

    def floor(self, kernel: str, layer: str) -> np.ndarray | None:
        """The seed floor: the mean of baseB's CKA with each of its seed replicates."""
        found = [v for a, b in SEED_PAIRS
                 if (v := self.pooled(kernel, "seed floor", a, b, layer)) is not None]
        return np.mean(found, axis=0) if found else None


def _finished(runs: Path, dataset: str, key: str) -> bool:
    return layout.final_model(runs, dataset, plan.find(key)).is_file()


def groups_of(runs: Path, dataset: str) -> list[str]:
    """The random splits whose baseA and baseB are finished, split 0 first."""
    groups = [plan.group_of_split(str(s)) for s in plan.RANDOM_SPLITS]
    return [g for g in groups if all(_finished(runs, dataset, f"{g}/base{h}") for h in "AB")]


def check_ready(runs: Path, data: Path, dataset: str) -> list[str]:
    """The splits to measure; one line when there is none, or no seed floor."""
    if not Path(runs).is_dir():
        raise UserError(f"RUNS {runs} is not a folder: train the nets first "
                        f"(`make similarity DATASET={dataset}` does)")
    groups = groups_of(runs, dataset)
    if not groups:
        raise UserError(f"no random split of {dataset} under {runs} has a finished baseA and "
                        "baseB: train them first (`make similarity` trains split 0's)")
    seeds = [g for g in groups
             if any(_finished(runs, dataset, f"{g}/{b}") for _, b in SEED_PAIRS)]
    if not seeds:
        raise UserError(f"no finished baseB seed replicate ({', '.join(b for _, b in SEED_PAIRS)})"
                        f" of {dataset}: there is no seed floor; `make noise` trains them")
    for g in groups:
        resolve_lmdb(_images_of(data, dataset, g))
    return groups


def _images_of(data: Path, dataset: str, group: str) -> Path:
    return layout.data_paths(data, dataset, plan.base_net(group, "B"))[layout.VAL_LMDB]


def draws(s: Settings, group_index: int, n: int) -> np.ndarray:
    """(B, n): how often each image is drawn in each replicate (a multinomial of n draws)."""
    rng = np.random.default_rng([s.seed, group_index])
    return rng.multinomial(n, np.full(n, 1 / n), size=s.bootstrap).astype(np.float64)


def _features(runs: Path, dataset: str, key: str, db: Path, limit: int,
              layers: tuple[str, ...]) -> dict[str, Path]:
    net = plan.find(key)
    folder = layout.run_dir(runs, dataset, net)
    files = layer_features(folder / layout.FINAL, folder / layout.TRAIN_VAL,
                           {"valid": (db, limit)}, layers, None,
                           Path(runs) / layout.SIMILARITY_WORK / dataset / key, f"{dataset}/{key}")
    return files["valid"]


def measure(runs: Path, data: Path, dataset: str, s: Settings = Settings()) -> Measured:
    """Every pair of every split ready (check_ready), each layer, both kernels."""
    groups = check_ready(runs, data, dataset)
    found_runs, _ = tables.scan(runs, dataset)
    finished = [r for r in found_runs if r.finished]
    acc, _ = tables.accuracies(finished, dataset, paper.PLOTTED)
    training = {r.net.key: t for r in finished if (t := wall_seconds(r.path)) is not None}
    layers = caffenet.learnable(profile(dataset, plan.base_net(groups[0], "B")))
    out = Measured(dataset, layers, {}, acc, groups, {}, s.bootstrap, {}, {}, training)
    seconds = dict.fromkeys(("features", "kernels", "cka"), 0.0)
    for gi, group in enumerate(groups):
        db = resolve_lmdb(_images_of(data, dataset, group))
        limit = min(s.images, entry_count(db))
        names = list(dict.fromkeys(name for _, a, b, _ in pairs() for name in (a, b)))
        ready = [name for name in names if _finished(runs, dataset, f"{group}/{name}")]
        out.missing[group] = [name for name in names if name not in ready]
        start = time.perf_counter()
        files = {name: _features(runs, dataset, f"{group}/{name}", db, limit, layers)
                 for name in ready}
        seconds["features"] += time.perf_counter() - start
        out.images[group] = limit
        out.seeds |= {f"{group}/{name}": read_solver(
            layout.run_dir(runs, dataset, plan.find(f"{group}/{name}")) / layout.SOLVER).random_seed
            for name in ("baseA", "baseB", *(b for _, b in SEED_PAIRS)) if name in ready}
        p = cka.weights(draws(s, gi, limit), limit)
        for layer in layers:
            for kernel in KERNELS:
                start = time.perf_counter()
                kernels = {name: cka.Kernel(cka.GRAMS[kernel](load(files[name][layer])[0]), p)
                           for name in ready}
                seconds["kernels"] += time.perf_counter() - start
                start = time.perf_counter()
                for kind, a, b, _ in pairs():
                    if a in kernels and b in kernels:
                        out.cka[(group, kernel, kind, a, b, layer)] = cka.cka(kernels[a],
                                                                             kernels[b])
                seconds["cka"] += time.perf_counter() - start
        print(f"{dataset}/{group}: CKA of {len(ready)} nets on {limit} images, "
              f"{len(layers)} layers", flush=True)
    out.seconds = seconds
    return out
