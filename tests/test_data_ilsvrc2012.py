"""The ImageNet data path on a fake ILSVRC-2012 in the real layout: what a real user's copy holds.

The 1000-class fake (conftest.fake_ilsvrc) has the devkit's labels in another order than sorted
WNIDs, greyscale, CMYK and PNG-named-.JPEG images and a macOS `._` twin; the make tests use a
six-class copy of the same layout, small enough to build every LMDB in seconds.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import lmdb_items, run_caffe_tool, run_data_prep
from tests.fake_imagenet import write_fake_ilsvrc2012
from tests.test_data_lmdb import _datum_fields
from tests.test_data_make import make  # noqa: F401  (the scratch-Makefile fixture)
from transferability.bench.data import largest_difference
from transferability.data import lmdb_io
from transferability.data.lists import read_list, write_list
from transferability.data.lmdb_build import SKIP_HINT
from transferability.data.wordnet import DEFAULT_ROOT
from transferability.plan import DATA_SETS

needs_wordnet = pytest.mark.skipif(not (DEFAULT_ROOT / "data.noun").is_file(),
                                   reason="WordNet 3.0 is not in /usr/share/wordnet")
# Fish, cat, cabbage, cliff (natural); a chain-link fence, a racing car (man-made).
SIX = ["n01440764", "n02123045", "n03000134", "n04037443", "n07714571", "n09246464"]


def test_lists_of_the_fake_follow_sorted_wnids(fake_ilsvrc, tmp_path: Path) -> None:
    root, truth = fake_ilsvrc
    proc = run_data_prep("make_lists.py", root, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    val = read_list(tmp_path / "whole_valid/files.txt")
    assert val == sorted(truth.items())  # the devkit's shuffled IDs mapped to sorted WNIDs
    train = read_list(tmp_path / "whole_train/files.txt")
    first = [path for path, label in train if label == 0]
    assert len(train) == 1003 and train[-1][1] == 999
    assert first == [f"n01440764/n01440764_{i}.JPEG" for i in (1, 2, 3, 4)]  # no `._` twin


def test_odd_images_are_stored_as_convert_imageset_stores_them(fake_ilsvrc,
                                                                tmp_path: Path) -> None:
    root, _ = fake_ilsvrc
    odd = [(f"n01440764/n01440764_{i}.JPEG", 0) for i in (1, 2, 3, 4)]  # colour, grey, CMYK, PNG
    write_list(tmp_path / "list.txt", odd)
    run_caffe_tool("convert_imageset", "--resize_height=256", "--resize_width=256",
                   f"{root}/train/", tmp_path / "list.txt", tmp_path / "caffe")
    proc = run_data_prep("build_lmdb.py", root / "train", tmp_path / "list.txt", tmp_path / "ours")
    assert proc.returncode == 0, proc.stderr
    assert _datum_fields(tmp_path / "caffe") == _datum_fields(tmp_path / "ours")
    assert [fields[2:5] for fields in _datum_fields(tmp_path / "ours")] == [(3, 256, 256)] * 4
    assert largest_difference(tmp_path / "caffe", tmp_path / "ours") <= 1


@pytest.fixture
def six(tmp_path: Path) -> Path:
    """A six-class fake ILSVRC-2012 (three train images a class, 18 validation images)."""
    root = tmp_path / "ILSVRC2012"
    write_fake_ilsvrc2012(root, SIX, train_per_class=3, val_images=18)
    return root


def _make_data(make, six: Path, *more: str, goal: str = "data"):  # noqa: F811
    return make(goal, "DATASET=imagenet", f"IMAGENET={six}", "DATA_RESIZE=16", *more)


HALF0A = "data/imagenet/half0A.done"  # one set and the whole sets it is copied from


def _first_line(stderr: str) -> str:
    return stderr.splitlines()[0] if stderr else ""


@needs_wordnet
def test_a_truncated_jpeg_stops_the_build_or_is_listed_and_left_out(make, six: Path,  # noqa: F811
                                                                    tmp_path: Path) -> None:
    cut = six / "train" / SIX[2] / f"{SIX[2]}_2.JPEG"
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    proc = _make_data(make, six)
    assert proc.returncode == 2
    root = tmp_path / "data/imagenet"
    line = [path for path, _ in read_list(root / "whole_train/files.txt")].index(
        f"{SIX[2]}/{cut.name}") + 1
    assert _first_line(proc.stderr) == (
        f"build_lmdb.py: error: cannot read image '{cut}' (list line {line}): truncated JPEG (no "
        f"end-of-image marker after its last scan); {SKIP_HINT}")
    assert not (root / "whole_train/lmdb").exists()
    assert not [p for p in (root / "whole_train").iterdir() if p.name.startswith(".")]

    proc = _make_data(make, six, "SKIP_BAD_IMAGES=1")
    assert proc.returncode == 0, proc.stderr
    report = root / "whole_train/skipped.txt"
    assert report.read_text() == (f"{SIX[2]}/{cut.name}\ttruncated JPEG (no end-of-image "
                                  "marker after its last scan)\n")
    assert f"1 skipped, listed in {report}" in proc.stdout
    assert len(lmdb_items(root / "whole_train/lmdb")) == 20  # 18 + grey, CMYK, PNG - the cut one
    for name in DATA_SETS:  # every half and reduction leaves it out too
        assert (root / f"{name}.done").exists()
        listed = [path for path, _ in read_list(root / f"{name}_train/files.txt")]
        assert len(lmdb_items(root / f"{name}_train/lmdb")) == len(listed) - (
            f"{SIX[2]}/{cut.name}" in listed)


@needs_wordnet
def test_an_empty_val_folder_is_one_line_and_builds_nothing(make, six: Path,  # noqa: F811
                                                            tmp_path: Path) -> None:
    for image in (six / "val").iterdir():
        image.unlink()
    (six / "val" / "._ILSVRC2012_val_00000001.JPEG").write_bytes(bytes(64))  # no image either
    proc = _make_data(make, six)
    assert proc.returncode == 2
    assert _first_line(proc.stderr) == (
        f"make_lists.py: error: no validation images in '{six / 'val'}' (expected the 50,000 "
        "ILSVRC2012_val_*.JPEG, or val/<wnid>/ folders)")
    assert not list((tmp_path / "data").rglob("lmdb")) and not list(
        (tmp_path / "data").rglob("*.done"))


@needs_wordnet
def test_lists_follow_the_folders(make, six: Path, tmp_path: Path) -> None:  # noqa: F811
    assert _make_data(make, six, "-j2", goal=str(tmp_path / HALF0A)).returncode == 0
    root = tmp_path / "data/imagenet"
    assert not (root / "half0B_train/lmdb").exists()
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("lmdb.done")}
    time.sleep(0.05)  # past the file system's clock tick: make needs a folder newer than a stamp
    (six / "train" / SIX[0] / f"._{SIX[0]}_3.JPEG").write_bytes(bytes(64))  # the folder changed
    proc = _make_data(make, six, goal=str(tmp_path / HALF0A))
    assert proc.returncode == 0, proc.stderr
    assert "files.txt: 21 images, unchanged" in proc.stdout
    assert stamps == {p: p.stat().st_mtime_ns for p in root.rglob("lmdb.done")}  # none rebuilt
    time.sleep(0.05)
    (six / "train" / SIX[0] / f"{SIX[0]}_3.JPEG").unlink()  # an image gone: the lists change
    proc = _make_data(make, six, goal=str(tmp_path / HALF0A))
    assert proc.returncode == 0, proc.stderr
    assert len(lmdb_items(root / "whole_train/lmdb")) == 20
    half = read_list(root / "half0A_train/files.txt")
    assert len(lmdb_items(root / "half0A_train/lmdb")) == len(half)
    again = _make_data(make, six, goal=str(tmp_path / HALF0A))
    assert (again.returncode, again.stdout, again.stderr) == (
        0, f"make: '{tmp_path / HALF0A}' is up to date.\n", "")


@needs_wordnet
def test_data_that_will_not_fit_is_one_line_before_any_lmdb(make, six: Path,  # noqa: F811
                                                            tmp_path: Path) -> None:
    proc = _make_data(make, six, "DISK_MARGIN=100P")
    assert proc.returncode == 2
    line = _first_line(proc.stderr)
    assert re.fullmatch(r"build_lmdb.py: error: make data \(34 LMDBs of [\d.]+ [kM]?B a record; "
                        r"the largest whole_train .*\) needs about .* and DISK_MARGIN=112590 TB "
                        r"left free in .*, which has .* free; free space or use ENCODED=1 .*",
                        line), line
    assert not list((tmp_path / "data").rglob("lmdb"))


@needs_wordnet
def test_encoded_records_are_jpegs_caffe_can_read(make, six: Path,  # noqa: F811
                                                  tmp_path: Path) -> None:
    proc = _make_data(make, six, "ENCODED=1", goal=str(tmp_path / HALF0A))
    assert proc.returncode == 0, proc.stderr
    root = tmp_path / "data/imagenet"
    fields = _datum_fields(root / "half0A_valid/lmdb")
    assert fields and all(encoded for *_, encoded in fields)
    for name in ("whole_train", "half0A_train"):  # means decoded from JPEG records, as Caffe does
        run_caffe_tool("compute_image_mean", root / f"{name}/lmdb", tmp_path / f"{name}.mean")
        assert (tmp_path / f"{name}.mean").read_bytes() == \
            (root / f"{name}/mean.binaryproto").read_bytes()


def test_progress_lines_when_stderr_is_no_terminal(fake_ilsvrc, tmp_path: Path) -> None:
    root, truth = fake_ilsvrc
    write_list(tmp_path / "list.txt", sorted(truth.items()))
    proc = run_data_prep("build_lmdb.py", root / "val", tmp_path / "list.txt", tmp_path / "db",
                         "--resize=16", env={"PROGRESS_EVERY": "0"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 100
    assert lines[49].startswith("db: 50 of 100 img (50.0%), ") and " img/s" in lines[49]


def test_a_writer_and_a_reader_renew_their_mapping(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(lmdb_io, "REOPEN_BYTES", 5000)
    monkeypatch.setattr(lmdb_io, "COMMIT_EVERY", 7)
    records = [(f"{i:08d}".encode(), os.urandom(900 + i)) for i in range(60)]
    with lmdb_io.LmdbWriter(tmp_path / "db") as writer:
        for key, value in records:
            writer.put(key, value)
    assert lmdb_items(tmp_path / "db") == records
    assert list(lmdb_io.iter_values(tmp_path / "db")) == [value for _, value in records]
    shutil.rmtree(tmp_path / "db")
