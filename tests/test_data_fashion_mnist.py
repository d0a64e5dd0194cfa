"""Fashion-MNIST from IDX files to the paper's datasets: LMDBs of 1x28x28 Datum, means, idxmaps."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import lmdb_items, run_caffe_tool, run_data_prep
from transferability.caffe_io import decode_datum
from transferability.data import fashion_mnist as fm
from transferability.plan import DATA_SETS, HALF_SETS, REDUCED_SETS


def write_idx(path: Path, array: np.ndarray) -> Path:
    """The inverse of read_idx (uint8 only), gzipped when the name ends in .gz."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">i4").tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as file:
        file.write(header + np.ascontiguousarray(array, np.uint8).tobytes())
    return path


def write_small_fashion_mnist(root: Path, n_train: int = 200, n_valid: int = 60) -> Path:
    """IDX files like Debian's (train gzipped, t10k plain, to read both), labels 0..9 cycling."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for (images_name, labels_name), n, suffix in zip(fm.IDX_FILES.values(), (n_train, n_valid),
                                                     (".gz", ""), strict=True):
        write_idx(root / f"{images_name}{suffix}", rng.integers(0, 256, (n, 28, 28)))
        write_idx(root / f"{labels_name}{suffix}", np.arange(n) * 7 % 10)
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fm")
    source = write_small_fashion_mnist(root / "source")
    proc = run_data_prep("fashion_mnist.py", "--source", source, "--out", root / "out")
    assert proc.returncode == 0, proc.stderr
    return root


def test_idx_round_trip(tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a.idx", "b.idx.gz"):
        assert np.array_equal(fm.read_idx(write_idx(tmp_path / name, array)), array)
    (tmp_path / "bad").write_bytes(b"\x08\x03\x00\x00")
    with pytest.raises(fm.UserError, match="is not an IDX file"):
        fm.read_idx(tmp_path / "bad")


def test_the_datasets_classes() -> None:
    classes = fm.dataset_classes()
    assert classes["half0A"] == [0, 1, 3, 7, 8] and classes["half0B"] == [2, 4, 5, 6, 9]
    assert classes["halfnatmanA"] == [0, 1, 2, 3, 4, 6]  # clothing
    assert classes["halfnatmanB"] == [5, 7, 8, 9]  # sandal, sneaker, bag, ankle boot
    assert list(classes) == ["whole", *HALF_SETS]
    assert list(DATA_SETS) == ["whole", *HALF_SETS, *REDUCED_SETS]


@pytest.mark.parametrize("per_class", [1, 2, 5, 1300])
def test_reduced_sets_take_the_first_images_of_each_class(built: Path, per_class: int) -> None:
    images, labels = fm.load(built / "source")["train"]
    folder = built / "out" / f"reduced{per_class:04d}_train"
    datums = [decode_datum(value) for _, value in lmdb_items(folder / "lmdb")]
    want = [i for i in range(len(labels)) if (labels[:i] == labels[i]).sum() < per_class]
    assert [d.label for d in datums] == labels[want].tolist()
    assert all(d.data == images[i].tobytes() for d, i in zip(datums, want, strict=True))
    assert (folder / "mean.binaryproto").is_file()
    assert not (built / "out" / f"reduced{per_class:04d}_valid").exists()


@pytest.mark.parametrize("name", ["whole", *HALF_SETS])
def test_each_dataset(built: Path, name: str) -> None:
    data = fm.load(built / "source")
    classes = fm.dataset_classes()[name]
    for part in ("train", "valid"):
        folder = built / "out" / f"{name}_{part}"
        items = lmdb_items(folder / "lmdb")
        images, labels = data[part]
        keep = np.isin(labels, classes)
        assert [key for key, _ in items] == [f"{i:08d}".encode() for i in range(keep.sum())]
        datums = [decode_datum(value) for _, value in items]
        assert {(d.channels, d.height, d.width) for d in datums} == {(1, 28, 28)}
        assert [d.label for d in datums] == [classes.index(c) for c in labels[keep]]
        assert all(d.data == image.tobytes() for d, image in zip(datums, images[keep],
                                                                  strict=True))
        idxmap = folder / "idxmap.txt"
        if name in HALF_SETS:
            assert idxmap.read_text() == "".join(f"{c} {i}\n" for i, c in enumerate(classes))
        else:
            assert not idxmap.exists()
    assert not (built / "out" / f"{name}_valid" / "mean.binaryproto").exists()


@pytest.mark.parametrize("name", ["whole", "halfnatmanB"])
def test_means_equal_compute_image_mean(built: Path, name: str, tmp_path: Path) -> None:
    train = built / "out" / f"{name}_train"
    run_caffe_tool("compute_image_mean", train / "lmdb", tmp_path / "mean.binaryproto")
    assert (tmp_path / "mean.binaryproto").read_bytes() == \
        (train / "mean.binaryproto").read_bytes()


def test_missing_source_is_one_line(tmp_path: Path) -> None:
    proc = run_data_prep("fashion_mnist.py", "--source", tmp_path, "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert proc.stderr == (f"fashion_mnist.py: error: no Fashion-MNIST at '{tmp_path}' "
                           "(train-images-idx3-ubyte[.gz] missing; install Debian's "
                           "dataset-fashion-mnist or pass FASHION_MNIST=dir)\n")


@pytest.mark.skipif(not (fm.DEFAULT_ROOT / "train-labels-idx1-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_debians_files() -> None:
    data = fm.load()
    assert data["train"][0].shape == (60000, 28, 28) and data["valid"][0].shape == (10000, 28, 28)
    assert np.bincount(data["train"][1]).tolist() == [6000] * 10
