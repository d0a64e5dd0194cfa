"""A user's own images as a dataset of the plan: the description the data step writes, read back.

`make data DATASET=<name> IMAGES=/path` describes the folder once (data/own_images.py): its
classes, the images of each in training and validation, the image size and channels, each half's
classes, and the settings it was made with, in DATA/<name>/dataset.json. Here that description
becomes one Dataset record (plan/datasets.py), and make asks, before it reads anything else,
whether a name and the settings of a call fit it:

    python3 -m transferability.plan.own DATA NAME IMAGES=.. SIZE=.. HALVES=.. ...

prints the one line that refuses them, or nothing. Standard library only, as the whole plan.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

from transferability.errors import UserError
from transferability.plan import layout
from transferability.plan.datasets import DATASETS, Dataset, Images, dataset, known, register

# What a description records of the call that made it; a later call may repeat them, not change
# them (a changed ITERS is refused the same way). IMAGES and HALVES are compared as real paths.
SETTINGS = ("IMAGES", "SIZE", "HALVES", "SHUFFLE", "WIDTH", "EPOCHS")
PATHS = ("IMAGES", "HALVES")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
DIGITS = "digits"  # DATA/digits: the factors grid's far target


def name_error(name: str) -> str | None:
    """Why `name` cannot name a user's dataset, or None."""
    if not NAME.fullmatch(name):
        return (f"DATASET='{name}' cannot name a folder of DATA and RUNS: use letters, digits, "
                "'.', '_' and '-', starting with a letter or digit")
    if name.lower() in DATASETS:
        return (f"DATASET={name} is a built-in dataset: give your images a name of your own "
                "(DATASET=<name> IMAGES=/path)")
    if name == DIGITS or layout.holds_no_runs(name):
        return f"DATASET={name} is a name the project uses for a folder of its own: choose another"
    return None


def read(data: Path, name: str) -> dict | None:
    """The description of DATA/<name>, or None when there is none."""
    path = layout.description(data, name)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{path} cannot be read ({err}); remove {path.parent} and make its data "
                        "again") from None


def record(description: dict) -> Dataset:
    """The Dataset record of a description."""
    d, settings = description, description["settings"]
    halves = {name: tuple(classes) for name, classes in d["halves"].items()}
    images = Images(
        root=settings["IMAGES"], halves_file=settings["HALVES"],
        class_names=tuple(d["classes"]), train=tuple(d["train"]), valid=tuple(d["valid"]),
        halves=tuple(halves.items()), width=float(settings["WIDTH"]),
        epochs=float(settings["EPOCHS"]),
        statements=tuple((what, how) for what, how in d["statements"]))
    natman = (len(halves.get("halfnatmanA", ())), len(halves.get("halfnatmanB", ())))
    return Dataset(
        name=d["name"], classes=len(images.class_names), natman=natman, natman_names=None,
        image=d["size"], crop=d["size"], channels=d["channels"],
        train_images_per_half=sum(images.train) // 2, val_per_class=None, profile="images",
        schedules="images", images=images, epochs=images.epochs)


def load(data: Path, name: str) -> Dataset:
    """The record of DATASET=name: a built-in one, or the user's own from DATA/<name>/, now
    registered with the plan."""
    description = None if name in known() or name_error(name) else read(data, name)
    if description is None:
        return dataset(name)  # a built-in one, or the user error of an unknown name
    return register(record(description))


def _same(name: str, given: str, recorded: str) -> bool:
    if name in PATHS:
        return bool(given) == bool(recorded) and (
            not given or os.path.realpath(given) == os.path.realpath(recorded))
    try:
        return float(given) == float(recorded)
    except ValueError:
        return given == recorded


def settings_error(data: Path, name: str, given: dict[str, str]) -> str | None:
    """The one line that refuses a make call for DATASET=name with the settings `given` (empty:
    not given), or None."""
    if why := name_error(name):
        return why
    description = read(data, name)
    images = given.get("IMAGES", "")
    if description is None:
        if not images:
            try:
                dataset(name)
            except UserError as err:
                return str(err)
        if not os.path.isdir(images):
            return (f"no folder at IMAGES={images}: give the folder that holds one folder of "
                    "images per class")
        return None
    recorded = description["settings"]
    for key in SETTINGS:
        value = given.get(key, "")
        if value and not _same(key, value, recorded[key]):
            was = recorded[key] or "none"
            return (f"{layout.data_root(data, name)} was made with {key}={was}, not {key}="
                    f"{value}; remove it (and its runs) or give these images another DATASET name")
    return None


def folders(root: str, halves: str = "") -> str:
    """A fingerprint of IMAGES' class folders (the times of root/, root/*/, root/train/*/ and
    root/val/*/: a file added or removed changes its folder's) and of the HALVES file. The
    description records it; make describes the images again when it differs, so that no image
    path need ever be a word of a make rule."""
    stamps = []
    for top in ("", "train", "val"):
        try:
            entries = [e for e in os.scandir(os.path.join(root, top)) if e.is_dir()]
        except OSError:
            continue
        stamps += [(os.path.join(top, e.name), e.stat().st_mtime_ns) for e in entries]
    for path in (root, halves):
        try:
            info = os.stat(path) if path else None
        except OSError:
            info = None
        stamps.append((path, (info.st_mtime_ns, info.st_size) if info else None))
    return hashlib.sha256(repr(sorted(stamps, key=str)).encode()).hexdigest()


def stale(data: Path, name: str) -> bool:
    """Whether DATA/<name>'s images changed (by their folders) since they were described."""
    description = read(data, name)
    if description is None:
        return False
    settings = description["settings"]
    return description.get("folders") != folders(settings["IMAGES"], settings["HALVES"])


def main(argv: list[str]) -> int:
    """Print the line that refuses the call; else `stale` when the images must be described
    again; else nothing."""
    data, name, *pairs = argv
    given = dict(pair.split("=", 1) for pair in pairs)
    try:
        line = settings_error(Path(data), name, given)
        if not line and stale(Path(data), name):
            line = "stale"
    except UserError as err:
        line = str(err)
    if line:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
