"""ILSVRC-2012's whole lists, and the paper's ImageNet datasets written as file lists."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from transferability.data.lists import (
    Entry,
    check_labels,
    md5_of,
    read_list,
    write_list,
)
from transferability.data.splits import first_per_class, half_classes, idxmap_text, select
from transferability.data.wordnet import WordNet, wnid_offset
from transferability.disk import write_text
from transferability.errors import UserError
from transferability.plan import REDUCED_PER_CLASS, REDUCED_SETS, layout

WNID = re.compile(r"n\d{8}")
VAL_NAME = re.compile(r"ILSVRC2012_val_(\d{8})\.JPEG")

# The paper's natural half: descendants of these synsets ...
NATURAL_ROOTS = ("organism.n.01", "natural_object.n.01", "geological_formation.n.01")
# ... plus classes 936-947 (the vegetables and the mushroom) and 958 (hay) of the 1000, by WNID.
EXTRA_NATURAL = (
    "n07714571", "n07714990", "n07715103", "n07716358", "n07716906", "n07717410",
    "n07717556", "n07718472", "n07718747", "n07720875", "n07730033", "n07734744",
    "n07802026",
)


def class_wnids(train: Sequence[Entry]) -> list[str]:
    """WNID of each label, from the train list's folder names (`n01440764/xxx.JPEG 0`)."""
    by_label: dict[int, str] = {}
    for n, (path, label) in enumerate(train, 1):
        wnid = path.split("/", 1)[0]
        if not WNID.fullmatch(wnid):
            raise UserError(f"train list line {n}: '{path}' is not under a WNID folder")
        if by_label.setdefault(label, wnid) != wnid:
            raise UserError(f"train list line {n}: label {label} is both {by_label[label]} "
                            f"and {wnid}")
    if sorted(by_label) != list(range(len(by_label))):
        raise UserError("train list: labels are not 0..N-1 with every class present")
    return [by_label[label] for label in range(len(by_label))]


def natural_classes(wnids: Sequence[str], wordnet: WordNet) -> list[int]:
    roots = {wordnet.synset(name) for name in NATURAL_ROOTS}
    natural = []
    for label, wnid in enumerate(wnids):
        offset = wnid_offset(wnid)
        if not wordnet.has(offset):
            raise UserError(f"class {label} ({wnid}) is not a WordNet 3.0 noun synset")
        if wnid in EXTRA_NATURAL or wordnet.ancestors(offset) & roots:
            natural.append(label)
    return natural


def write_splits(train_list: Path, val_list: Path, out: Path,
                 wordnet_root: Path) -> tuple[dict[str, Path], int]:
    """Every half (train + valid, with idxmap.txt) and every reduction (train).

    Returns the lists written, by dataset and part (`half0A_valid`), and the number of classes.
    """
    train, val = read_list(train_list), read_list(val_list)
    wnids = class_wnids(train)
    check_labels(val, len(wnids), f"'{val_list}'")
    natural = natural_classes(wnids, WordNet(wordnet_root))
    written: dict[str, Path] = {}
    for name, classes in half_classes(len(wnids), natural).items():
        for part, entries in (("train", train), ("valid", val)):
            folder = layout.set_folder(out, name, part)
            written[folder.name] = write_list(folder / layout.FILES, select(entries, classes))
            write_text(folder / layout.IDXMAP, idxmap_text(classes))
    for name, n in zip(REDUCED_SETS, REDUCED_PER_CLASS, strict=True):
        path = layout.file_list(out, name, "train")
        written[path.parent.name] = write_list(path, first_per_class(train, n))
    return written, len(wnids)


def checksum_report(lists: dict[str, Path],
                    published: dict[str, str]) -> list[tuple[str, str, bool | None]]:
    """(name, md5, matches the published md5 or None when none was published) per list."""
    report = []
    for name, path in sorted(lists.items()):
        md5 = md5_of(path)
        expected = published.get(name)
        report.append((name, md5, None if expected is None else md5 == expected))
    return report


# --- the whole lists --------------------------------------------------------------------------

IMAGE_SUFFIXES = (".jpeg", ".jpg")  # ILSVRC-2012's files are .JPEG (a few hold PNG or CMYK)


def is_image_name(name: str) -> bool:
    """An image file of the data set: not a hidden file (macOS's ._x.JPEG), an image suffix."""
    return not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)


def train_entries(train_dir: Path) -> list[Entry]:
    """`wnid/file label` for every file under train/<wnid>/, classes and files sorted."""
    wnids = sorted(e.name for e in os.scandir(train_dir) if e.is_dir() and WNID.fullmatch(e.name))
    if not wnids:
        raise UserError(f"no class folders in '{train_dir}' (expected train/<wnid>/*.JPEG)")
    entries = []
    for label, wnid in enumerate(wnids):
        names = sorted(e.name for e in os.scandir(train_dir / wnid)
                       if e.is_file() and is_image_name(e.name))
        entries += [(f"{wnid}/{name}", label) for name in names]
    return entries


def val_from_folders(val_dir: Path, wnids: Sequence[str]) -> list[Entry]:
    """val/<wnid>/*.JPEG (the layout some scripts make): labels from the folders."""
    label_of = {wnid: label for label, wnid in enumerate(wnids)}
    entries = []
    for wnid in sorted(e.name for e in os.scandir(val_dir) if e.is_dir()):
        if wnid not in label_of:
            raise UserError(f"'{val_dir / wnid}' is not a class of the train folder")
        entries += [(f"{wnid}/{e.name}", label_of[wnid])
                    for e in os.scandir(val_dir / wnid) if e.is_file() and is_image_name(e.name)]
    return sorted(entries, key=lambda entry: (entry[0].rsplit("/", 1)[-1], entry[0]))


def val_from_devkit(val_dir: Path, devkit: Path, wnids: Sequence[str]) -> list[Entry]:
    """val/*.JPEG labelled by the devkit's ground truth (ILSVRC2012_IDs) and meta.mat."""
    truth = _devkit_file(devkit, "ILSVRC2012_validation_ground_truth.txt")
    ids = [int(line) for line in truth.read_text().split()]
    wnid_of = _devkit_wnids(_devkit_file(devkit, "meta.mat"))
    label_of = {wnid: label for label, wnid in enumerate(wnids)}
    entries = []
    for name in sorted(os.listdir(val_dir)):
        match = VAL_NAME.fullmatch(name)
        if not match:
            continue
        number = int(match.group(1))
        if not 1 <= number <= len(ids):
            raise UserError(f"'{val_dir / name}' has no line in '{truth}'")
        wnid = wnid_of.get(ids[number - 1], "?")
        if wnid not in label_of:
            raise UserError(f"'{name}' is of class {wnid}, which the train folder lacks")
        entries.append((name, label_of[wnid]))
    return entries


def _devkit_file(devkit: Path, name: str) -> Path:
    for path in (devkit / "data" / name, devkit / name):
        if path.is_file():
            return path
    raise UserError(f"no {name} in devkit '{devkit}' (expected {devkit / 'data' / name}; with "
                    "make, LISTS_ARGS='--devkit DIR' names another devkit folder)")


def _devkit_wnids(meta: Path) -> dict[int, str]:
    from scipy.io import loadmat

    synsets = loadmat(str(meta), squeeze_me=True)["synsets"]
    return {int(s["ILSVRC2012_ID"]): str(s["WNID"]) for s in synsets}


ILSVRC2012_WNIDS = "ilsvrc2012_wnids.txt"  # the 1000 classes' WNIDs, sorted: label order


def ilsvrc2012_wnids() -> list[str]:
    return files("transferability.data").joinpath(ILSVRC2012_WNIDS).read_text().split()


def check_ilsvrc2012_classes(wnids: Sequence[str], train: str) -> None:
    """A user error unless the classes are exactly ILSVRC-2012's 1000 (ImageNet downsampled keeps
    the paper's classes and splits)."""
    expected = ilsvrc2012_wnids()
    extra = sorted(set(wnids) - set(expected))
    missing = sorted(set(expected) - set(wnids))
    if extra:
        more = f" (nor are {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise UserError(f"'{train}/{extra[0]}' is not one of ILSVRC-2012's 1000 classes{more}: "
                        f"move it out of {train}, which must hold the paper's classes only")
    if missing:
        named = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise UserError(f"'{train}' lacks {len(missing)} of ILSVRC-2012's 1000 class folders "
                        f"({named}): give the whole ILSVRC-2012 train folder")


def whole_lists(imagenet: Path, train_list: Path | None = None, val_list: Path | None = None,
                devkit: Path | None = None, ilsvrc2012: bool = False,
                ) -> tuple[list[Entry], list[Entry]]:
    """The whole train and validation lists; validation sorted by file name; with `ilsvrc2012`,
    a user error unless the classes are ILSVRC-2012's 1000.

    Train: Caffe's train.txt when given, else train/<wnid>/*. Validation labels, first found:
    Caffe's val.txt given; val/<wnid>/ folders; the devkit (given, or ILSVRC2012_devkit_t12/ in
    the ImageNet folder); val.txt in the ImageNet folder.
    """
    train_dir, val_dir = imagenet / "train", imagenet / "val"
    if train_list is None and not train_dir.is_dir() or val_list is None and not val_dir.is_dir():
        raise UserError(f"no ILSVRC-2012 at '{imagenet}' (expected train/<wnid>/*.JPEG and "
                        "val/*.JPEG in it)")
    train = read_list(train_list) if train_list else train_entries(train_dir)
    wnids = class_wnids(train)
    if ilsvrc2012:
        check_ilsvrc2012_classes(wnids, str(train_list or train_dir))
    val = _val_entries(imagenet, wnids, val_list, devkit)
    if not val:
        raise UserError(f"no validation images in '{val_dir}' (expected the 50,000 "
                        "ILSVRC2012_val_*.JPEG, or val/<wnid>/ folders)")
    return train, val


def _val_entries(imagenet: Path, wnids: Sequence[str], val_list: Path | None,
                 devkit: Path | None) -> list[Entry]:
    val_dir = imagenet / "val"
    devkit = devkit or _found(imagenet / "ILSVRC2012_devkit_t12")
    if val_list:
        return sorted(read_list(val_list))
    if _has_folders(val_dir):
        return val_from_folders(val_dir, wnids)
    if devkit:
        return val_from_devkit(val_dir, devkit, wnids)
    if (imagenet / "val.txt").is_file():
        return sorted(read_list(imagenet / "val.txt"))
    raise UserError(f"no validation labels for '{val_dir}': put the devkit at "
                    f"{imagenet / 'ILSVRC2012_devkit_t12'}/data/ (meta.mat and "
                    "ILSVRC2012_validation_ground_truth.txt), or with make pass "
                    "LISTS_ARGS='--devkit DIR' or LISTS_ARGS='--val-list val.txt' (Caffe's)")


def _found(path: Path) -> Path | None:
    return path if path.exists() else None


def _has_folders(folder: Path) -> bool:
    return folder.is_dir() and any(e.is_dir() and WNID.fullmatch(e.name)
                                   for e in os.scandir(folder))
