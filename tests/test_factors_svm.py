"""`transferability svm`: PCA on the training features, L2, LinearSVC with C by cross-validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from transferability.cli import main
from transferability.errors import UserError
from transferability.factors.feature_store import FeatureWriter, load
from transferability.factors.svm import C_GRID, Reduction, evaluate


def blobs(n: int, dims: int = 40, classes: int = 4, seed: int = 0, spread: float = 1.0):
    """Gaussian clusters, one per class, in a random `dims`-dimensional space."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 3, (classes, dims))
    labels = rng.integers(0, classes, n)
    return (centres[labels] + rng.normal(0, spread, (n, dims))).astype(np.float32), labels


def write_features(path: Path, x: np.ndarray, y: np.ndarray, batch: int = 64) -> Path:
    writer = FeatureWriter(path, {"layer": "fc7"})
    for start in range(0, len(x), batch):
        writer.append(x[start:start + batch], y[start:start + batch])
    return writer.close()


def test_feature_files_stream_in_chunks(tmp_path):
    x, y = blobs(300)
    path = write_features(tmp_path / "f.h5", x, y, batch=7)
    got_x, got_y, attrs = load(path)
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)
    assert attrs["layer"] == "fc7"
    assert not list(tmp_path.glob(".*.tmp"))


def test_reduction_pca_then_unit_rows():
    x, _ = blobs(200)
    apply = Reduction(pca=5, l2=True).fit(x)
    z = apply(x * 3)
    assert z.shape == (200, 5)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1, rtol=1e-5)
    assert Reduction(pca=500).fit(x)(x).shape == (200, 40)  # at most the features' dimensions


def test_svm_separates_clusters_and_picks_c_from_the_grid():
    x, y = blobs(300, seed=1)
    xt, yt = blobs(200, seed=2)
    result = evaluate(x, y, xt, yt, Reduction(pca=10, l2=True))
    assert result.top1_accuracy > 0.95 and result.cv_accuracy > 0.9
    assert result.C in C_GRID and result.dims == 10 and result.input_dims == 40
    assert (result.n_train, result.n_test) == (300, 200)


def test_svm_is_not_given_the_test_labels():
    x, y = blobs(300, seed=1, spread=6)
    xt, yt = blobs(200, seed=2, spread=6)
    right = evaluate(x, y, xt, yt).top1_accuracy
    wrong = evaluate(x, y, xt, (yt + 1) % 4).top1_accuracy
    assert right > 0.5 > wrong


def test_svm_command_prints_accuracy_and_writes_json(tmp_path, capsys):
    x, y = blobs(240, seed=3)
    xt, yt = blobs(120, seed=4)
    train = write_features(tmp_path / "train.h5", x, y)
    test = write_features(tmp_path / "test.h5", xt, yt)
    out = tmp_path / "row.json"
    assert main(["svm", "--train", str(train), "--test", str(test), "--pca", "8", "--l2",
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    row = json.loads(out.read_text())
    assert f"top-1 accuracy {row['top1_accuracy']:.4f}" in printed
    assert row["layer"] == "fc7" and row["pca"] == 8 and row["l2"] is True and row["dims"] == 8
    assert row["top1_accuracy"] > 0.95 and row["C"] in C_GRID


def test_svm_command_errors_are_one_line(tmp_path, capsys):
    x, y = blobs(60)
    train = write_features(tmp_path / "train.h5", x, y)
    test = write_features(tmp_path / "test.h5", x[:, :10], y)
    (tmp_path / "junk.h5").write_text("not hdf5")
    for argv, message in (
        (["--test", str(tmp_path / "nope.h5")], "no features file at"),
        (["--test", str(test)], "train features have 40 dimensions, test features 10"),
        (["--test", str(tmp_path / "junk.h5")], "is not an HDF5 file"),
    ):
        assert main(["svm", "--train", str(train), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and message in err


def test_too_few_examples_per_class_for_the_folds():
    x, y = blobs(20)
    y[:] = 0
    y[0] = 1
    with pytest.raises(UserError, match="fewer than the 3 cross-validation folds"):
        evaluate(x, y, x, y)
