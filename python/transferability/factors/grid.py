"""The factors grid (Azizpour et al. 2014): source width and depth against target distance.

Every source net (plan.factor_sources: three widths x three depths on split0's half A, and
CaffeNet's own with a second seed) is frozen whole; for every target task and every learnable
layer, a linear SVM on that layer's activations (raw, and PCA + L2), C chosen by cross-validation
on the target's training part only, scored on its validation part. The targets lie at three
distances from half A: near (split0's half B, five other Fashion-MNIST classes), middle (the
dissimilar split's shoes and bags) and far (scikit-learn's handwritten digits). For the near
target the fine-tuned transfers A{n}B+ of the study, where they are trained, give the
fine-tuning alternative.
"""

from __future__ import annotations

import csv
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from transferability import plan
from transferability.data.lmdb_io import entry_count
from transferability.errors import UserError
from transferability.factors.feature_store import load
from transferability.factors.study import layer_features, reduction, transfer_accuracies
from transferability.factors.svm import evaluate
from transferability.nets import caffenet
from transferability.nets.generate import profile
from transferability.plan import Net, layout

T = TypeVar("T")
DATASET = plan.FACTOR_DATASET
COLUMNS = ("width", "depth", "seed", "source", "target", "target_set", "layer", "position",
           "pca", "method", "dims", "C", "cv_accuracy", "accuracy", "n_train", "n_test")


@dataclass(frozen=True)
class Target:
    distance: str       # near, middle, far
    name: str           # the data set: DATA/<folder>/<name>_{train,valid}/lmdb
    folder: str
    about: str

    def lmdb(self, data: Path, part: str) -> Path:
        return layout.lmdb(data, self.folder, self.name, part)


TARGETS = (
    Target("near", "half0B", DATASET,
           "split 0's half B: pullover, coat, sandal, shirt, ankle boot (none in half A)"),
    Target("middle", "halfnatmanB", DATASET,
           "the dissimilar split's shoes and bags: sandal, sneaker, bag, ankle boot (a task of "
           "fine distinctions among non-clothing; sneaker and bag are also in half A)"),
    Target("far", "digits", "digits",
           "scikit-learn's handwritten digits, 8x8 upsampled to 28x28 (another domain)"),
)
DISTANCES = tuple(t.distance for t in TARGETS)


@dataclass(frozen=True)
class Settings:
    variants: tuple[str, ...] = ("raw", "pca+l2")
    pca: int = 64
    pool: int | None = 3
    max_train: int | None = 3000
    max_test: int | None = None


@dataclass(frozen=True)
class Source:
    net: Net
    folder: Path

    @property
    def layers(self) -> tuple[str, ...]:
        return caffenet.learnable(profile(DATASET, self.net))

    @property
    def model(self) -> Path:
        return self.folder / layout.FINAL


def sources(runs: Path) -> list[Source]:
    return [Source(net, layout.run_dir(runs, DATASET, net)) for net in plan.factor_sources()]


def check_ready(runs: Path, data: Path) -> None:
    """One line for the first missing source model or target LMDB."""
    for src in sources(runs):
        if not src.model.is_file():
            raise UserError(f"{src.model} is missing: train the grid's sources first "
                            "(`make factors-grid` does)")
    for target in TARGETS:
        for part in ("train", "valid"):
            if not (target.lmdb(data, part) / "data.mdb").is_file():
                what = "make data-digits" if target.folder == "digits" else "make data"
                raise UserError(f"{target.lmdb(data, part)} is missing: run `{what}` first")


def _row(src: Source | None, target: Target, method: str, accuracy: float, layer: str = "",
         position: int = 0, **svm: object) -> dict:
    net = src.net if src else plan.base_net(plan.FACTOR_GROUP, plan.FACTOR_HALF)
    row = dict.fromkeys(COLUMNS, "") | svm
    row.update(width=net.width, depth=net.depth, seed=net.seed, source=net.key,
               target=target.distance, target_set=target.name, layer=layer, position=position,
               method=method, accuracy=accuracy)
    return row


def feature_files(src: Source, target: Target, s: Settings, data: Path,
                  work: Path) -> dict[str, dict[str, Path]]:
    """part (train, test) -> layer -> the features file of the source's layer on the target's
    training or validation images, in `work`; extracted unless an earlier run's are there."""
    sets = {"train": (target.lmdb(data, "train"), s.max_train),
            "test": (target.lmdb(data, "valid"), s.max_test)}
    return layer_features(src.model, src.folder / layout.TRAIN_VAL, sets, src.layers, s.pool,
                          Path(work) / src.net.group / src.net.name / target.name,
                          f"{src.net.name}->{target.distance}")


def pair_rows(src: Source, target: Target, s: Settings, data: Path, work: Path) -> list[dict]:
    """Every layer and variant of one source on one target."""
    label = f"{src.net.name}->{target.distance}"
    files = feature_files(src, target, s, data, work)
    rows = []
    for position, layer in enumerate(src.layers, 1):
        x_train, y_train, _ = load(files["train"][layer])
        x_test, y_test, _ = load(files["test"][layer])
        for variant in s.variants:
            r = evaluate(x_train, y_train, x_test, y_test, reduction(variant, s.pca))
            pca = s.pca if variant.startswith("pca") else 0
            rows.append(_row(src, target, f"svm {variant}", r.top1_accuracy, layer, position,
                             pca=pca, dims=r.dims, C=r.C, cv_accuracy=r.cv_accuracy,
                             n_train=r.n_train, n_test=r.n_test))
    best = max(rows, key=lambda r: r["accuracy"])
    print(f"{label}: best {best['layer']} {best['method']} {best['accuracy']:.4f}", flush=True)
    return rows


def fine_tuned_rows(runs: Path, data: Path) -> list[dict]:
    """The near target's trained alternatives from the study's finished run folders: baseB, AnB,
    AnB+, with the sizes of the half they trained and were tested on."""
    near, group = TARGETS[0], plan.FACTOR_GROUP
    sizes = {}
    for part, column in (("train", "n_train"), ("valid", "n_test")):
        path = near.lmdb(data, part)
        sizes[column] = entry_count(path) if (path / "data.mdb").is_file() else ""
    rows = [_row(None, near, "baseB", acc, **sizes)
            for acc in transfer_accuracies(runs, DATASET, group, "baseB", True).values()]
    for method, name in (("AnB", "A{n}B"), ("AnB+", "A{n}B+")):
        for n, acc in sorted(transfer_accuracies(runs, DATASET, group, name, True).items()):
            rows.append(_row(None, near, method, acc, caffenet.LEARNABLE[n - 1], n, **sizes))
    return rows


def _pair(args: tuple) -> list[dict]:
    return pair_rows(*args)


def in_processes(work: Callable[[tuple], T], tasks: Sequence[tuple], jobs: int,
                 what: str) -> list[T]:
    """work(task) for every task, in `jobs` processes (here when 1), in the tasks' order; the
    first failure ends it all, and a worker that dies is one line that names FACTORS_JOBS."""
    if jobs <= 1:
        return [work(task) for task in tasks]
    context = multiprocessing.get_context("spawn")  # pycaffe's module and threads: not fork-safe
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = [pool.submit(work, task) for task in tasks]
        try:
            return [f.result() for f in futures]
        except BrokenProcessPool:  # a worker killed (the kernel's OOM killer, say)
            pool.shutdown(cancel_futures=True)
            raise UserError(f"a worker of {what} died (out of memory?): run it again with fewer "
                            f"jobs than {jobs} (FACTORS_JOBS=1)") from None
        except BaseException:  # the first failure ends it: start nothing more
            pool.shutdown(cancel_futures=True)
            raise


def run_grid(runs: Path, data: Path, work: Path, s: Settings = Settings(),
             jobs: int = 1) -> list[dict]:
    """Every row of the grid, sources x targets in `jobs` processes, then the fine-tuned ones."""
    check_ready(runs, data)
    for variant in s.variants:
        reduction(variant, s.pca)
    pairs = [(src, target, s, data, work) for src in sources(runs) for target in TARGETS]
    found = in_processes(_pair, pairs, jobs, "the factors grid")
    return [row for rows in found for row in rows] + fine_tuned_rows(runs, data)


def settings_of(rows: Sequence[dict], given: Settings) -> Settings:
    """The settings a grid table was made with, as far as its SVM rows say (PCA size, training
    images); `given` for the rest."""
    svm = [r for r in rows if str(r["method"]).startswith("svm")]
    pca = {r["pca"] for r in svm if r.get("pca")}
    n_train = {r["n_train"] for r in svm if r.get("n_train")}
    return replace(given, pca=max(pca) if pca else given.pca,
                   max_train=max(n_train) if n_train else given.max_train)


def read_rows(rows: Sequence[dict]) -> list[dict]:
    """Rows from a CSV (all strings) with the grid's numeric columns as numbers."""
    out = []
    for row in rows:
        row = dict(row)
        for key in ("width", "accuracy", "cv_accuracy", "C"):
            row[key] = float(row[key]) if row.get(key) not in ("", None) else ""
        for key in ("depth", "seed", "position", "pca", "dims", "n_train", "n_test"):
            row[key] = int(row[key]) if row.get(key) not in ("", None) else ""
        out.append(row)
    return out


def read_table(path: Path) -> list[dict]:
    """A grid.csv's rows, numbers converted; one line for a table that is not one."""
    if not Path(path).is_file():
        raise UserError(f"no grid table at {path}")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path} is not a grid table: no column {', '.join(missing)}")
        try:
            rows = read_rows(list(reader))
        except ValueError as err:
            raise UserError(f"{path} holds a cell that is not a number ({err})") from None
    if not any(str(r["method"]).startswith("svm") for r in rows):
        raise UserError(f"{path} holds no SVM rows")
    unknown = sorted({r["target"] for r in rows} - set(DISTANCES))
    if unknown:
        raise UserError(f"{path}: unknown target {', '.join(unknown)} (expected "
                        f"{', '.join(DISTANCES)})")
    return rows
