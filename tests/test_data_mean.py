"""compute_mean.py against Caffe's compute_image_mean; Datum and BlobProto bytes against pycaffe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from caffe.proto import caffe_pb2

from tests.conftest import run_caffe_tool, run_data_prep, separable_images, write_datum_lmdb
from transferability.data import protowire
from transferability.data.lists import write_list
from transferability.data.mean import read_mean
from transferability.data.synthetic import write_jpegs


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
    assert read_mean(tmp_path / "ours.binaryproto").shape == (1, 3, 48, 48)


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
    assert np.abs(read_mean(tmp_path / "ours.binaryproto") - expected).max() < 1e-4


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


# --- the wire format ---------------------------------------------------------------------------

@pytest.mark.parametrize("label", [0, 7, 999, 300000])
def test_raw_datum_bytes_equal_pycaffe(label: int) -> None:
    data = bytes(range(256)) * 3
    expected = caffe_pb2.Datum(channels=3, height=16, width=16, data=data, label=label,
                               encoded=False).SerializeToString()
    assert protowire.encode_raw_datum(data, label, 3, 16, 16) == expected
    decoded = protowire.decode_datum(expected)
    assert (decoded.channels, decoded.height, decoded.width, decoded.data, decoded.label,
            decoded.encoded) == (3, 16, 16, data, label, False)


def test_encoded_and_float_datums() -> None:
    expected = caffe_pb2.Datum(data=b"\xff\xd8jpeg", label=3, encoded=True).SerializeToString()
    assert protowire.encode_encoded_datum(b"\xff\xd8jpeg", 3) == expected
    floats = caffe_pb2.Datum(channels=1, height=1, width=3, float_data=[0.5, -2.0, 3.25], label=-1)
    decoded = protowire.decode_datum(floats.SerializeToString())
    assert decoded.float_data == [0.5, -2.0, 3.25] and decoded.label == -1


def test_relabel_keeps_every_other_byte() -> None:
    datum = caffe_pb2.Datum(channels=1, height=2, width=2, data=b"abcd", label=5, encoded=False)
    relabelled = protowire.relabel_datum(datum.SerializeToString(), 130)
    datum.label = 130
    assert relabelled == datum.SerializeToString()
    assert protowire.datum_label(relabelled) == 130


def test_blobproto_bytes_equal_pycaffe() -> None:
    mean = np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4) / 7
    blob = caffe_pb2.BlobProto(num=1, channels=2, height=3, width=4)
    blob.data.extend(mean.ravel().tolist())
    assert protowire.encode_blobproto(mean) == blob.SerializeToString()
    shaped = caffe_pb2.BlobProto()
    shaped.shape.dim.extend([2, 12])
    shaped.data.extend(mean.ravel().tolist())
    assert np.array_equal(protowire.decode_blobproto(shaped.SerializeToString()),
                          mean.reshape(2, 12))
