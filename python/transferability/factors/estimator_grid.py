"""Cheap transferability estimators on the factors grid's features, beside what was measured.

For every source of the grid (factors/grid.py; split 0's baseA among them), every target and
every layer: LogME and H-score of that layer's activations on the target's training images (the
grid's own features files: the images its SVM was fitted on), and LEEP and NCE of the source head
(the last layer's softmax) on the same images. Nothing here reads a validation label for an
estimator: they take the training features files only.

Beside them the measured numbers, kept per validation image so that the images can be resampled:
the grid's linear SVM on that layer (`svm raw`), refitted with the C the grid chose by
cross-validation (its accuracy must equal grid.csv's), and, for split 0's baseA on the near
target, the study's frozen transfer A{n}B (the finished net's last layer on half0B's validation
images; its accuracy must equal its training log's).

The bootstrap: B replicates of a target's training images (each estimator recomputed on each, the
images counted as often as drawn) and, independently, of its validation images (the measured
accuracies); one draw per target shared by all its sources and layers, so that every comparison
of two layers, sources or estimators is paired.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from transferability import plan
from transferability.errors import UserError
from transferability.factors import grid
from transferability.factors.estimators import (
    HEAD_ONLY,
    PER_LAYER,
    h_score_of,
    leep,
    logme_of,
    moments,
    nce,
    score,
    softmax,
)
from transferability.factors.feature_store import load
from transferability.factors.grid_findings import RAW, Grid
from transferability.factors.study import layer_features, transfer_accuracies
from transferability.factors.svm import fit_predict
from transferability.nets import caffenet
from transferability.nets.generate import profile
from transferability.plan import layout
from transferability.results.estimate import noise
from transferability.training.logparse import parse_log, wall_seconds

BOOTSTRAP = 200
TRAIN, VALID = 0, 1  # the two parts of a target whose images are drawn, each its own stream
ACCURACY_TOLERANCE = 1e-6  # an accuracy against its record (grid.csv's 6 digits, a log's)
RERUN_TOLERANCE = 0.002    # 2 images in 1000: see rerun_tolerance


@dataclass(frozen=True)
class Settings:
    features: grid.Settings = grid.Settings()  # as the grid extracted them (its grid.csv says)
    bootstrap: int = BOOTSTRAP
    seed: int = 0


@dataclass
class LayerScores:
    """One layer of one source on one target: each estimator's score and the SVM's accuracy,
    index 0 on all images, then one per bootstrap replicate."""

    source: str                  # the net's key: split0/baseA, factors/w2-d9
    target: str                  # near, middle, far
    layer: str
    position: int                # 1 = the first learnable layer
    head: bool                   # the source's last layer: LEEP and NCE are scored here
    n_train: int
    n_test: int
    dims: int
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    # CPU seconds (one thread: the wall time on an idle core, whatever else shares the machine)
    seconds: dict[str, float] = field(default_factory=dict)  # one score on all images
    svm: np.ndarray | None = None
    svm_seconds: float = 0.0     # one SVM fit with the chosen C, and its predictions


@dataclass
class Measurements:
    layers: list[LayerScores]
    sources: dict[str, plan.Net]          # key -> net (width, depth, seed)
    anb: dict[int, np.ndarray]            # n -> A{n}B's accuracy (index 0), then replicates
    anb_training: dict[int, tuple[float, int]]  # n -> A{n}B's (seconds, iterations), its log
    grid_noise: dict[str, float | None]   # target -> the grid's seed noise (svm raw)
    anb_noise: float | None               # baseB's seed-to-seed spread (the study's noise)
    bootstrap: int
    n_images: dict[str, tuple[int, int]]  # target -> (training, validation) images
    svm_differences: tuple[int, float] = (0, 0.0)  # refits off grid.csv: how many, how far


def draws(s: Settings, target_index: int, part: int, n: int) -> np.ndarray:
    """(B, n): how often each image is drawn in each replicate (a multinomial of n draws)."""
    rng = np.random.default_rng([s.seed, target_index, part])
    return rng.multinomial(n, np.full(n, 1 / n), size=s.bootstrap).astype(np.float64)


def resampled(correct: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(1 + B,): the accuracy of per-image correctness, then on each replicate's images."""
    return np.concatenate([[correct.mean()], counts @ correct / counts.sum(axis=1)])


def estimator_scores(x: np.ndarray, y: np.ndarray, head: bool,
                     counts: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Every estimator that applies to one layer's training features (LEEP and NCE: the head's
    only), on all images and on each replicate of `counts`, and the seconds of each on all
    images. The replicates share one pass over the features (`moments`) for LogME and H-score."""
    names = PER_LAYER + (HEAD_ONLY if head else ())
    scores: dict[str, list[float]] = {}
    seconds = {}
    for name in names:
        start = time.process_time()
        scores[name] = [score(name, x, y)]
        seconds[name] = time.process_time() - start
    probs = softmax(x) if head else None
    for w in counts:
        m = moments(x, y, w)
        scores["LogME"].append(logme_of(m))
        scores["H-score"].append(h_score_of(m))
        if probs is not None:
            scores["LEEP"].append(leep(probs, y, w))
            scores["NCE"].append(nce(probs, y, w))
    return {name: np.asarray(v) for name, v in scores.items()}, seconds


def pair_scores(src: grid.Source, target: grid.Target, target_index: int, chosen_c: dict,
                s: Settings, data: Path, work: Path) -> list[LayerScores]:
    """Every layer of one source on one target: the estimators, and the SVM's accuracy with the
    C the grid chose (chosen_c: layer -> C)."""
    files = grid.feature_files(src, target, s.features, data, work)
    found = []
    for position, layer in enumerate(src.layers, 1):
        x, y, _ = load(files["train"][layer])
        counts = draws(s, target_index, TRAIN, len(y))
        out = LayerScores(src.net.key, target.distance, layer, position,
                          position == len(src.layers), len(y), 0, x.shape[1])
        out.scores, out.seconds = estimator_scores(x, y, out.head, counts)
        if layer in chosen_c:
            x_test, y_test, _ = load(files["test"][layer])
            start = time.process_time()
            correct = fit_predict(x, y, x_test, chosen_c[layer]) == y_test
            out.svm_seconds = time.process_time() - start
            out.svm = resampled(correct, draws(s, target_index, VALID, len(y_test)))
            out.n_test = len(y_test)
        found.append(out)
    print(f"{src.net.name}->{target.distance}: {len(found)} layers scored", flush=True)
    return found


def _pair(args: tuple) -> list[LayerScores]:
    return pair_scores(*args)


def _chosen_c(rows: list[dict]) -> dict[tuple[str, str], dict[str, float]]:
    """(source, target) -> layer -> the C grid.csv's raw SVM chose."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for r in rows:
        if r["method"] == RAW:
            out.setdefault((r["source"], r["target"]), {})[r["layer"]] = float(r["C"])
    return out


def rerun_tolerance(n_test: int) -> float:
    """How far an accuracy computed again here may be from its record (grid.csv's SVM, a
    training log's test): features or forward passes made again (in another process, with DATA
    spelt otherwise) differ from the recorded ones in the last float32 bit, which flips a
    borderline image or two; a net trained again differs by far more."""
    return max(RERUN_TOLERANCE, 2.5 / n_test)


def check_svm(found: list[LayerScores], rows: list[dict], where: Path) -> tuple[int, float]:
    """Each refitted SVM scores grid.csv's accuracy within rerun_tolerance, else the features are
    not the grid's: one line. (Layers that differ at all, the largest difference.)"""
    table = {(r["source"], r["target"], r["layer"]): float(r["accuracy"]) for r in rows
             if r["method"] == RAW}
    differ, largest = 0, 0.0
    for f in found:
        if f.svm is None:
            continue
        gap = abs(f.svm[0] - table[(f.source, f.target, f.layer)])
        if gap > rerun_tolerance(f.n_test):
            raise UserError(f"{f.source} {f.layer} on the {f.target} target: the SVM refitted on "
                            f"the features in {where} scores {f.svm[0]:.4f}, grid.csv "
                            f"{table[(f.source, f.target, f.layer)]:.4f}; the features changed "
                            "since the grid ran: run `make factors-grid` again")
        differ += gap > ACCURACY_TOLERANCE
        largest = max(largest, gap)
    return differ, largest


def anb_accuracies(runs: Path, data: Path, work: Path, s: Settings) -> dict[int, np.ndarray]:
    """n -> A{n}B's accuracy on half0B's validation images (index 0), then on each replicate:
    from its final net's last layer, for every finished A{n}B of split 0 with a test accuracy in
    its log, which it must equal (within rerun_tolerance)."""
    near, group = grid.TARGETS[0], plan.FACTOR_GROUP
    logged = transfer_accuracies(runs, grid.DATASET, group, "A{n}B", finished=True)
    out = {}
    for n, acc in sorted(logged.items()):
        net = plan.find(f"{group}/A{n}B")
        folder = layout.run_dir(runs, grid.DATASET, net)
        head = caffenet.learnable(profile(grid.DATASET, net))[-1]
        files = layer_features(folder / layout.FINAL, folder / layout.TRAIN_VAL,
                               {"test": (near.lmdb(data, "valid"), None)}, [head], None,
                               Path(work) / group / net.name / near.name, net.name)
        logits, labels, _ = load(files["test"][head])
        correct = logits.argmax(axis=1) == labels
        if abs(correct.mean() - acc) > rerun_tolerance(len(labels)):
            raise UserError(f"{folder}: its last layer scores {correct.mean():.6f} on "
                            f"{near.lmdb(data, 'valid')}, its log {acc:.6f}: the run and the "
                            "data do not belong together")
        out[n] = resampled(correct, draws(s, 0, VALID, len(labels)))
    return out


def _anb_training(runs: Path, ns: list[int]) -> dict[int, tuple[float, int]]:
    """n -> (seconds, iterations) of A{n}B's training, from its log."""
    out = {}
    for n in ns:
        folder = layout.run_folder(runs, grid.DATASET, plan.FACTOR_GROUP, f"A{n}B")
        seconds = wall_seconds(folder)
        if seconds is not None:
            out[n] = (seconds, parse_log(folder).last_iteration)
    return out


def _anb_noise(runs: Path) -> float | None:
    """The study's noise: the sample spread of split 0's baseB and its seed replicates."""
    group = plan.FACTOR_GROUP
    acc = {}
    for name in ("baseB", *(f"baseB-seed{seed}" for seed in plan.NOISE_SEEDS)):
        found = transfer_accuracies(runs, grid.DATASET, group, name, finished=True)
        if found:
            acc[f"{group}/{name}"] = found[0]
    found_noise = noise(acc, [group])
    return None if found_noise is None else found_noise.sd


def measure(runs: Path, data: Path, work: Path, rows: list[dict], s: Settings,
            jobs: int = 1) -> Measurements:
    """Every source, target and layer of the grid whose table `rows` is: scored, measured and
    resampled; A{n}B where the study has it."""
    grid.check_ready(runs, data)
    chosen = _chosen_c(rows)
    tasks = [(src, target, i, chosen.get((src.net.key, target.distance), {}), s, data, work)
             for src in grid.sources(runs) for i, target in enumerate(grid.TARGETS)]
    found = [f for pair in grid.in_processes(_pair, tasks, jobs, "the estimators") for f in pair]
    svm_differences = check_svm(found, rows, work)
    anb = anb_accuracies(runs, data, work, s)
    g = Grid(rows)
    sizes = {}
    for f in found:
        sizes.setdefault(f.target, (f.n_train, f.n_test))
    return Measurements(found, {src.net.key: src.net for src in grid.sources(runs)}, anb,
                        _anb_training(runs, sorted(anb)),
                        {t.distance: g.noise(t.distance) for t in grid.TARGETS},
                        _anb_noise(runs), s.bootstrap, sizes, svm_differences)
