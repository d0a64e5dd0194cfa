"""`transferability features`: pycaffe features equal those of Caffe's own `extract_features`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import h5py
import lmdb
import numpy as np
import pytest

from transferability.caffe_env import caffe_tool
from transferability.cli import main
from transferability.factors.features import chosen, grid_max_pool
from transferability.nets.caffenet import PROFILES

BLOBS = ("conv2", "fc7")  # a 4-d convolutional map (after its in-place ReLU) and an fc vector


def _extraction_net(run: Path, db: Path, batch: int) -> str:
    """The run's train_val with one TEST Data layer reading `db`: extract_features' input."""
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format

    from transferability.caffe_io import read_prototxt

    net = read_prototxt(run / "train_val.prototxt")
    out = caffe_pb2.NetParameter(name="extract")
    for layer in net.layer:
        if layer.type == "Data" and layer.include[0].phase != caffe_pb2.TEST:
            continue
        if layer.type in ("Accuracy", "SoftmaxWithLoss"):
            continue
        copy = out.layer.add()
        copy.CopyFrom(layer)
        if layer.type == "Data":
            del copy.include[:]
            copy.data_param.source, copy.data_param.batch_size = str(db), batch
            copy.transform_param.mean_file = str((run / "mean.binaryproto").resolve())
    return text_format.MessageToString(out)


def _read_float_lmdb(path: Path) -> np.ndarray:
    from caffe.proto import caffe_pb2

    env = lmdb.open(str(path), readonly=True, lock=False)
    rows = []
    with env.begin() as txn:
        for _, value in txn.cursor():
            datum = caffe_pb2.Datum()
            datum.ParseFromString(value)
            rows.append(np.asarray(datum.float_data, np.float32))
    env.close()
    return np.stack(rows)


def _labels(db: Path) -> np.ndarray:
    from caffe.proto import caffe_pb2

    env = lmdb.open(str(db), readonly=True, lock=False)
    with env.begin() as txn:
        labels = [caffe_pb2.Datum.FromString(v).label for _, v in txn.cursor()]
    env.close()
    return np.asarray(labels)


@pytest.fixture(scope="module")
def reference(fm_base_run: Path, fm_data: Path, tmp_path_factory) -> dict[str, np.ndarray]:
    """Caffe's extract_features on half0B's 100 validation images, for BLOBS."""
    run = fm_base_run / "fashion-mnist" / "split0" / "baseA"
    db = fm_data / "fashion-mnist" / "half0B_valid" / "lmdb"
    work = tmp_path_factory.mktemp("extract_features")
    (work / "net.prototxt").write_text(_extraction_net(run, db, 25))
    outs = [work / f"ref_{blob}" for blob in BLOBS]
    subprocess.run([str(caffe_tool("extract_features")), str(run / "final.caffemodel"),
                    str(work / "net.prototxt"), ",".join(BLOBS), ",".join(map(str, outs)), "4",
                    "lmdb", "CPU"], check=True, capture_output=True)
    return {blob: _read_float_lmdb(out) for blob, out in zip(BLOBS, outs, strict=True)}


def _features(run: Path, db: Path, out: Path, *extra: str) -> tuple[np.ndarray, np.ndarray]:
    code = main(["features", str(run / "final.caffemodel"), str(run / "train_val.prototxt"),
                 "--data", str(db), "--out", str(out), "--batch", "32", *extra])
    assert code == 0
    with h5py.File(out) as f:
        return f["features"][...], f["labels"][...]


@pytest.mark.parametrize("blob", BLOBS)
def test_features_equal_caffe_extract_features(blob, reference, fm_base_run, fm_data, tmp_path):
    run = fm_base_run / "fashion-mnist" / "split0" / "baseA"
    db = fm_data / "fashion-mnist" / "half0B_valid" / "lmdb"
    ours, labels = _features(run, db, tmp_path / "f.h5", "--layer", blob)  # mean: the run's
    assert ours.shape == reference[blob].shape == (100, reference[blob].shape[1])
    assert np.abs(reference[blob]).max() > 0
    np.testing.assert_allclose(ours, reference[blob], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(labels, _labels(db))


def test_pooled_features_are_the_grid_maxima(reference, fm_base_run, fm_data, tmp_path):
    run = fm_base_run / "fashion-mnist" / "split0" / "baseA"
    ours, _ = _features(run, fm_data / "fashion-mnist" / "half0B_valid", tmp_path / "p.h5",
                        "--layer", "conv2", "--pool", "2")
    channels = PROFILES["fashion-mnist"].convs[1].num_output
    maps = reference["conv2"].reshape(100, channels, 6, 6)
    expected = np.stack([maps[..., r0:r1, c0:c1].max(axis=(2, 3))
                         for r0, r1 in ((0, 3), (3, 6)) for c0, c1 in ((0, 3), (3, 6))], axis=-1)
    np.testing.assert_allclose(ours, expected.reshape(100, -1), rtol=1e-5, atol=1e-6)


def test_limit_spreads_over_the_set(fm_base_run, fm_data, tmp_path):
    run = fm_base_run / "fashion-mnist" / "split0" / "baseA"
    db = fm_data / "fashion-mnist" / "half0B_valid" / "lmdb"
    ours, labels = _features(run, db, tmp_path / "l.h5", "--layer", "fc8", "--limit", "10")
    assert ours.shape == (10, 10)
    np.testing.assert_array_equal(labels, _labels(db)[chosen(100, 10)])
    assert chosen(100, 10)[[0, -1]].tolist() == [0, 99]


def test_grid_max_pool_covers_uneven_maps():
    maps = np.arange(2 * 3 * 5 * 5, dtype=np.float32).reshape(2, 3, 5, 5)
    np.testing.assert_array_equal(grid_max_pool(maps, 1)[..., 0, 0], maps.max(axis=(2, 3)))
    pooled = grid_max_pool(maps, 3)  # cells rows/cols [0,2) [1,4) [3,5): overlapping, all covered
    assert pooled.shape == (2, 3, 3, 3)
    assert pooled[0, 0, 1, 2] == maps[0, 0, 1:4, 3:5].max()


@pytest.mark.parametrize("change, message", [
    ({"model": "missing.caffemodel"}, "no such .caffemodel"),
    ({"data": "nowhere"}, "no LMDB at"),
    ({"layer": "fc9"}, "no layer named fc9 in the net; valid names: conv1, pool1, norm1, conv2"),
])
def test_features_errors_are_one_line(change, message, fm_base_run, fm_data, tmp_path, capsys):
    run = fm_base_run / "fashion-mnist" / "split0" / "baseA"
    args = {"model": str(run / "final.caffemodel"), "layer": "fc7",
            "data": str(fm_data / "fashion-mnist" / "half0B_valid" / "lmdb")}
    args.update({k: str(tmp_path / v) if k != "layer" else v for k, v in change.items()})
    code = main(["features", args["model"], str(run / "train_val.prototxt"), "--layer",
                 args["layer"], "--data", args["data"], "--out", str(tmp_path / "x.h5")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and message in err
    assert not (tmp_path / "x.h5").exists()


def test_unusable_gpu_is_one_line(fm_base_run, fm_data, tmp_path, capsys):
    probe = subprocess.run([str(caffe_tool("caffe")), "device_query", "-gpu", "0"],
                           capture_output=True)
    if probe.returncode == 0:
        pytest.skip("this Caffe can use GPU 0")
    run = fm_base_run / "fashion-mnist" / "split0" / "baseA"
    code = main(["features", str(run / "final.caffemodel"), str(run / "train_val.prototxt"),
                 "--layer", "fc7", "--data", str(fm_data / "fashion-mnist" / "half0B_valid"),
                 "--out", str(tmp_path / "x.h5"), "--gpu", "0"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "GPU 0 is not usable" in err
