"""A user's own images through `make data DATASET=<name> IMAGES=..`: the description, the records
(Fashion-MNIST as PNG class folders gives the built-in LMDBs' records), and every bad input as one
line with nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import lmdb_items
from tests.own_images import make, own_lines, write_colour_folders
from tests.test_data_fashion_mnist import write_idx, write_small_fashion_mnist
from transferability import plan
from transferability.caffe_io import decode_datum
from transferability.data import fashion_mnist as fm
from transferability.nets import caffenet, generate, solver
from transferability.plan import own

FM_NAMES = ("tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
            "boot")
# Per class: training images (300 a half, 5 classes) and validation images (500 a half, a test of
# 5 batches of 100 on both paths); EPOCHS then makes the schedule Fashion-MNIST's 7500 iterations.
FM_TRAIN, FM_VALID = 60, 100
FM_EPOCHS = 7500 * 64 / (FM_TRAIN * 10 // 2)


def _first_per_class(images: np.ndarray, labels: np.ndarray, k: int):
    keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:k] for c in range(10)]))
    return images[keep], labels[keep]


def write_fm_subset(root: Path) -> Path:
    """The first FM_TRAIN training and FM_VALID test images of each class of Debian's
    Fashion-MNIST (or of a small generated one where it is not installed), as IDX files."""
    source = fm.DEFAULT_ROOT
    if not (source / "train-labels-idx1-ubyte.gz").exists():
        source = write_small_fashion_mnist(root / "generated", 10 * FM_TRAIN, 10 * FM_VALID)
    data = fm.load(source)
    out = root / "idx"
    out.mkdir(parents=True)
    for (images_name, labels_name), part, k in zip(fm.IDX_FILES.values(), ("train", "valid"),
                                                   (FM_TRAIN, FM_VALID), strict=True):
        images, labels = _first_per_class(*data[part], k)
        write_idx(out / images_name, images)
        write_idx(out / labels_name, labels)
    return out


def write_fm_folders(idx: Path, root: Path) -> Path:
    """The IDX files as IMAGES/train/<k>-<name>/<index>.png and IMAGES/val/..: file names in
    the IDX order."""
    data = fm.load(idx)
    for part, folder in (("train", "train"), ("valid", "val")):
        for i, (image, label) in enumerate(zip(*data[part], strict=True)):
            path = root / folder / f"{label}-{FM_NAMES[label]}" / f"{i:05d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(path)
    return root


@pytest.fixture(scope="module")
def fm_both(tmp_path_factory) -> Path:
    """DATA with Fashion-MNIST's subset built in (make data) and as fm-folder: its PNG
    class folders through make, with natman's clothing as the HALVES file, the file names' order
    (SHUFFLE=0) and the epochs that give the built-in schedule."""
    root = tmp_path_factory.mktemp("fm-folder")
    idx = write_fm_subset(root)
    make("data", "DATASET=fashion-mnist", f"FASHION_MNIST={idx}", f"DATA={root / 'data'}")
    images = write_fm_folders(idx, root / "images")
    halves = root / "clothing.txt"
    halves.write_text("".join(f"{c}-{FM_NAMES[c]}\n" for c in fm.CLOTHING))
    sets = [root / "data/fm-folder" / f"{name}.done"
            for name in ("whole", "half0A", "halfnatmanB", "reduced0005")]
    make(*map(str, sets), "DATASET=fm-folder", f"IMAGES={images}", f"HALVES={halves}",
         "SHUFFLE=0", f"EPOCHS={FM_EPOCHS:g}", f"DATA={root / 'data'}")
    return root / "data"


@pytest.mark.parametrize("name, parts", [("whole", ("train", "valid")),
                                         ("half0A", ("train", "valid")),
                                         ("halfnatmanB", ("train", "valid")),
                                         ("reduced0005", ("train",))])
def test_fashion_mnist_as_class_folders_gives_the_built_in_records(fm_both: Path, name: str,
                                                                   parts: tuple[str, ...]) -> None:
    for part in parts:
        built_in = fm_both / "fashion-mnist" / f"{name}_{part}"
        folders = fm_both / "fm-folder" / f"{name}_{part}"
        # keys differ (convert_imageset's %08d_<path> against %08d), the Datum do not
        assert [v for _, v in lmdb_items(folders / "lmdb")] == [
            v for _, v in lmdb_items(built_in / "lmdb")], f"{name}_{part}"
        for file in ("mean.binaryproto", "idxmap.txt"):
            assert (folders / file).is_file() == (built_in / file).is_file(), file
            if (built_in / file).is_file():
                assert (folders / file).read_bytes() == (built_in / file).read_bytes(), file


def test_fashion_mnist_as_class_folders_gets_the_scaled_profile_and_schedule(fm_both) -> None:
    record = own.load(fm_both, "fm-folder")
    assert (record.classes, record.image, record.channels, record.natman) == (10, 28, 1, (6, 4))
    fitted = caffenet.profile_of("fm-folder")
    assert (fitted.convs, fitted.fc, fitted.pool_after) == (
        caffenet.SCALED.convs, caffenet.SCALED.fc, caffenet.SCALED.pool_after)
    assert solver.schedules("fm-folder") == solver.schedules("fashion-mnist")
    base_a = plan.find("split0/baseA")
    assert generate.profile("fm-folder", base_a).val_batch == 100  # 500 images: 5 batches


def _images(tmp_path: Path, counts=(6, 5, 7, 5)) -> Path:
    return write_colour_folders(tmp_path / "images", counts)


def test_a_description_says_what_it_chose(tmp_path: Path) -> None:
    images = _images(tmp_path, (9, 6, 11, 5))
    (images / "c0" / "notes.txt").write_text("not an image")
    make(str(tmp_path / "data/colours/whole.done"), "DATASET=colours", f"IMAGES={images}",
         f"DATA={tmp_path / 'data'}")
    described = json.loads((tmp_path / "data/colours/dataset.json").read_text())
    assert described["classes"] == ["c0", "c1", "c2", "c3"]
    assert described["valid"] == [1, 1, 2, 1] and described["train"] == [8, 5, 9, 4]
    assert (described["size"], described["channels"]) == (16, 3)
    assert sorted(described["halves"]) == sorted(f"half{s}{h}" for s in "0123" for h in "AB")
    said = dict(described["statements"])
    assert said["images"].endswith("; files or folders that are no images, skipped: 1")
    assert said["channels"].startswith("3: 1 greyscale and 30 colour images")
    assert said["halves"].endswith("no natman nets (no HALVES file naming the classes of half A)")
    assert said["reduced sets"] == ("1 to 2 images a class (its smallest class has 4 training "
                                    "images)")
    first = lmdb_items(tmp_path / "data/colours/whole_train/lmdb")
    datums = [decode_datum(v) for _, v in first]
    assert {(d.channels, d.height, d.width) for d in datums} == {(3, 16, 16)}
    assert len(datums) == 26 and sorted({d.label for d in datums}) == [0, 1, 2, 3]
    rules = (tmp_path / "data/colours/plan.mk").read_text().splitlines()
    assert "OWN_DATA_HALVES := " + " ".join(f"half{s}{h}" for s in "0123" for h in "AB") in rules
    assert "OWN_DATA_REDUCED := reduced0001 reduced0002" in rules
    assert "OWN_SPLITS := 0 1 2 3" in rules  # no natman


def _refused(tmp_path: Path, line: str, *args: str, data: Path | None = None) -> None:
    """`make data DATASET=colours ARGS` stops with exit 2 and the one line, writing nothing."""
    data = data or tmp_path / "data"
    before = sorted(p for p in tmp_path.rglob("*"))
    proc = make("data", "DATASET=colours", f"DATA={data}", *args, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = own_lines(proc.stderr)
    assert len(lines) == 1 and lines[0].endswith(line), proc.stderr
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_no_class_folders(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    _refused(tmp_path, f"no class folders in IMAGES={tmp_path / 'empty'}: expected "
             f"{tmp_path / 'empty'}/<class>/*.jpg (or train/<class>/ and val/<class>/), one "
             "folder per class", f"IMAGES={tmp_path / 'empty'}")


def test_fewer_than_four_classes(tmp_path: Path) -> None:
    images = _images(tmp_path, (5, 5, 5))
    _refused(tmp_path, f"IMAGES={images} has 3 class folders (c0, c1, c2); the paper's halves "
             "need at least 4 classes, 2 a half", f"IMAGES={images}")


def test_a_class_without_images(tmp_path: Path) -> None:
    images = _images(tmp_path)
    for path in (images / "c2").iterdir():
        path.unlink()
    _refused(tmp_path, f"class 'c2' has no images (.jpg, .jpeg, .png, .bmp, .webp) in "
             f"{images / 'c2'}", f"IMAGES={images}")


def test_a_class_too_small_to_hold_images_out(tmp_path: Path) -> None:
    images = _images(tmp_path, (6, 5, 3, 5))
    _refused(tmp_path, "class 'c2' has 3 images; holding out one in 5 for validation needs at "
             "least 5 (add images, or give train/ and val/ folders)", f"IMAGES={images}")


@pytest.mark.parametrize("damage, why", [
    (lambda path: path.write_bytes(b"no image in here"),
     "not an image Pillow can read (UnidentifiedImageError)"),
    (lambda path: path.write_bytes(path.read_bytes()[:-40]), "truncated PNG (no IEND chunk)"),
])
def test_an_unreadable_image_stops_or_is_left_out(tmp_path: Path, damage, why: str) -> None:
    images = _images(tmp_path, (6, 6, 6, 6))
    bad = images / "c3" / "img001.png"
    damage(bad)
    _refused(tmp_path, f"cannot read image '{bad}': {why}; pass SKIP_BAD_IMAGES=1 to leave such "
             "images out", f"IMAGES={images}")
    make(str(tmp_path / "data/colours/dataset.json"), "DATASET=colours",
         f"DATA={tmp_path / 'data'}", f"IMAGES={images}", "SKIP_BAD_IMAGES=1")
    described = json.loads((tmp_path / "data/colours/dataset.json").read_text())
    assert dict(described["statements"])["images"].endswith(
        "; unreadable images, left out (SKIP_BAD_IMAGES=1): 1")
    assert "c3/img001.png" not in (tmp_path / "data/colours/whole_train/files.txt").read_text()


def test_a_halves_file_naming_unknown_classes(tmp_path: Path) -> None:
    images = _images(tmp_path)
    halves = tmp_path / "halves.txt"
    halves.write_text("c0\nc9\n")
    _refused(tmp_path, f"HALVES file {halves} line 2: 'c9' is no class of IMAGES (its classes: "
             "c0, c1, c2, c3)", f"IMAGES={images}", f"HALVES={halves}")


def test_a_name_that_is_a_built_in_dataset(tmp_path: Path) -> None:
    images = _images(tmp_path)
    proc = make("data", "DATASET=fashion-mnist", f"IMAGES={images}",
                f"DATA={tmp_path / 'data'}", check=False)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1].endswith(
        "*** DATASET=fashion-mnist is a built-in dataset: give your images a name of your own "
        "(DATASET=<name> IMAGES=/path).  Stop.") and len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "data").exists()


def test_images_changed_under_a_name_are_refused(tmp_path: Path) -> None:
    images = _images(tmp_path)
    data = tmp_path / "data"
    make(str(data / "colours/dataset.json"), "DATASET=colours", f"IMAGES={images}",
         f"DATA={data}")
    other = tmp_path / "other"
    shutil.copytree(images, other)
    _refused(tmp_path, f"{data / 'colours'} was made with IMAGES={images}, not IMAGES={other}; "
             "remove it (and its runs) or give these images another DATASET name.  Stop.",
             f"IMAGES={other}")
    _refused(tmp_path, f"{data / 'colours'} was made with SIZE=16, not SIZE=24; remove it (and "
             "its runs) or give these images another DATASET name.  Stop.", "SIZE=24")
    shutil.copy(images / "c0" / "img000.jpg", images / "c0" / "img100.jpg")
    _refused(tmp_path, f"IMAGES={images} changed since {data / 'colours'} was made from it (23 "
             "images then, 24 now): put them back as they were, or give them another DATASET "
             "name (or remove that folder and its runs)")


def _record(side: int, channels: int = 3):
    """A user's dataset of that image side, as a description would give it."""
    return own.record({
        "name": f"side{side}", "classes": ["a", "b", "c", "d"], "train": [10] * 4,
        "valid": [3] * 4, "size": side, "channels": channels, "halves": {}, "statements": [],
        "settings": {"IMAGES": "/x", "HALVES": "", "WIDTH": "1", "EPOCHS": "16"}})


def test_the_fitted_profile_keeps_every_map() -> None:
    """From the smallest SIZE to the largest, conv1 keeps SCALED's kernel for its stride and no
    map goes to zero: a pool only where its input holds its kernel."""
    for side in range(8, 513):
        fitted = caffenet.for_images(_record(side))
        assert fitted.convs[0].kernel == 2 * fitted.convs[0].stride + 1
        maps = side
        for i, c in enumerate(fitted.convs, 1):
            maps = (maps + 2 * c.pad - c.kernel) // c.stride + 1
            assert maps >= 1, (side, i)
            if i in fitted.pool_after:
                assert maps >= caffenet.POOL, (side, i)
                maps = -(-(maps - caffenet.POOL) // 2) + 1
    assert caffenet.for_images(_record(64)).pool_after == (1, 2)  # 11, 5 and 2 wide: no pool5
