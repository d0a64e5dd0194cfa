"""A user's own images as the paper's datasets: the folder read once, checked, and described.

IMAGES holds one folder per class (`IMAGES/<class>/*.jpg`), or `IMAGES/train/<class>/` and
`IMAGES/val/<class>/`; images are .jpg, .jpeg, .png, .bmp or .webp in any case, other files are
skipped and counted. Labels are the class folders in sorted order. Without val/, one image in
HOLD_OUT of each class is held out for validation, drawn by numpy's RandomState seeded with
[SEED, label] (the same draw on every machine). The training images are in the order of their
file names (the class folder breaking ties), shuffled by RandomState([SEED]) unless SHUFFLE=0;
the validation images in the order of their file names. The halves are the paper's (data/splits.py)
and, with a HALVES file naming the classes of half A, a dissimilar split in the role of natural
/ man-made; the reduced sets go up to what the smallest class has.

Every check comes before anything is written; then the lists (Caffe's format, each rewritten only
when it changed) and, last, the description DATA/<name>/dataset.json (plan/own.py reads it).
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from transferability.data.lists import Entry, format_list
from transferability.data.lmdb_build import cut_short, ordered_map
from transferability.data.splits import first_per_class, half_classes, idxmap_text, select
from transferability.disk import write_text
from transferability.errors import UserError
from transferability.plan import REDUCED_PER_CLASS, layout, reduced_name
from transferability.plan.own import folders, read

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
HOLD_OUT = 5  # one image in five of each class, without val/
SEED = 0
SIZES = (8, 512)  # SIZE's range: 8 leaves conv1 a map the pooling layers can take
DEFAULT_SIZE_CAP = 64  # a default SIZE no larger: the scaled net's maps are about 12 wide anyway
DEFAULT_EPOCHS = 16  # Fashion-MNIST's: 3 lr steps of 5.3 epochs (nets/solver.py)
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
SKIP_HINT = "pass SKIP_BAD_IMAGES=1 to leave such images out"


@dataclass(frozen=True)
class Settings:
    """What make passes (empty: not given; a description already there fills them in)."""

    images: str
    size: str = ""
    halves: str = ""
    shuffle: str = ""
    width: str = ""
    epochs: str = ""
    skip_bad: str = ""

    def recorded(self) -> dict[str, str]:
        """As the description keeps them, to read the folder again with the same ones."""
        halves = os.path.realpath(self.halves) if self.halves else ""
        return {"SIZE": self.size, "HALVES": halves, "SHUFFLE": self.shuffle,
                "WIDTH": self.width, "EPOCHS": self.epochs, "SKIP_BAD_IMAGES": self.skip_bad}


@dataclass
class Folder:
    """The class folders found under IMAGES, each class's image paths relative to IMAGES."""

    root: Path
    top: str  # "train/" or ""
    classes: list[str]
    train: list[list[str]]
    valid: list[list[str]] | None  # None without val/
    not_images: int


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def _class_folders(folder: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))


def _one_line(root: Path, names: list[str]) -> list[str]:
    """names; one with a line break stops here: Caffe's lists hold a path a line."""
    for name in names:
        if "\n" in name or "\r" in name:
            raise UserError(f"{name!r} in IMAGES={root} has a line break in its name, which "
                            "Caffe's image lists cannot hold: rename it")
    return names


def _images_of(root: Path, prefix: str) -> tuple[list[str], int]:
    """The images directly in root/prefix (relative to root, by name), and how many entries are
    not images."""
    names = _one_line(root, sorted(e.name for e in os.scandir(root / prefix)))
    images = [f"{prefix}/{n}" for n in names if _is_image(n) and (root / prefix / n).is_file()]
    return images, len(names) - len(images)


def scan(root: Path) -> Folder:
    """The class folders of IMAGES (one user error for a layout it cannot use)."""
    if not root.is_dir():
        raise UserError(f"no folder at IMAGES={root}: give the folder that holds one folder of "
                        "images per class")
    split = (root / "train").is_dir()
    top = "train/" if split else ""
    classes = _one_line(root, _class_folders(root / top))
    if not classes:
        raise UserError(f"no class folders in IMAGES={root}: expected {root}/<class>/*.jpg (or "
                        f"train/<class>/ and val/<class>/), one folder per class")
    train, skipped = [], 0
    for name in classes:
        images, others = _images_of(root, top + name)
        train.append(images)
        skipped += others
    valid = None
    if split and (root / "val").is_dir():
        extra = sorted(set(_class_folders(root / "val")) - set(classes))
        if extra:
            raise UserError(f"val/{extra[0]} in IMAGES={root} is no class of train/: val/ "
                            "must hold the same class folders as train/")
        valid = []
        for name in classes:
            images, others = (_images_of(root, f"val/{name}") if (root / "val" / name).is_dir()
                              else ([], 0))
            valid.append(images)
            skipped += others
    return Folder(root, top, classes, train, valid, skipped)


def inspect(path: Path) -> tuple[int, int, bool] | str:
    """(width, height, greyscale) from an image's header, or why it cannot be used."""
    try:
        if problem := cut_short(str(path)):
            return problem
        with Image.open(path) as image:
            width, height = image.size
            return width, height, image.mode in GREY_MODES
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        return f"not an image Pillow can read ({err.__class__.__name__})"


def _checked(folder: Folder, skip_bad: bool, workers: int
             ) -> tuple[dict[str, tuple[int, int, bool]], list[tuple[str, str]]]:
    """Every image's header; the bad ones stop here unless skip_bad, when they are left out."""
    paths = [p for images in folder.train + (folder.valid or []) for p in images]
    found = ordered_map(lambda p: inspect(folder.root / p), paths, workers)
    good, bad = {}, []
    for path, value in zip(paths, found, strict=True):
        if isinstance(value, str):
            if not skip_bad:
                raise UserError(f"cannot read image '{folder.root / path}': {value}; {SKIP_HINT}")
            bad.append((path, value))
        else:
            good[path] = value
    return good, bad


def _check_counts(folder: Folder, train: list[list[str]], valid: list[list[str]] | None) -> None:
    """At least 4 classes (halves of 2), and images enough in each for its validation share."""
    n = len(folder.classes)
    if n < 4:
        raise UserError(f"IMAGES={folder.root} has {n} class folder{'s' if n > 1 else ''} "
                        f"({', '.join(folder.classes)}); the paper's halves need at least 4 "
                        "classes, 2 a half")
    for name, images in zip(folder.classes, train, strict=True):
        if not images:
            raise UserError(f"class '{name}' has no images ({', '.join(IMAGE_SUFFIXES)}) in "
                            f"{folder.root / folder.top / name}")
        if valid is None and len(images) < HOLD_OUT:
            raise UserError(f"class '{name}' has {len(images)} images; holding out one in "
                            f"{HOLD_OUT} for validation needs at least {HOLD_OUT} (add images, or "
                            "give train/ and val/ folders)")
    for name, images in zip(folder.classes, valid or [], strict=False):
        if not images:
            raise UserError(f"class '{name}' has no validation images in "
                            f"{folder.root / 'val' / name}")


def held_out(images: Sequence[str], label: int) -> tuple[list[str], list[str]]:
    """One image in HOLD_OUT of a class for validation, by a draw seeded with [SEED, label]."""
    count = len(images) // HOLD_OUT
    picked = set(np.random.RandomState([SEED, label]).choice(len(images), count, replace=False))
    return ([p for i, p in enumerate(images) if i not in picked],
            [p for i, p in enumerate(images) if i in picked])


def _by_name(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (e[0].rsplit("/", 1)[-1], e[0]))


def _entries(per_class: list[list[str]]) -> list[Entry]:
    return _by_name([(p, label) for label, images in enumerate(per_class) for p in images])


def read_halves(path: Path, classes: Sequence[str]) -> list[int]:
    """The labels of half A that a HALVES file names, one class folder a line as it is named
    ('#' starts a comment on a line that names no class)."""
    if not path.is_file():
        raise UserError(f"no HALVES file at {path}: give a file naming the classes of half A, "
                        "one a line")
    label = {name: i for i, name in enumerate(classes)}
    half = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        name = line if line in label else line.strip()
        if name not in label:  # a comment, or a class name with '#' in it
            name = line.split("#", 1)[0].strip()
        if name and name not in label:
            raise UserError(f"HALVES file {path} line {n}: '{name}' is no class of IMAGES (its "
                            f"classes: {', '.join(classes)})")
        if name:
            half.append(label[name])
    half = sorted(set(half))
    if min(len(half), len(classes) - len(half)) < 2:
        raise UserError(f"HALVES file {path} names {len(half)} of the {len(classes)} classes for "
                        "half A: each half needs at least 2")
    return half


def _number(text: str, name: str, default: float) -> float:
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 1e6:
        raise UserError(f"{name} must be a positive number, not '{text}'")
    return value


def _size(text: str, shorter: list[int]) -> tuple[int, str]:
    if text:
        if not text.isdigit() or not SIZES[0] <= int(text) <= SIZES[1]:
            raise UserError(f"SIZE must be an integer from {SIZES[0]} to {SIZES[1]}, not '{text}'")
        return int(text), "SIZE as given"
    median = int(statistics.median(shorter))
    size = max(SIZES[0], min(DEFAULT_SIZE_CAP, median))
    return size, (f"the median shorter side of the images ({median} px), at least {SIZES[0]} and "
                  f"at most {DEFAULT_SIZE_CAP} (SIZE= to choose)")


@dataclass(frozen=True)
class Described:
    """The lists and the description of a user's images."""

    lists: dict[Path, str]  # relative to DATA/<name>: files.txt and idxmap.txt texts
    description: dict


def describe(name: str, given: Settings, workers: int = 2) -> Described:
    """Read IMAGES (its headers only) and make every list and the description; writes nothing."""
    root = Path(os.path.realpath(given.images))
    halves_file = os.path.realpath(given.halves) if given.halves else ""
    seen = folders(str(root), halves_file)  # before the read: a change during it is seen next time
    folder = scan(root)
    headers, bad = _checked(folder, given.skip_bad == "1", workers)
    train = [[p for p in images if p in headers] for images in folder.train]
    valid = None if folder.valid is None else [[p for p in images if p in headers]
                                                for images in folder.valid]
    _check_counts(folder, train, valid)
    if valid is None:
        drawn = [held_out(images, label) for label, images in enumerate(train)]
        train, valid = [kept for kept, _ in drawn], [out for _, out in drawn]
        how_valid = (f"one image in {HOLD_OUT} of each class, drawn by numpy's RandomState "
                     f"seeded [{SEED}, label] (the same on every machine)")
    else:
        how_valid = "the images of val/"
    shuffle = given.shuffle or "1"
    if shuffle not in ("0", "1"):
        raise UserError(f"SHUFFLE must be 1 (the default) or 0, not '{shuffle}'")
    train_list, valid_list = _entries(train), _entries(valid)
    if shuffle == "1":
        order = np.random.RandomState([SEED]).permutation(len(train_list))
        train_list = [train_list[i] for i in order]
    size, how_size = _size(given.size, [min(w, h) for w, h, _ in headers.values()])
    grey = sum(g for _, _, g in headers.values())
    channels = 1 if grey > len(headers) - grey else 3
    natural = read_halves(Path(given.halves), folder.classes) if given.halves else []
    halves = {k: v for k, v in half_classes(len(folder.classes), natural).items()
              if natural or "natman" not in k}
    smallest = min(len(images) for images in train)
    per_class = [k for k in REDUCED_PER_CLASS if k <= smallest]
    lists = _lists(train_list, valid_list, halves, per_class)
    width = _number(given.width, "WIDTH", 1.0)
    epochs = _number(given.epochs, "EPOCHS", DEFAULT_EPOCHS)
    statements = [
        ("images", f"{root}: {len(folder.classes)} classes, {len(train_list)} training and "
                   f"{len(valid_list)} validation images"
                   + (f"; files or folders that are no images, skipped: {folder.not_images}"
                      if folder.not_images else "")
                   + (f"; unreadable images, left out (SKIP_BAD_IMAGES=1): {len(bad)}"
                      if bad else "")),
        ("validation", how_valid),
        ("image size", f"{size} x {size}, resized as convert_imageset does (OpenCV, bilinear): "
                       f"{how_size}"),
        ("channels", f"{channels}: {grey} greyscale and {len(headers) - grey} colour images, "
                     "stored as the majority's, converted as convert_imageset"
                     f"{' --gray' if channels == 1 else ''} does"),
        ("training order", "by file name, shuffled by numpy's RandomState([0])" if shuffle == "1"
         else "by file name (SHUFFLE=0)"),
        ("halves", "the paper's random halves (splits 0-3)" + (
            f"; natman: half A the {len(natural)} classes of {given.halves}" if natural else
            "; no natman nets (no HALVES file naming the classes of half A)")),
        ("reduced sets", f"{per_class[0]} to {per_class[-1]} images a class (its smallest class "
                         f"has {smallest} training images)"),
    ]
    settings = {"IMAGES": str(root), "SIZE": str(size), "HALVES": halves_file,
                "SHUFFLE": shuffle, "WIDTH": f"{width:g}", "EPOCHS": f"{epochs:g}"}
    description = {
        "name": name, "settings": settings, "given": given.recorded(), "classes": folder.classes,
        "train": [len(images) for images in train], "valid": [len(images) for images in valid],
        "size": size, "channels": channels, "halves": halves, "statements": statements,
        "fingerprint": _fingerprint(lists, size, channels), "folders": seen,
    }
    return Described(lists, description)


def _lists(train: list[Entry], valid: list[Entry], halves: dict[str, list[int]],
           per_class: list[int]) -> dict[Path, str]:
    lists = {layout.file_list(Path(), "whole", "train"): format_list(train),
             layout.file_list(Path(), "whole", "valid"): format_list(valid)}
    for name, classes in halves.items():
        for part, entries in (("train", train), ("valid", valid)):
            lists[layout.file_list(Path(), name, part)] = format_list(select(entries, classes))
            lists[layout.set_folder(Path(), name, part) / layout.IDXMAP] = idxmap_text(classes)
    for k in per_class:
        lists[layout.file_list(Path(), reduced_name(k), "train")] = format_list(
            first_per_class(train, k))
    return lists


def _fingerprint(lists: dict[Path, str], size: int, channels: int) -> str:
    digest = hashlib.sha256(f"{size} {channels}\n".encode())
    for path in sorted(lists):
        digest.update(f"{path}\n{lists[path]}".encode())
    return digest.hexdigest()


def write(out: Path, name: str, described: Described) -> list[str]:
    """The lists (only those that changed) and the description; a description already there
    that was made from other images refuses them, as a changed ITERS is refused (the settings
    were checked before, plan/own.py)."""
    before = read(out.parent, name)
    new = described.description
    if before is not None and before.get("fingerprint") != new["fingerprint"]:
        was, now = sum(before["train"]) + sum(before["valid"]), sum(new["train"]) + sum(
            new["valid"])
        raise UserError(f"IMAGES={new['settings']['IMAGES']} changed since {out} was made from "
                        f"it ({was} images then, {now} now): put them back as they were, or give "
                        "them another DATASET name (or remove that folder and its runs)")
    changed = []
    for path, text in described.lists.items():
        target = out / path
        if not (target.is_file() and target.read_text() == text):
            write_text(target, text)
            changed.append(str(path))
    text = json.dumps(new, indent=1) + "\n"
    target = layout.description(out.parent, name)
    if target.is_file() and target.read_text() == text:
        target.touch()  # read again, unchanged: up to date for make
    else:
        write_text(target, text)
    return changed
