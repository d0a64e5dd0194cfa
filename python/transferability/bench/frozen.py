"""Benchmark: `caffe time` of a frozen transfer (A7B) against its base net on the ImageNet CaffeNet.

Caffe computes no backward pass below the lowest layer that learns, so A7B, which trains fc8
alone, should cost little more than a forward pass.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from google.protobuf import text_format

from transferability.caffe_env import REPO_ROOT, caffe_tool, tool_environment
from transferability.caffe_io import encode_raw_datum, read_prototxt
from transferability.data.lmdb_io import LmdbWriter
from transferability.plan import find, layout
from transferability.plan.datasets import IMAGENET

_AVERAGE = re.compile(r"Average (Forward|Backward|Forward-Backward)(?: pass)?: ([\d.]+) ms")


def _random_lmdb(path: Path, images: int, shape: tuple[int, int, int]) -> None:
    rng = np.random.default_rng(0)
    with LmdbWriter(path) as db:
        for i in range(images):
            pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
            db.put(f"{i:08d}".encode(), encode_raw_datum(pixels.tobytes(), i % 1000, *shape))


def _net_with_batch(name: str, batch: int, folder: Path) -> Path:
    net = read_prototxt(layout.generated_net(REPO_ROOT, IMAGENET.name, find(name)))
    for layer in net.layer:
        if layer.type == "Data":
            layer.data_param.batch_size = batch
    path = folder / (name.replace("/", "_") + ".prototxt")
    path.write_text(text_format.MessageToString(net))
    return path


def time_net(model: Path, iterations: int, cwd: Path) -> dict[str, float]:
    proc = subprocess.run([str(caffe_tool("caffe")), "time", "-model", str(model),
                           "-iterations", str(iterations)],
                          cwd=cwd, capture_output=True, text=True, check=True,
                          env=tool_environment())
    return {kind: float(ms) for kind, ms in _AVERAGE.findall(proc.stderr)}


def run(batch: int = 32, iterations: int = 5) -> dict[str, dict[str, float]]:
    """Times of split0/baseA and split0/A7B at the given batch size, in ms per iteration."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        side = IMAGENET.image
        _random_lmdb(folder / layout.TRAIN_LMDB, batch, (IMAGENET.channels, side, side))
        (folder / layout.VAL_LMDB).symlink_to(folder / layout.TRAIN_LMDB)
        subprocess.run([str(caffe_tool("compute_image_mean")), layout.TRAIN_LMDB, layout.MEAN],
                       cwd=folder, check=True, capture_output=True)
        return {name: time_net(_net_with_batch(name, batch, folder), iterations, folder)
                for name in ("split0/baseA", "split0/A7B")}
