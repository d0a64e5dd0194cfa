"""Generated photographs-like JPEGs (smooth colour fields plus grain), for tests and benchmarks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def synthetic_image(rng: np.random.Generator, height: int, width: int,
                    grain: np.ndarray | None = None) -> np.ndarray:
    """BGR uint8: random colour gradients and blobs (drawn small, then enlarged) plus grain."""
    small_h, small_w = max(height // 8, 2), max(width // 8, 2)
    y, x = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    small = np.empty((small_h, small_w, 3), np.float32)
    for channel in range(3):
        a, b, c = rng.uniform(-1, 1, 3)
        field = a * x / small_w + b * y / small_h + c
        for _ in range(3):
            cy, cx, r = rng.uniform(0, small_h), rng.uniform(0, small_w), rng.uniform(2, 20)
            field += rng.uniform(-1, 1) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))
        small[:, :, channel] = 128 + 60 * field
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    if grain is None:
        grain = camera_grain(rng, height, width)
    shift = (int(rng.integers(height)), int(rng.integers(width)))
    image += np.roll(grain, shift, axis=(0, 1))
    return np.clip(image, 0, 255).astype(np.uint8)


def camera_grain(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    return rng.normal(0, 12, (height, width, 3)).astype(np.float32)


def write_jpegs(folder: str | Path, count: int, height: int = 375, width: int = 500,
                seed: int = 0, quality: int = 90) -> list[str]:
    """Write count JPEGs named img_00000.JPEG ...; returns their names."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    grain = camera_grain(rng, height, width)
    names = []
    for i in range(count):
        name = f"img_{i:05d}.JPEG"
        image = synthetic_image(rng, height, width, grain)
        cv2.imwrite(str(folder / name), image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        names.append(name)
    return names
