"""build_lmdb.py and derive_lmdb.py against Caffe's own convert_imageset, on real image files."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import lmdb_items, run_caffe_tool, run_data_prep
from transferability.bench.data import largest_difference, run_bench
from transferability.caffe_io import decode_datum
from transferability.data.lists import read_list, write_list
from transferability.data.lmdb_build import SKIP_HINT, STALE_HINT
from transferability.data.synthetic import camera_grain, synthetic_image


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """JPEGs of several sizes (landscape, portrait, tiny, grey), a PNG with alpha and a name
    with a space, in sub-folders as ILSVRC's; list.txt names them with labels 0..4."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(3)
    entries = []
    for i, (h, w) in enumerate([(375, 500)] * 8 + [(200, 120)] * 3 + [(17, 23)] * 2):
        path = f"n0{i % 3}/img_{i}.JPEG"
        (root / path).parent.mkdir(exist_ok=True)
        cv2.imwrite(str(root / path), synthetic_image(rng, h, w, camera_grain(rng, h, w)))
        entries.append((path, i % 5))
    grey = synthetic_image(rng, 90, 160)[:, :, 0]
    cv2.imwrite(str(root / "grey.JPEG"), grey)
    rgba = np.dstack([synthetic_image(rng, 64, 48), np.full((64, 48), 128, np.uint8)])
    cv2.imwrite(str(root / "alpha.png"), rgba)
    cv2.imwrite(str(root / "my photo.JPEG"), synthetic_image(rng, 300, 400))
    entries += [("grey.JPEG", 4), ("alpha.png", 0), ("my photo.JPEG", 2)]
    write_list(root / "list.txt", entries)
    return root


def _datum_fields(db: Path) -> list[tuple]:
    out = []
    for key, value in lmdb_items(db):
        d = decode_datum(value)
        out.append((key, d.label, d.channels, d.height, d.width, d.encoded))
    return out


@pytest.mark.parametrize("resize", [256, 0])
def test_same_database_as_convert_imageset(images: Path, tmp_path: Path, resize: int) -> None:
    flags = [f"--resize_height={resize}", f"--resize_width={resize}"] if resize else []
    run_caffe_tool("convert_imageset", *flags, f"{images}/", images / "list.txt", tmp_path / "c")
    proc = run_data_prep("build_lmdb.py", images, images / "list.txt", tmp_path / "p",
                         f"--resize={resize}", "--workers=2")
    assert proc.returncode == 0, proc.stderr
    assert _datum_fields(tmp_path / "c") == _datum_fields(tmp_path / "p")
    assert lmdb_items(tmp_path / "p")[0][0] == b"00000000_n00/img_0.JPEG"
    worst = largest_difference(tmp_path / "c", tmp_path / "p")
    same = sum(a == b for a, b in zip(lmdb_items(tmp_path / "c"), lmdb_items(tmp_path / "p"),
                                      strict=True))
    print(f"resize {resize}: largest pixel difference {worst}; {same} of 16 records identical")
    assert worst <= 1


def test_encoded_without_resize_stores_the_files(images: Path, tmp_path: Path) -> None:
    run_caffe_tool("convert_imageset", "--encoded", f"{images}/", images / "list.txt",
                   tmp_path / "c")
    proc = run_data_prep("build_lmdb.py", images, images / "list.txt", tmp_path / "p",
                         "--resize=0", "--encoded")
    assert proc.returncode == 0, proc.stderr
    assert lmdb_items(tmp_path / "c") == lmdb_items(tmp_path / "p")


def _no_leftovers(folder: Path) -> None:
    assert [p.name for p in folder.iterdir() if "db" in p.name] == []


def test_missing_image_is_one_line_and_leaves_nothing(images: Path, tmp_path: Path) -> None:
    entries = read_list(images / "list.txt")
    write_list(tmp_path / "list.txt", entries[:3] + [("n01/absent.JPEG", 1)] + entries[3:])
    proc = run_data_prep("build_lmdb.py", images, tmp_path / "list.txt", tmp_path / "db")
    assert proc.returncode == 2
    assert proc.stderr == (f"build_lmdb.py: error: cannot read image '{images}/n01/absent.JPEG' "
                           f"(list line 4): no such file{STALE_HINT}\n")
    _no_leftovers(tmp_path)


def test_unreadable_image_fails_or_is_skipped(images: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    for path, _ in read_list(images / "list.txt")[:5]:
        (root / path).parent.mkdir(exist_ok=True)
        os.link(images / path, root / path)
    (root / "broken.JPEG").write_text("not an image")
    entries = read_list(images / "list.txt")[:5]
    write_list(tmp_path / "list.txt", entries[:2] + [("broken.JPEG", 3)] + entries[2:])
    proc = run_data_prep("build_lmdb.py", root, tmp_path / "list.txt", tmp_path / "db",
                         "--resize=32")
    assert proc.returncode == 2
    assert proc.stderr == (f"build_lmdb.py: error: cannot read image '{root}/broken.JPEG' (list "
                           f"line 3): OpenCV cannot decode it; {SKIP_HINT}\n")
    _no_leftovers(tmp_path)

    proc = run_data_prep("build_lmdb.py", root, tmp_path / "list.txt", tmp_path / "db",
                         "--resize=32", "--skip-bad", "--quiet", "--report", tmp_path / "bad.txt")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "skipped image 'broken.JPEG' (list line 3): OpenCV cannot decode it\n"
    assert (tmp_path / "bad.txt").read_text() == "broken.JPEG\tOpenCV cannot decode it\n"
    # convert_imageset skips it silently and keeps the other keys' line numbers: the same.
    run_caffe_tool("convert_imageset", "--resize_height=32", "--resize_width=32", f"{root}/",
                   tmp_path / "list.txt", tmp_path / "caffe")
    assert lmdb_items(tmp_path / "caffe") == lmdb_items(tmp_path / "db")
    assert len(lmdb_items(tmp_path / "db")) == 5


def test_label_out_of_range_fails_before_writing(images: Path, tmp_path: Path) -> None:
    write_list(tmp_path / "list.txt", [("grey.JPEG", 1), ("alpha.png", 7)])
    proc = run_data_prep("build_lmdb.py", images, tmp_path / "list.txt", tmp_path / "db",
                         "--num-classes=5")
    assert proc.returncode == 2
    assert proc.stderr == (f"build_lmdb.py: error: '{tmp_path / 'list.txt'}' line 2: label 7 "
                           "outside 0..4 (--num-classes 5)\n")
    _no_leftovers(tmp_path)


def test_bad_paths_are_named(images: Path, tmp_path: Path) -> None:
    proc = run_data_prep("build_lmdb.py", images, tmp_path / "none.txt", tmp_path / "db")
    assert proc.returncode == 2
    assert proc.stderr == (f"build_lmdb.py: error: no image list at '{tmp_path / 'none.txt'}' "
                           "(expected a file of 'path label' lines)\n")
    proc = run_data_prep("build_lmdb.py", tmp_path / "nope", images / "list.txt", tmp_path / "db")
    assert proc.stderr == f"build_lmdb.py: error: no image folder at '{tmp_path / 'nope'}'\n"


def test_existing_database_needs_force(images: Path, tmp_path: Path) -> None:
    write_list(tmp_path / "list.txt", [("grey.JPEG", 1)])
    (tmp_path / "db").mkdir()
    args = (images, tmp_path / "list.txt", tmp_path / "db", "--resize=8")
    proc = run_data_prep("build_lmdb.py", *args)
    assert proc.returncode == 2 and "pass --force" in proc.stderr
    assert run_data_prep("build_lmdb.py", *args, "--force").returncode == 0
    assert len(lmdb_items(tmp_path / "db")) == 1


def test_derived_database_equals_a_direct_build(images: Path, tmp_path: Path) -> None:
    whole = read_list(images / "list.txt")
    half = [(path, {1: 0, 3: 1}[label]) for path, label in whole if label in (1, 3)]
    write_list(tmp_path / "half.txt", half)
    common = ("--resize=64", "--quiet")
    for listed, db in ((images / "list.txt", "whole"), (tmp_path / "half.txt", "direct")):
        proc = run_data_prep("build_lmdb.py", images, listed, tmp_path / db, *common)
        assert proc.returncode == 0, proc.stderr
    proc = run_data_prep("derive_lmdb.py", images / "list.txt", tmp_path / "whole",
                         tmp_path / "half.txt", tmp_path / "derived")
    assert proc.returncode == 0, proc.stderr
    assert lmdb_items(tmp_path / "derived") == lmdb_items(tmp_path / "direct")
    # The same list again (reduced1300 is the whole train list): a hard link, no copy.
    proc = run_data_prep("derive_lmdb.py", images / "list.txt", tmp_path / "whole",
                         images / "list.txt", tmp_path / "same")
    assert proc.returncode == 0, proc.stderr
    assert os.path.samefile(tmp_path / "same/data.mdb", tmp_path / "whole/data.mdb")
    assert lmdb_items(tmp_path / "same") == lmdb_items(tmp_path / "whole")


def test_derive_rejects_an_image_outside_the_source(images: Path, tmp_path: Path) -> None:
    write_list(tmp_path / "small.txt", read_list(images / "list.txt")[:2])
    write_list(tmp_path / "other.txt", read_list(images / "list.txt")[1:3])
    assert run_data_prep("build_lmdb.py", images, tmp_path / "small.txt", tmp_path / "src",
                         "--resize=8").returncode == 0
    proc = run_data_prep("derive_lmdb.py", tmp_path / "small.txt", tmp_path / "src",
                         tmp_path / "other.txt", tmp_path / "db")
    assert proc.returncode == 2
    assert proc.stderr == ("derive_lmdb.py: error: list line 2: 'n02/img_2.JPEG' is not in the "
                           "source list\n")
    assert not (tmp_path / "db").exists()


def test_benchmark_runs(tmp_path: Path) -> None:
    result = run_bench(tmp_path, images=12, rounds=1, workers=2)
    assert result.max_pixel_diff <= 1 and result.caffe_s > 0 and result.ours_s > 0
    assert "images/s" in result.lines()[0] and result.lines()[2].startswith("ratio: ")


def test_leftovers_of_dead_writers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    from transferability.disk import temporary_sibling

    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    stale = tmp_path / f".whole.lmdb.tmp-{host}-{dead.pid}-1"
    (stale / "lmdb").mkdir(parents=True)
    live = tmp_path / f".whole.lmdb.tmp-{host}-{os.getpid()}-1"
    live.mkdir()
    other = tmp_path / f".whole.lmdb.tmp-another-node-{dead.pid}-1"
    other.mkdir()
    script = ("import sys; from transferability.disk import temporary_sibling; "
              "print(temporary_sibling(sys.argv[1]))")
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / "whole.lmdb")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists() and live.exists() and other.exists()
    assert proc.stderr.count("\n") == 1 and str(stale) in proc.stderr
    assert temporary_sibling(tmp_path / "whole.lmdb").name.startswith(f".whole.lmdb.tmp-{host}-")
