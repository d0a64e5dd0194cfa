"""Folders of images written by the tests: a user's own images, as `make data IMAGES=..` reads
them; the top Makefile run as a user runs it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from transferability.caffe_env import REPO_ROOT

COLOURS = ((230, 40, 40), (40, 200, 40), (40, 60, 230), (220, 220, 40), (200, 40, 220))


def write_colour_folders(root: Path, counts: Sequence[int], side: int = 16) -> Path:
    """One folder a class (`c0-red`...), `counts[c]` images each: the class's colour in a square
    at a class-specific place on noise, learnable in a few steps; JPEG and PNG in turn, and the
    first image of class 1 greyscale."""
    rng = np.random.default_rng(7)
    for label, count in enumerate(counts):
        folder = root / f"c{label}"
        folder.mkdir(parents=True)
        for i in range(count):
            image = rng.integers(0, 60, (side, side + i % 3, 3)).astype(np.uint8)
            at = label * side // len(counts)
            image[at:at + side // 3, at:at + side // 3] = COLOURS[label % len(COLOURS)]
            picture = Image.fromarray(image)
            if label == 1 and i == 0:
                picture = picture.convert("L")
            picture.save(folder / f"img{i:03d}.{'png' if i % 2 else 'jpg'}")
    return root


def make(*args: str, check: bool = True, checkout: Path = REPO_ROOT
         ) -> subprocess.CompletedProcess:
    """The top Makefile (of `checkout`), silent, with make's own variables from the test's
    environment left out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    proc = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(checkout), *args],
                          capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"make {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-3000:]}")
    return proc


def own_lines(stderr: str) -> list[str]:
    """stderr less make's own lines about the recipe that failed."""
    return [line for line in stderr.splitlines() if not line.startswith("make: ***")]
