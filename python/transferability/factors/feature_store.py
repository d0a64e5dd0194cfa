"""HDF5 files of features: `features` (N, D) float32 and `labels` (N,) int64, chunked, streamed.

A file is written under a temporary name and renamed when complete, so a file with the final
name is never half-written. Its attributes record where the features came from.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from transferability.disk import temporary_sibling
from transferability.errors import UserError

CHUNK_BYTES = 1 << 20


class FeatureWriter:
    """Append batches of (features, labels) to a new HDF5 file; `close()` publishes it."""

    def __init__(self, path: Path, attrs: dict[str, object]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = temporary_sibling(self.path)
        self.file = h5py.File(self.tmp, "w")
        self.file.attrs.update({k: v for k, v in attrs.items() if v is not None})
        self.features: h5py.Dataset | None = None
        self.labels: h5py.Dataset | None = None

    def _create(self, dims: int) -> None:
        rows = int(np.clip(CHUNK_BYTES // (4 * dims), 1, 4096))
        self.features = self.file.create_dataset(
            "features", (0, dims), np.float32, maxshape=(None, dims), chunks=(rows, dims))
        self.labels = self.file.create_dataset(
            "labels", (0,), np.int64, maxshape=(None,), chunks=(4096,))

    def append(self, features: np.ndarray, labels: np.ndarray) -> None:
        if self.features is None:
            self._create(features.shape[1])
        n, add = len(self.features), len(features)
        self.features.resize(n + add, axis=0)
        self.labels.resize(n + add, axis=0)
        self.features[n:] = features
        self.labels[n:] = labels

    def close(self) -> Path:
        if self.features is None:
            self._create(0)
        self.file.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


def load(path: Path) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    """(features (N, D) float32, labels (N,) int64, attributes) of a features file."""
    if not Path(path).is_file():
        raise UserError(f"no features file at {path}")
    try:
        with h5py.File(path, "r") as f:
            if "features" not in f or "labels" not in f:
                raise UserError(f"{path} holds no features/labels datasets")
            return f["features"][...], f["labels"][...], dict(f.attrs)
    except OSError as err:
        raise UserError(f"{path} is not an HDF5 file ({err})") from None


def attrs(path: Path) -> dict[str, object] | None:
    """The attributes of a complete features file; None if there is none or it is unreadable."""
    try:
        with h5py.File(path, "r") as f:
            return dict(f.attrs) if "features" in f else None
    except OSError:
        return None


def shape(path: Path) -> tuple[int, int]:
    """(N, D) of a features file, without reading it."""
    with h5py.File(path, "r") as f:
        return tuple(f["features"].shape)
