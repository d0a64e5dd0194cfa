"""`make base-A IMAGENET=<fake ILSVRC-2012> ITERS=2`: the paper's CaffeNet, end to end on the CPU.

The fake has the real 1000 class folders (one image each) and the devkit; ITERS=2 runs two
iterations of 256 images with three tests of the one validation batch half A holds. Also: what the
run leaves on disk, the disk plan's sizes against what was written, and the refusals.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from caffe.proto import caffe_pb2
from google.protobuf import text_format

from transferability.caffe_env import REPO_ROOT
from transferability.data.disk_plan import raw_record_bytes
from transferability.data.lmdb_io import entry_count
from transferability.data.wordnet import DEFAULT_ROOT
from transferability.nets.caffenet import PROFILES, parameter_count

pytestmark = pytest.mark.skipif(not (DEFAULT_ROOT / "data.noun").is_file(),
                                reason="WordNet 3.0 is not in /usr/share/wordnet")


def transferability(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "transferability.cli", *map(str, args)],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def imagenet_run(fake_ilsvrc, tmp_path_factory) -> Path:
    """The root holding data/ and runs/ after make base-A on the fake."""
    root = tmp_path_factory.mktemp("imagenet")
    cmd = ["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT), "base-A",
           f"IMAGENET={fake_ilsvrc[0]}", "ITERS=2", f"DATA={root / 'data'}",
           f"RUNS={root / 'runs'}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return root


def test_base_a_ends_with_a_final_model_and_two_snapshots(imagenet_run: Path) -> None:
    folder = imagenet_run / "runs/imagenet/split0/baseA"
    assert (folder / "final.caffemodel").is_file()
    assert len(list(folder.glob("*.solverstate"))) <= 2
    solver = text_format.Parse((folder / "solver.prototxt").read_text(),
                               caffe_pb2.SolverParameter())
    assert (solver.max_iter, list(solver.test_iter)) == (2, [1])  # half A's 50 images: 1 batch
    written = [p for p in folder.iterdir() if p.is_file() and not p.is_symlink()]
    assert {oct(p.stat().st_mode & 0o777) for p in written} == {"0o644"}


def test_parameter_count_is_what_caffe_stores(imagenet_run: Path, fm_base_run: Path) -> None:
    for profile, model in ((PROFILES["imagenet"], imagenet_run / "runs/imagenet/split0/baseA"),
                           (PROFILES["fashion-mnist"], fm_base_run / "fashion-mnist/split0/baseA")):
        net = caffe_pb2.NetParameter()
        net.ParseFromString((model / "final.caffemodel").read_bytes())
        stored = sum(len(blob.data) for layer in net.layer for blob in layer.blobs)
        assert stored == parameter_count(profile)
    state = next((imagenet_run / "runs/imagenet/split0/baseA").glob("*.solverstate"))
    assert abs(state.stat().st_size / (4 * parameter_count(PROFILES["imagenet"])) - 1) < 0.001


def test_the_disk_plans_record_is_what_lmdb_wrote(imagenet_run: Path) -> None:
    db = imagenet_run / "data/imagenet/whole_train/lmdb"
    measured = (db / "data.mdb").stat().st_size / entry_count(db)
    assert abs(measured / raw_record_bytes(256) - 1) < 0.01, measured


def test_a_transfer_says_it_trains_its_base_first(imagenet_run: Path) -> None:
    runs = imagenet_run / "runs"
    proc = transferability("train", "--check-only", "--runs", runs, "--iters", "2", "imagenet",
                           "split0/B1A")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ("imagenet/split0/B1A needs imagenet/split0/baseB, which is not "
                           "trained yet: training it first (2 iterations), then split0/B1A\n")
    proc = transferability("train", "--check-only", "--runs", runs.parent / "fresh", "imagenet",
                           "split0/A3B")
    assert proc.stdout == ("imagenet/split0/A3B needs imagenet/split0/baseA, which is not "
                           "trained yet: training it first (450,000 iterations, about 9.5 days "
                           "on the paper's K20 GPU), then split0/A3B\n")
    proc = transferability("train", "--check-only", "--runs", runs, "--iters", "2", "imagenet",
                           "split0/A1B")
    assert (proc.returncode, proc.stdout) == (0, "")  # baseA is there


def test_a_run_that_will_not_fit_is_one_line_and_writes_nothing(imagenet_run: Path) -> None:
    runs = imagenet_run / "runs"
    proc = transferability("train", "--runs", runs, "--data", imagenet_run / "data", "--iters",
                           "2", "--disk-margin", "100P", "imagenet", "split0/A1A")
    assert proc.returncode == 2
    assert proc.stderr == (
        "transferability train: error: imagenet/split0/A1A (2 snapshots of 488 MB and the final "
        "model) needs about 1.5 GB and DISK_MARGIN=112590 TB left free in "
        f"{runs / 'imagenet/split0'}, which has " + proc.stderr.split(", which has ")[1])
    assert proc.stderr.endswith(" free; free space or choose another RUNS\n")
    assert not (runs / "imagenet/split0/A1A").exists()
    proc = transferability("train", "--runs", runs, "--data", imagenet_run / "data",
                           "--keep-snapshots", "0", "imagenet", "split0/A1A")
    assert proc.returncode == 2
    assert proc.stderr == ("transferability train: error: KEEP_SNAPSHOTS must be a count of at "
                           "least 1 or 'all', not '0'\n")
    assert sorted(os.listdir(runs / "imagenet/split0")) == [".baseA.lock", "baseA"]
