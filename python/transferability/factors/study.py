"""The factors study (Azizpour et al. 2014) beside Figure 2's frozen transfer (Yosinski et al.).

Both ask how well half A's features serve half B. Azizpour et al. freeze baseA entirely, take one
layer's activations for half B's images and train a linear SVM on them; Yosinski et al.'s AnB
keeps baseA's first n layers frozen and trains the layers above them on half B. Here, for every
learnable layer conv1..fc8 of baseA: features of (a subsample of) half B's training set and of
its validation set, a linear SVM for each reduction (none, PCA, L2), the top-1 accuracies in a
CSV table and a figure beside AnB's final accuracies from the run folders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from transferability import plan
from transferability.errors import UserError
from transferability.factors.feature_store import attrs, load
from transferability.factors.features import extract
from transferability.factors.svm import Reduction, evaluate
from transferability.nets.caffenet import LEARNABLE
from transferability.plan import layout
from transferability.training.logparse import parse_log

VARIANTS = ("raw", "l2", "pca", "pca+l2")
COLUMNS = ("dataset", "group", "source", "target", "layer", "n", "method", "pool", "dims", "C",
           "cv_accuracy", "top1_accuracy", "n_train", "n_test")


@dataclass(frozen=True)
class Study:
    """baseA of one group as the frozen source, half B of the same group as the target task."""

    dataset: str
    group: str
    folder: Path        # baseA's run folder
    train: Path         # half B's training LMDB
    test: Path          # half B's validation LMDB
    target: str         # half B's dataset name, e.g. half0B

    @property
    def model(self) -> Path:
        return self.folder / layout.FINAL

    @property
    def prototxt(self) -> Path:
        return self.folder / layout.TRAIN_VAL

    def missing(self) -> list[Path]:
        return [p for p in (self.model, self.prototxt, self.train, self.test) if not p.exists()]


def reduction(variant: str, pca: int) -> Reduction:
    """`raw`, `l2`, `pca` or `pca+l2` as a Reduction with PCA to `pca` dimensions."""
    if variant not in VARIANTS:
        raise UserError(f"unknown variant '{variant}': expected some of {', '.join(VARIANTS)}")
    return Reduction(pca if variant.startswith("pca") else 0, variant.endswith("l2"))


def study(runs: Path, data: Path, dataset: str, group: str) -> Study:

    source, target = plan.base_net(group, "A"), plan.base_net(group, "B")
    paths = layout.data_paths(data, dataset, target)
    return Study(dataset, group, layout.run_dir(runs, dataset, source), paths[layout.TRAIN_LMDB],
                 paths[layout.VAL_LMDB], target.train_set)


def studies(runs: Path, data: Path, dataset: str, split: str) -> tuple[list[Study], list[str]]:
    """The split's study, and natman's when its run and data exist; notes on what is skipped."""
    if dataset not in plan.DATASETS:
        raise UserError(f"unknown dataset '{dataset}': expected one of {', '.join(plan.DATASETS)}")
    group = plan.group_of_split(split)
    first = study(runs, data, dataset, group)
    if first.missing():
        raise UserError(f"{dataset}/{group}: {first.missing()[0]} is missing (train "
                        f"{group}/baseA and build half B's data first)")
    found, notes = [first], []
    if group != "natman":
        natman = study(runs, data, dataset, "natman")
        if natman.missing():
            notes.append(f"natman skipped: {natman.missing()[0]} is missing")
        else:
            found.append(natman)
    return found, notes


def transfer_accuracies(runs: Path, dataset: str, group: str, name: str,
                        finished: bool = False) -> dict[int, float]:
    """n -> final test accuracy of RUNS/<dataset>/<group>/<name with n>/train.log, where a log has
    one (and, if `finished`, the run its final model); `name` is a format string such as "A{n}B"
    ("base" names without n give key 0)."""

    out: dict[int, float] = {}
    for n in range(0, plan.LAYERS + 1) if "{n}" in name else (0,):
        folder = layout.run_folder(runs, dataset, group, name.format(n=n))
        if finished and not (folder / layout.FINAL).is_file():
            continue
        try:
            acc = parse_log(folder).final_accuracy
        except FileNotFoundError:
            continue
        if acc is not None:
            out[n] = acc
    return out


def layer_index(layer: str) -> int:
    """1..8 for conv1..fc8 (the n of AnB that freezes up to that layer)."""
    return LEARNABLE.index(layer) + 1 if layer in LEARNABLE else 0


def check_layers(layers: list[str]) -> None:
    unknown = [layer for layer in layers if layer not in LEARNABLE]
    if unknown:
        raise UserError(f"unknown layer {', '.join(unknown)}: expected some of "
                        f"{', '.join(LEARNABLE)}")


@dataclass(frozen=True)
class Settings:
    layers: tuple[str, ...] = LEARNABLE
    variants: tuple[str, ...] = ("raw", "pca+l2")
    pca: int = 64
    pool: int | None = 3
    max_train: int | None = 5000
    max_test: int | None = 5000
    gpu: int | None = None


def _fresh(path: Path, model: Path, db: Path, pool: int | None, limit: int | None) -> bool:
    """Whether a features file from an earlier run holds exactly these features."""

    got = attrs(path)
    want = {"model": str(model), "lmdb": str(db), "pool": pool or 0, "limit": limit or 0}
    return (got is not None and all(got.get(k) == v for k, v in want.items())
            and path.stat().st_mtime_ns >= model.stat().st_mtime_ns)


def layer_features(model: Path, prototxt: Path, sets: dict[str, tuple[Path, int | None]],
                   layers: Sequence[str], pool: int | None, folder: Path, label: str,
                   gpu: int | None = None) -> dict[str, dict[str, Path]]:
    """part -> layer -> features file in `folder`, for each part's (LMDB, image limit): one
    forward pass per set for all layers, skipped where an earlier run's files still hold the same
    features."""

    files: dict[str, dict[str, Path]] = {}
    for part, (db, limit) in sets.items():
        files[part] = {layer: Path(folder) / f"{layer}_{part}.h5" for layer in layers}
        stale = {layer: path for layer, path in files[part].items()
                 if not _fresh(path, model, db, pool, limit)}
        if stale:
            print(f"{label}: features of {', '.join(stale)} for {db}", flush=True)
            extract(model, prototxt, db, stale, pool=pool, limit=limit, gpu=gpu)
    return files


def features_for(st: Study, s: Settings, out: Path) -> dict[str, dict[str, Path]]:
    """part (train/test) -> layer -> features file of the study's source and target."""
    sets = {"train": (st.train, s.max_train), "test": (st.test, s.max_test)}
    return layer_features(st.model, st.prototxt, sets, s.layers, s.pool,
                          Path(out) / "features" / st.dataset / st.group, st.group, s.gpu)


def svm_rows(st: Study, s: Settings, files: dict[str, dict[str, Path]]) -> list[dict]:
    """One row per layer and variant: the linear SVM's top-1 accuracy on half B's validation."""

    rows = []
    for layer in s.layers:
        x_train, y_train, _ = load(files["train"][layer])
        x_test, y_test, _ = load(files["test"][layer])
        for variant in s.variants:
            r = evaluate(x_train, y_train, x_test, y_test, reduction(variant, s.pca))
            method = f"svm {variant}".replace("pca", f"pca{s.pca}")
            pool = f"{s.pool}x{s.pool}" if s.pool and layer.startswith("conv") else ""
            rows.append(_row(st, layer, method, r.top1_accuracy, pool=pool, dims=r.dims, C=r.C,
                             cv_accuracy=r.cv_accuracy, n_train=r.n_train, n_test=r.n_test))
            note = "" if r.converged else ", not converged"
            print(f"{st.group} {layer:5} {method:16} top-1 {r.top1_accuracy:.4f} "
                  f"(C={r.C:g}, {r.dims} dims{note})", flush=True)
    return rows


def transfer_rows(st: Study, runs: Path) -> list[dict]:
    """AnB's final accuracies (n = 1..7) and baseB's (n = 0) from the run folders there are."""
    rows = [_row(st, "", "baseB", acc) for acc in
            transfer_accuracies(runs, st.dataset, st.group, "baseB").values()]
    for n, acc in sorted(transfer_accuracies(runs, st.dataset, st.group, "A{n}B").items()):
        if n:
            rows.append(_row(st, LEARNABLE[n - 1], "AnB", acc))
    return rows


def _row(st: Study, layer: str, method: str, acc: float, **svm: object) -> dict:
    """A table row; `svm` holds the SVM's columns (pool, dims, C, ...), blank for AnB and baseB."""
    row = dict.fromkeys(COLUMNS, "") | svm
    row.update(dataset=st.dataset, group=st.group, source="" if method == "baseB" else "baseA",
               target=st.target, layer=layer, n=layer_index(layer), method=method,
               top1_accuracy=acc)
    return row


def run_study(runs: Path, data: Path, dataset: str, split: str, out: Path,
              s: Settings = Settings()) -> tuple[list[dict], list[str]]:
    """Every row of the study of `split` (and natman's, when there): SVMs, AnB and baseB."""
    check_layers(list(s.layers))
    for variant in s.variants:
        reduction(variant, s.pca)
    found, notes = studies(runs, data, dataset, split)
    rows: list[dict] = []
    for st in found:
        rows += svm_rows(st, s, features_for(st, s, out)) + transfer_rows(st, runs)
    return rows, notes
