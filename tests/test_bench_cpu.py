"""`make bench-cpu`'s pieces: the PyTorch peer is described from the same prototxt as Caffe's net,
and a missing engine is one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from transferability.bench.cpu import DEMO_NET, torch_spec
from transferability.caffe_env import REPO_ROOT


def test_the_pytorch_peer_is_the_demo_net_layer_for_layer() -> None:
    spec = torch_spec(DEMO_NET, 64, 1)
    kinds = [layer["type"] for layer in spec["layers"]]
    assert kinds.count("Convolution") == 5 and kinds.count("InnerProduct") == 3
    assert kinds.count("Pooling") == 3 and kinds.count("LRN") == 2
    assert kinds.count("Dropout") == 2 and kinds.count("ReLU") == 7
    conv1, conv2 = [layer for layer in spec["layers"] if layer["type"] == "Convolution"][:2]
    assert (conv1["num_output"], conv1["kernel"], conv1["stride"]) == (16, 5, 2)
    assert (conv2["group"], conv2["pad"]) == (2, 2)
    lrn = next(layer for layer in spec["layers"] if layer["type"] == "LRN")
    assert (lrn["local_size"], lrn["beta"]) == (5, 0.75)
    assert spec["batch"] == 64 and spec["classes"] == 10 and spec["input"] == [1, 28, 28]


def test_a_missing_stock_engine_is_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "transferability.cli", "bench-cpu",
                           "--stock", str(tmp_path / "none")], capture_output=True, text=True,
                          cwd=REPO_ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"transferability bench-cpu: error: no Caffe at {tmp_path / 'none'} (bin/caffe missing); "
        "run `make bench-cpu`, which builds both"]
