"""`transferability transplant`: the first N layers checked against the target, or one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from caffe.proto import caffe_pb2

from transferability.caffe_env import REPO_ROOT

TARGET = REPO_ROOT / "prototxt/fashion-mnist/split0/A3B.prototxt"


def transplant(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO_ROOT / ".venv/bin/transferability"), "transplant",
                           *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def base(fm_base_run: Path) -> Path:
    return fm_base_run / "fashion-mnist/split0/baseA/final.caffemodel"


@pytest.mark.parametrize("n", [1, 7])
def test_copies_exactly_n_layers_with_the_source_bytes(tmp_path: Path, base: Path, n: int) -> None:
    out = tmp_path / "init.caffemodel"
    proc = transplant(base, TARGET, n, out)
    assert proc.returncode == 0, proc.stderr
    source, init = caffe_pb2.NetParameter(), caffe_pb2.NetParameter()
    source.ParseFromString(base.read_bytes())
    init.ParseFromString(out.read_bytes())
    names = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"][:n]
    assert [layer.name for layer in init.layer] == names
    by_name = {layer.name: layer for layer in source.layer}
    for layer in init.layer:
        assert [b.SerializeToString() for b in layer.blobs] == [
            b.SerializeToString() for b in by_name[layer.name].blobs]


def _bad_inputs(tmp_path: Path, base: Path) -> dict[str, tuple[list, str]]:
    truncated = tmp_path / "truncated.caffemodel"
    truncated.write_bytes(base.read_bytes()[: base.stat().st_size // 2])
    text = tmp_path / "text.caffemodel"
    text.write_text("not a model\n")
    imagenet = REPO_ROOT / "prototxt/imagenet/split0/A3B.prototxt"
    return {
        "n0": ([base, TARGET, 0], "N must be from 1 to 7, not 0"),
        "n8": ([base, TARGET, 8], "N must be from 1 to 7, not 8"),
        "truncated": ([truncated, TARGET, 3], "is not a Caffe model"),
        "text": ([text, TARGET, 3], "is not a Caffe model"),
        "missing": ([tmp_path / "none.caffemodel", TARGET, 3], "no such .caffemodel"),
        "shape": ([base, imagenet, 3], "shape mismatch in conv1"),
    }


@pytest.mark.parametrize("case", ["n0", "n8", "truncated", "text", "missing", "shape"])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, base: Path, case: str) -> None:
    args, message = _bad_inputs(tmp_path, base)[case]
    out = tmp_path / "out.caffemodel"
    proc = transplant(*args, out)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr, proc.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_shape_message_names_the_targets_own_input_channels(tmp_path: Path, base: Path) -> None:
    """A 1-channel Fashion-MNIST base into an ImageNet net whose mean image has 3 channels."""
    target = tmp_path / "A3B.prototxt"
    target.write_text((REPO_ROOT / "prototxt/imagenet/split0/A3B.prototxt").read_text())
    mean = caffe_pb2.BlobProto()
    mean.shape.dim.extend([1, 3, 2, 2])
    mean.data.extend([0.0] * 12)
    (tmp_path / "mean.binaryproto").write_bytes(mean.SerializeToString())
    proc = transplant(base, target, 3, tmp_path / "out.caffemodel")
    assert proc.returncode == 2
    assert "has [(16, 1, 5, 5), (16,)]" in proc.stderr, proc.stderr
    assert "needs [(96, 3, 11, 11), (96,)]" in proc.stderr, proc.stderr
