"""Miniature ILSVRC-2012 folders of generated JPEGs, for the ImageNet data path's tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy.io import savemat

from transferability.data.synthetic import camera_grain, synthetic_image


def write_fake_imagenet(root: str | Path, wnids: list[str], train_per_class: int,
                        val_per_class: int, height: int = 30, width: int = 40) -> Path:
    """A miniature ILSVRC-2012 folder: train/<wnid>/<wnid>_<i>.JPEG, val/ILSVRC2012_val_*.JPEG
    and Caffe's val.txt (labels in sorted-WNID order); for dry runs of the ImageNet pipeline."""
    root = Path(root)
    rng = np.random.default_rng(1)
    grain = camera_grain(rng, height, width)
    val_lines = []
    for label, wnid in enumerate(sorted(wnids)):
        (root / "train" / wnid).mkdir(parents=True, exist_ok=True)
        for i in range(train_per_class):
            image = synthetic_image(rng, height, width, grain)
            cv2.imwrite(str(root / "train" / wnid / f"{wnid}_{i + 1}.JPEG"), image)
        for _ in range(val_per_class):
            name = f"ILSVRC2012_val_{len(val_lines) * 7 % 99991 + 1:08d}.JPEG"
            val_lines.append(f"{name} {label}\n")
    (root / "val").mkdir(parents=True, exist_ok=True)
    for line in val_lines:
        image = synthetic_image(rng, height, width, grain)
        cv2.imwrite(str(root / "val" / line.split()[0]), image)
    (root / "val.txt").write_text("".join(val_lines))
    return root


def write_fake_ilsvrc2012(root: str | Path, wnids: list[str], train_per_class: int = 1,
                          val_images: int = 100, height: int = 24, width: int = 32,
                          seed: int = 2) -> dict[str, int]:
    """A fake ILSVRC-2012 in the real layout, for the data path's tests:

    - train/<wnid>/<wnid>_<i>.JPEG, train_per_class a class; the first class also holds a
      greyscale JPEG, a CMYK JPEG and a PNG named .JPEG (as ILSVRC-2012 does), and a macOS
      `._` twin of a file, which is no image;
    - val/ILSVRC2012_val_<n>.JPEG, image n of class (7 n mod classes), numbered from 1;
    - ILSVRC2012_devkit_t12/data/meta.mat, whose ILSVRC2012_IDs number the classes in another
      order than sorted WNIDs (a shuffle), plus internal synsets above 1000 as the real one has,
      and ILSVRC2012_validation_ground_truth.txt (one ID a validation image).

    Returns the truth the lists must reproduce: each validation file's sorted-WNID label.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    grain = camera_grain(rng, height, width)
    classes = sorted(wnids)
    for wnid in classes:
        folder = root / "train" / wnid
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(train_per_class):
            cv2.imwrite(str(folder / f"{wnid}_{i + 1}.JPEG"), synthetic_image(rng, height, width,
                                                                               grain))
    first = root / "train" / classes[0]
    odd = train_per_class + 1
    picture = synthetic_image(rng, height, width, grain)
    cv2.imwrite(str(first / f"{classes[0]}_{odd}.JPEG"), picture[:, :, 0])  # greyscale
    rgb = Image.fromarray(np.ascontiguousarray(picture[:, :, ::-1]))
    rgb.convert("CMYK").save(first / f"{classes[0]}_{odd + 1}.JPEG", "JPEG")
    cv2.imwrite(str(first / f"{classes[0]}_{odd + 2}.png"), picture)
    (first / f"{classes[0]}_{odd + 2}.png").rename(first / f"{classes[0]}_{odd + 2}.JPEG")
    (first / f"._{classes[0]}_1.JPEG").write_bytes(b"\x00\x05\x16\x07" + bytes(60))

    ids = rng.permutation(len(classes)) + 1  # ids[label]: the devkit's number of the class
    inner = [(1000 + i + 1, f"n{90000000 + i:08d}") for i in range(3)]  # not leaves: no images
    synsets = np.array([(int(ids[label]), wnid) for label, wnid in enumerate(classes)] + inner,
                       dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O")])
    devkit = root / "ILSVRC2012_devkit_t12" / "data"
    devkit.mkdir(parents=True, exist_ok=True)
    savemat(devkit / "meta.mat", {"synsets": synsets})
    (root / "val").mkdir(parents=True, exist_ok=True)
    truth, lines = {}, []
    for n in range(1, val_images + 1):
        label = 7 * n % len(classes)
        name = f"ILSVRC2012_val_{n:08d}.JPEG"
        cv2.imwrite(str(root / "val" / name), synthetic_image(rng, height, width, grain))
        truth[name] = label
        lines.append(f"{ids[label]}\n")
    (devkit / "ILSVRC2012_validation_ground_truth.txt").write_text("".join(lines))
    return truth
