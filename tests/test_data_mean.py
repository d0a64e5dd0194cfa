"""compute_mean.py against Caffe's compute_image_mean; records Caffe's tools wrote, read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from caffe.proto import caffe_pb2

from tests.conftest import (
    lmdb_items,
    run_caffe_tool,
    run_data_prep,
    separable_images,
    write_datum_lmdb,
)
from transferability import caffe_io
from transferability.data.lists import write_list
from transferability.data.synthetic import write_jpegs


def decode_blobproto(buf: bytes) -> np.ndarray:
    """The blob's data shaped by `shape` when present, else by num/channels/height/width."""
    blob = caffe_pb2.BlobProto.FromString(bytes(buf))
    return np.asarray(blob.data, np.float32).reshape(caffe_io.blob_shape(blob))


def _both_means(db: Path, tmp_path: Path) -> tuple[bytes, bytes]:
    run_caffe_tool("compute_image_mean", db, tmp_path / "caffe.binaryproto")
    proc = run_data_prep("compute_mean.py", db, tmp_path / "ours.binaryproto", "--quiet")
    assert proc.returncode == 0, proc.stderr
    return tuple((tmp_path / f"{who}.binaryproto").read_bytes() for who in ("caffe", "ours"))


def _compare(caffe: bytes, ours: bytes) -> float:
    blob_c, blob_o = caffe_pb2.BlobProto(), caffe_pb2.BlobProto()
    blob_c.ParseFromString(caffe)
    blob_o.ParseFromString(ours)
    assert (blob_c.num, blob_c.channels, blob_c.height, blob_c.width) == \
        (blob_o.num, blob_o.channels, blob_o.height, blob_o.width)
    diff = float(np.abs(np.array(blob_c.data) - np.array(blob_o.data)).max())
    print(f"mean: max abs difference {diff}, bytes identical: {caffe == ours}")
    return diff


def test_mean_of_a_jpeg_database(tmp_path: Path) -> None:
    """Our LMDB writer's output, read by Caffe's tool too."""
    names = write_jpegs(tmp_path / "img", 30, height=60, width=80)
    write_list(tmp_path / "list.txt", [(name, i % 3) for i, name in enumerate(names)])
    proc = run_data_prep("build_lmdb.py", tmp_path / "img", tmp_path / "list.txt",
                         tmp_path / "db", "--resize=48", "--quiet")
    assert proc.returncode == 0, proc.stderr
    caffe, ours = _both_means(tmp_path / "db", tmp_path)
    assert _compare(caffe, ours) < 1e-3
    assert caffe == ours
    assert caffe_io.read_mean(tmp_path / "ours.binaryproto").shape == (1, 3, 48, 48)


def test_means_written_by_the_lmdb_writers(tmp_path: Path) -> None:
    """build_lmdb.py --mean and derive_lmdb.py --mean: the tool's mean of what they wrote."""
    names = write_jpegs(tmp_path / "img", 12, height=50, width=40)
    entries = [(name, i % 4) for i, name in enumerate(names)]
    write_list(tmp_path / "list.txt", entries)
    write_list(tmp_path / "half.txt", [(name, label // 2) for name, label in entries
                                       if label % 2 == 0])
    proc = run_data_prep("build_lmdb.py", tmp_path / "img", tmp_path / "list.txt",
                         tmp_path / "db", "--resize=24", "--mean", tmp_path / "db.binaryproto")
    assert proc.returncode == 0, proc.stderr
    proc = run_data_prep("derive_lmdb.py", tmp_path / "list.txt", tmp_path / "db",
                         tmp_path / "half.txt", tmp_path / "half",
                         "--mean", tmp_path / "half.binaryproto")
    assert proc.returncode == 0, proc.stderr
    for db in ("db", "half"):
        run_caffe_tool("compute_image_mean", tmp_path / db, tmp_path / "caffe.binaryproto")
        caffe = (tmp_path / "caffe.binaryproto").read_bytes()
        assert caffe == (tmp_path / f"{db}.binaryproto").read_bytes()


def test_mean_of_a_pycaffe_written_database(tmp_path: Path) -> None:
    images, labels = separable_images(500, 4, (1, 20, 24), seed=5)
    write_datum_lmdb(tmp_path / "db", images, labels)
    caffe, ours = _both_means(tmp_path / "db", tmp_path)
    assert _compare(caffe, ours) < 1e-3
    expected = images.reshape(500, -1).mean(axis=0).reshape(1, 1, 20, 24)
    assert np.abs(caffe_io.read_mean(tmp_path / "ours.binaryproto") - expected).max() < 1e-4


def test_mean_of_an_encoded_database(tmp_path: Path) -> None:
    names = write_jpegs(tmp_path / "img", 6, height=40, width=30)
    write_list(tmp_path / "list.txt", [(name, 0) for name in names])
    run_caffe_tool("convert_imageset", "--encoded", f"{tmp_path / 'img'}/", tmp_path / "list.txt",
                   tmp_path / "db")
    caffe, ours = _both_means(tmp_path / "db", tmp_path)
    assert _compare(caffe, ours) < 1e-3


def test_empty_or_missing_database_is_one_line(tmp_path: Path) -> None:
    proc = run_data_prep("compute_mean.py", tmp_path / "none", tmp_path / "m.binaryproto")
    assert proc.returncode == 2
    assert proc.stderr == (f"compute_mean.py: error: no LMDB at '{tmp_path / 'none'}' "
                           "(expected a folder with data.mdb)\n")
    write_datum_lmdb(tmp_path / "empty", np.zeros((0, 1, 2, 2), np.uint8), np.zeros(0))
    proc = run_data_prep("compute_mean.py", tmp_path / "empty", tmp_path / "m.binaryproto")
    assert proc.stderr == f"compute_mean.py: error: '{tmp_path / 'empty'}' is empty\n"
    assert not (tmp_path / "m.binaryproto").exists()


def test_no_caffe_is_one_line(tmp_path: Path) -> None:
    """The data tools write records with Caffe's caffe_pb2: without a Caffe, one line says so."""
    images, labels = separable_images(4, 2, (1, 4, 4))
    write_datum_lmdb(tmp_path / "db", images, labels)
    names = write_jpegs(tmp_path / "img", 1, height=20, width=24)
    write_list(tmp_path / "list.txt", [(names[0], 0)])
    no_caffe = {"CAFFE_HOME": str(tmp_path / "nothing")}
    for script, args in (("compute_mean.py", (tmp_path / "db", tmp_path / "m.binaryproto")),
                         ("build_lmdb.py", (tmp_path / "img", tmp_path / "list.txt",
                                            tmp_path / "out"))):
        proc = run_data_prep(script, *args, "--quiet", env=no_caffe)
        assert proc.returncode == 2
        assert proc.stderr == (f"{script}: error: no Caffe at CAFFE_HOME={tmp_path / 'nothing'} "
                               f"({tmp_path / 'nothing'}/lib/python3/dist-packages/caffe/proto/"
                               "caffe_pb2.py missing); run `make caffe`\n")
    assert not (tmp_path / "m.binaryproto").exists() and not (tmp_path / "out").exists()


# --- records read back: what Caffe's C++ tools wrote ----------------------------------------------

def test_relabel_changes_only_the_label(tmp_path: Path) -> None:
    """A record convert_imageset wrote, relabelled: the other fields' bytes are Caffe's."""
    names = write_jpegs(tmp_path / "img", 1, height=20, width=24)
    write_list(tmp_path / "list.txt", [(names[0], 5)])
    run_caffe_tool("convert_imageset", f"{tmp_path / 'img'}/", tmp_path / "list.txt",
                   tmp_path / "db")
    (_, value), = lmdb_items(tmp_path / "db")
    relabelled = caffe_io.relabel_datum(value, 130)
    assert caffe_io.decode_datum(relabelled).label == 130
    assert caffe_io.decode_datum(value).label == 5
    assert caffe_io.relabel_datum(relabelled, 5) == bytes(value)  # Caffe's own bytes again


def test_blobproto_read_with_shape_or_legacy_dims(tmp_path: Path) -> None:
    """compute_image_mean's legacy num/channels/height/width, and a `shape` written by pycaffe."""
    images, labels = separable_images(6, 2, (2, 3, 4))
    write_datum_lmdb(tmp_path / "db", images, labels)
    run_caffe_tool("compute_image_mean", tmp_path / "db", tmp_path / "m.binaryproto")
    legacy = decode_blobproto((tmp_path / "m.binaryproto").read_bytes())
    np.testing.assert_allclose(legacy, images.mean(axis=0, dtype=np.float64)[None], rtol=1e-6)
    shaped = caffe_pb2.BlobProto()
    shaped.shape.dim.extend([2, 12])
    shaped.data.extend(legacy.ravel().tolist())
    assert np.array_equal(decode_blobproto(shaped.SerializeToString()),
                          legacy.reshape(2, 12))
