"""Fashion-MNIST (Debian's dataset-fashion-mnist) as the paper's datasets, in the same layout.

Classes: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt, 7 sneaker,
8 bag, 9 ankle boot. Train = the 60k IDX train set, valid = the 10k test set. Datasets: whole,
the random halves half0A..half3B (the paper's seeded procedure over 10 classes) and, in the role
of natural/man-made, halfnatmanA = clothing, halfnatmanB = shoes and bags.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from transferability.caffe_io import encode_raw_datum, write_mean
from transferability.data.lmdb_io import LmdbWriter
from transferability.data.mean import compute_mean
from transferability.data.splits import half_classes, idxmap_text, label_map
from transferability.disk import write_text
from transferability.errors import UserError
from transferability.plan import HALF_SETS, layout

DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
N_CLASSES = 10
CLOTHING = (0, 1, 2, 3, 4, 6)
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "valid": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (plain or .gz): magic 0 0 type ndim, big-endian int32 dims, then the data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as file:
        raw = file.read()
    if len(raw) < 4 or raw[0] or raw[1] or raw[2] not in IDX_TYPES:
        raise UserError(f"'{path}' is not an IDX file")
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", ndim, 4))
    data = np.frombuffer(raw, IDX_TYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise UserError(f"'{path}' holds {data.size} values, its header says {dims}")
    return data.reshape(dims)


def find_idx(root: Path, name: str) -> Path:
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise UserError(f"no Fashion-MNIST at '{root}' ({name}[.gz] missing; install Debian's "
                    "dataset-fashion-mnist or pass FASHION_MNIST=dir)")


def load(root: str | Path = DEFAULT_ROOT) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train": (images N x 28 x 28 uint8, labels N), "valid": ...}."""
    out = {}
    for part, (images_name, labels_name) in IDX_FILES.items():
        images = read_idx(find_idx(Path(root), images_name))
        labels = read_idx(find_idx(Path(root), labels_name)).astype(np.int64)
        if images.ndim != 3 or len(images) != len(labels):
            raise UserError(f"Fashion-MNIST {part}: {images.shape} images, {labels.shape} labels")
        if labels.size and not 0 <= labels.min() <= labels.max() < N_CLASSES:
            raise UserError(f"Fashion-MNIST {part}: labels outside 0..{N_CLASSES - 1}")
        out[part] = images.astype(np.uint8), labels
    return out


def dataset_classes() -> dict[str, list[int]]:
    return {"whole": list(range(N_CLASSES)), **half_classes(N_CLASSES, CLOTHING)}


def write_images(db: Path, images: np.ndarray, labels: np.ndarray, force: bool = True) -> None:
    """Keys %08d in order; Datum 1 x H x W grey uint8."""
    _, height, width = images.shape
    with LmdbWriter(db, force=force, records=len(images)) as writer:
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            writer.put(f"{i:08d}".encode(),
                       encode_raw_datum(image.tobytes(), int(label), 1, height, width))


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first `per_class` images of each class, in their original order."""
    picks = [np.flatnonzero(labels == c)[:per_class] for c in range(N_CLASSES)]
    return np.sort(np.concatenate(picks))


def build_reduced(data: dict[str, tuple[np.ndarray, np.ndarray]], name: str, out: str | Path,
                  progress: bool = False) -> None:
    """reducedNNNN_train: the first NNNN training images of each class, labels unchanged."""
    images, labels = data["train"]
    keep = first_per_class(labels, int(name.removeprefix("reduced")))
    folder = layout.set_folder(out, name, "train")
    write_images(folder / "lmdb", images[keep], labels[keep])
    write_mean(folder / layout.MEAN, compute_mean(folder / "lmdb", progress))


def build_dataset(data: dict[str, tuple[np.ndarray, np.ndarray]], name: str, out: str | Path,
                  progress: bool = False) -> None:
    """NAME_train/{lmdb,mean.binaryproto} and NAME_valid/lmdb (+ idxmap.txt for halves)."""
    if name.startswith("reduced"):
        return build_reduced(data, name, out, progress)
    classes = dataset_classes()[name]
    lookup = np.full(N_CLASSES, -1, np.int64)
    for old, new in label_map(classes).items():
        lookup[old] = new
    for part, (images, labels) in data.items():
        folder = layout.set_folder(out, name, part)
        keep = lookup[labels] >= 0
        write_images(folder / "lmdb", images[keep], lookup[labels[keep]])
        if name in HALF_SETS:
            write_text(folder / layout.IDXMAP, idxmap_text(classes))
        if part == "train":
            write_mean(folder / layout.MEAN, compute_mean(folder / "lmdb", progress))
