"""The factors grid's far target: scikit-learn's bundled handwritten digits as a Datum LMDB pair.

`sklearn.datasets.load_digits` ships 1,797 8x8 images (UCI's optdigits test set, grey levels
0..16) inside the package, so no download is needed. Each is scaled to 0..255 and upsampled to
Fashion-MNIST's 28x28 (bilinear), bright strokes on a dark ground as Fashion-MNIST's items are, and
written with the project's LMDB writer. The train/valid split is the file `digits_split.csv`
beside this module (index, label, part; stratified: every third image of each class is valid),
with the SHA-256 of the images it was made for, so a changed copy of the data is an error rather
than another split.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np

from transferability.data.fashion_mnist import write_images
from transferability.errors import UserError

SPLIT_FILE = Path(__file__).with_name("digits_split.csv")
SIDE = 28
CLASSES = 10
PARTS = ("train", "valid")


def load() -> tuple[np.ndarray, np.ndarray]:
    """(images N x 8 x 8 uint8 in 0..255, labels N) of scikit-learn's digits."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.rint(digits.images * (255 / 16)).astype(np.uint8)
    return images, digits.target.astype(np.int64)


def fingerprint(images: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()


def upsample(images: np.ndarray, side: int = SIDE) -> np.ndarray:
    """N x h x w uint8 -> N x side x side uint8, bilinear."""
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(im).resize((side, side), Image.BILINEAR))
                     for im in images])


def make_split(labels: np.ndarray) -> list[str]:
    """The rule the recorded split was made by: the 3rd, 6th, ... image of each class is valid."""
    rank = np.zeros(len(labels), np.int64)
    for c in range(CLASSES):
        where = np.flatnonzero(labels == c)
        rank[where] = np.arange(len(where))
    return ["valid" if r % 3 == 2 else "train" for r in rank]


def split_text(images: np.ndarray, labels: np.ndarray) -> str:
    rows = [f"# images sha256 {fingerprint(images)}", "index,label,part"]
    rows += [f"{i},{label},{part}" for i, (label, part)
             in enumerate(zip(labels.tolist(), make_split(labels), strict=True))]
    return "\n".join(rows) + "\n"


def read_split(images: np.ndarray, labels: np.ndarray, path: Path = SPLIT_FILE) -> list[str]:
    """The part of every image, from the recorded split; an error when it was made for others."""
    lines = Path(path).read_text().splitlines()
    want = lines[0].removeprefix("# images sha256 ")
    if want != fingerprint(images):
        raise UserError(f"scikit-learn's digits are not the images {path} was made for "
                        f"(sha256 {fingerprint(images)[:12]}..., recorded {want[:12]}...)")
    rows = list(csv.DictReader(lines[1:]))
    if [int(r["index"]) for r in rows] != list(range(len(labels))) or \
            [int(r["label"]) for r in rows] != labels.tolist():
        raise UserError(f"{path} does not list scikit-learn's digits in order with their labels")
    return [r["part"] for r in rows]


def build(out: Path) -> dict[str, int]:
    """OUT/digits_train/lmdb and OUT/digits_valid/lmdb (1 x 28 x 28 grey); images per part."""
    images, labels = load()
    parts = np.asarray(read_split(images, labels))
    big = upsample(images)
    counts = {}
    for part in PARTS:
        keep = parts == part
        write_images(Path(out) / f"digits_{part}" / "lmdb", big[keep], labels[keep])
        counts[part] = int(keep.sum())
    return counts
