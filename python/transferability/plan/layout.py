"""Where things lie on disk: the data sets, the generated nets and the run folders. The one place
that spells them.

Data, as data_prep/data.mk builds it, for D = fashion-mnist, imagenet or a user's own images:
    DATA/D/<set>_train/{lmdb/,mean.binaryproto}, DATA/D/<set>_valid/lmdb/, DATA/D/<set>.done
    (ImageNet and a user's images: files.txt in each, idxmap.txt in the halves', lmdb.done once
    its LMDB is whole; a user's images: DATA/D/dataset.json, their description, and
    DATA/D/plan.mk, its make rules)

The generated nets and solvers (`make prototxt`): prototxt/D/<group>/<net>.prototxt and
solvers/D/<group>/<net>.prototxt in the repository.

A run folder `RUNS/<dataset>/<group>/<net>/` holds links to its LMDBs and mean, the train_val and
solver it ran (`train_val.prototxt`, `solver.prototxt`), the settings it was started with
(`run.json`), `train.log`, the snapshots, and `final.caffemodel` once the solver has finished.

Standard library only: the Makefile's rule generator (plan/makerules.py) imports it before the
venv exists.
"""

from __future__ import annotations

import json
from pathlib import Path

from transferability.plan import Net

FINAL = "final.caffemodel"
RUN_JSON = "run.json"
TRAIN_LOG = "train.log"
TRAIN_VAL = "train_val.prototxt"
SOLVER = "solver.prototxt"
INIT = "init.caffemodel"
MEAN = "mean.binaryproto"
TRAIN_LMDB, VAL_LMDB = "train_lmdb", "val_lmdb"  # the run folder's links, as the Data layers read
FILES = "files.txt"  # a data set's images and labels, in Caffe's list format
IDXMAP = "idxmap.txt"  # a half's labels: "old new" per line
LMDB_DONE = "lmdb.done"
DESCRIPTION = "dataset.json"  # a user's own images, as their data step found them
OWN_RULES = "plan.mk"
PROTOTXT, SOLVERS = "prototxt", "solvers"


# --- the generated nets and solvers --------------------------------------------------------------
def generated_net(root: Path, dataset: str, net: Net) -> Path:
    """ROOT/prototxt/<dataset>/<group>/<net>.prototxt: the net's train_val as generated."""
    return Path(root) / PROTOTXT / dataset / net.group / f"{net.name}.prototxt"


def generated_solver(root: Path, dataset: str, net: Net) -> Path:
    return Path(root) / SOLVERS / dataset / net.group / f"{net.name}.prototxt"


# --- data ----------------------------------------------------------------------------------------
def data_root(data: Path, dataset: str) -> Path:
    return Path(data) / dataset


def set_folder(root: Path, name: str, part: str) -> Path:
    """ROOT/<name>_<part>, part = train or valid, ROOT = DATA/<dataset>."""
    return Path(root) / f"{name}_{part}"


def data_set(data: Path, dataset: str, name: str, part: str) -> Path:
    """DATA/<dataset>/<name>_<part>, part = train or valid."""
    return set_folder(data_root(data, dataset), name, part)


def file_list(root: Path, name: str, part: str) -> Path:
    """ROOT/<name>_<part>/files.txt, ROOT = DATA/<dataset>."""
    return set_folder(root, name, part) / FILES


def lmdb_stamp(root: Path, name: str, part: str) -> Path:
    """The file data.mk touches once ROOT/<name>_<part>/lmdb is complete."""
    return set_folder(root, name, part) / LMDB_DONE


def lmdb(data: Path, dataset: str, name: str, part: str) -> Path:
    return data_set(data, dataset, name, part) / "lmdb"


def description(data: Path, dataset: str) -> Path:
    """DATA/<dataset>/dataset.json: a user's own images, described (plan/own.py)."""
    return data_root(data, dataset) / DESCRIPTION


def own_rules(data: Path, dataset: str) -> Path:
    """DATA/<dataset>/plan.mk: the make rules of a user's own images (plan/makerules.py)."""
    return data_root(data, dataset) / OWN_RULES


def data_stamp(data: Path, dataset: str, name: str) -> Path:
    """The file data.mk touches once the set's LMDBs and mean are complete."""
    return data_root(data, dataset) / f"{name}.done"


def data_paths(data: Path, dataset: str, net: Net) -> dict[str, Path]:
    """What the run folder links to, by link name: the net's LMDBs and its mean."""
    return {
        TRAIN_LMDB: lmdb(data, dataset, net.train_set, "train"),
        VAL_LMDB: lmdb(data, dataset, net.valid_set, "valid"),
        MEAN: data_set(data, dataset, net.train_set, "train") / MEAN,
    }


def data_stamps(data: Path, dataset: str, net: Net) -> list[Path]:
    """The stamps of the data sets a run links to."""
    return [data_stamp(data, dataset, name) for name in dict.fromkeys((net.train_set,
                                                                        net.valid_set))]


# --- run folders ---------------------------------------------------------------------------------
# RUNS' own folders that hold no run folders: the factors grid's features (its default --work)
# and results, the estimators' results, the similarity's features and results, the figures,
# gpu-check's logs, a user's own images' published results; and RUNS/iters<k>/, the ITERS=k runs'
# own RUNS.
GRID_WORK = "factors-grid"
SIMILARITY_WORK = "similarity"
NOT_RUNS = (GRID_WORK, "factors-results", "estimators-results", SIMILARITY_WORK,
            "similarity-results", "figures", "gpu-check", "results")


def holds_no_runs(name: str) -> bool:
    """Whether RUNS/<name>/ is one of the project's folders that are not a dataset's runs."""
    return name in NOT_RUNS or name.startswith("iters")


def run_folder(runs: Path, dataset: str, group: str, name: str) -> Path:
    return Path(runs) / dataset / group / name


def run_dir(runs: Path, dataset: str, net: Net) -> Path:
    return run_folder(runs, dataset, net.group, net.name)


def final_model(runs: Path, dataset: str, net: Net) -> Path:
    return run_dir(runs, dataset, net) / FINAL


def started_text(settings: dict) -> str:
    """run.json's text."""
    return json.dumps(settings) + "\n"


def settings(dataset: str, key: str, iters: int | None) -> dict:
    """What run.json records: a run folder is never continued with other settings."""
    return {"dataset": dataset, "net": key, "iters": iters}


def settings_conflict(folder: Path, wanted: dict) -> str | None:
    """The one-line reason a run folder refuses `wanted`, or None."""
    stamp = Path(folder) / RUN_JSON
    before = json.loads(stamp.read_text()) if stamp.is_file() else None
    if before is None or before == wanted:
        return None
    return (f"{folder} was started with ITERS={before.get('iters')}, not ITERS="
            f"{wanted['iters']}; remove it or choose another RUNS")
