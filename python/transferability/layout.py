"""Where things live: the data folders and the run folders, the one place that spells them.

    DATA/<dataset>/<name>_train/{lmdb/, mean.binaryproto}, DATA/<dataset>/<name>_valid/lmdb/,
    DATA/<dataset>/<name>.done                      (the stamp: the set is complete)
    RUNS/<dataset>/<group>/<net>/                   (one network's run folder) with
        train_lmdb, val_lmdb, mean.binaryproto      (links into DATA)
        train_val.prototxt, solver.prototxt, run.json (what it ran, with which settings)
        train.log, snapshot_iter_N.{caffemodel,solverstate}, final.caffemodel

Needs nothing outside the standard library: makerules.py runs before the venv exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

FINAL = "final.caffemodel"
SETTINGS = "run.json"
LOG = "train.log"
TRAIN_VAL, SOLVER = "train_val.prototxt", "solver.prototxt"
MEAN = "mean.binaryproto"


class NetLike(Protocol):
    group: str
    name: str
    train_set: str
    valid_set: str


def run_folder(runs: Path | str, dataset: str, net: NetLike) -> Path:
    return Path(runs) / dataset / net.group / net.name


def run_folder_text(runs: str, dataset: str, key: str) -> str:
    """The same as text, for make rules whose RUNS is a make variable."""
    return f"{runs}/{dataset}/{key}"


def data_set(data: Path | str, dataset: str, name: str, part: str) -> Path:
    """DATA/<dataset>/<name>_<part>, part being train or valid."""
    return Path(data) / dataset / f"{name}_{part}"


def data_stamp(data: Path | str, dataset: str, name: str) -> Path:
    return Path(data) / dataset / f"{name}.done"


def data_paths(data: Path | str, dataset: str, net: NetLike) -> dict[str, Path]:
    """What a run folder links to: the net's training and validation LMDBs and its mean."""
    return {
        "train_lmdb": data_set(data, dataset, net.train_set, "train") / "lmdb",
        "val_lmdb": data_set(data, dataset, net.valid_set, "valid") / "lmdb",
        MEAN: data_set(data, dataset, net.train_set, "train") / MEAN,
    }


def settings(dataset: str, key: str, iters: int | None) -> dict:
    """What run.json records: a run folder is never continued with other settings."""
    return {"dataset": dataset, "net": key, "iters": iters}


def read_settings(folder: Path) -> dict | None:
    stamp = Path(folder) / SETTINGS
    return json.loads(stamp.read_text()) if stamp.is_file() else None


def settings_conflict(folder: Path, wanted: dict) -> str | None:
    """The one-line reason a run folder refuses `wanted`, or None."""
    before = read_settings(folder)
    if before is None or before == wanted:
        return None
    return (f"{folder} was started with ITERS={before.get('iters')}, not ITERS="
            f"{wanted['iters']}; remove it or choose another RUNS")
