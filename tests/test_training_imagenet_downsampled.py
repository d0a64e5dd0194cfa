"""ImageNet downsampled end to end: `make data DATASET=imagenet SIZE=32 IMAGENET=<fake>`, then every
command with ITERS on it, as on the built-in datasets.

The fake (conftest.fake_ilsvrc) has ILSVRC-2012's 1000 class folders of one 24 x 32 image each
(four in the first class) and 100 validation images, so the data step and the 30 nets of Figure
2 at ITERS=20 take about a minute on 2 cores.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import lmdb_items
from transferability.bench.downsampled import lmdb_bytes
from transferability.caffe_env import REPO_ROOT
from transferability.caffe_io import decode_datum
from transferability.data.lmdb_io import entry_count
from transferability.data.wordnet import DEFAULT_ROOT
from transferability.plan import DATA_SETS, DATASETS, figure2_nets, paper_nets

pytestmark = pytest.mark.skipif(not (DEFAULT_ROOT / "data.noun").is_file(),
                                reason="WordNet 3.0 is not in /usr/share/wordnet")
ITERS = "20"


def make(root: Path, *args: str, size: str = "32") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    cmd = ["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT), *args,
           "DATASET=imagenet", f"SIZE={size}", f"DATA={root / 'data'}", f"RUNS={root / 'runs'}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc


@pytest.fixture(scope="module")
def small(fake_ilsvrc, tmp_path_factory) -> Path:
    """The root holding data/ and runs/ after make data SIZE=32 and make -j2 figure2 ITERS=20."""
    root = tmp_path_factory.mktemp("imagenet32")
    make(root, "data", f"IMAGENET={fake_ilsvrc[0]}")
    make(root, "base-A", "base-B", f"ITERS={ITERS}")
    make(root, "transfer", "N=5", "FROM=A", "TO=B", f"ITERS={ITERS}")
    make(root, "-j2", "figure2", f"ITERS={ITERS}")
    return root


def test_the_data_has_every_set_at_32_pixels_in_a_folder_of_its_own(small: Path) -> None:
    data = small / "data"
    assert [p.name for p in data.iterdir()] == ["imagenet32"]
    assert all((data / "imagenet32" / f"{name}.done").is_file() for name in DATA_SETS)
    records = lmdb_items(data / "imagenet32/whole_train/lmdb")
    assert len(records) == 1003
    shapes = {(d.channels, d.height, d.width) for d in map(decode_datum, (v for _, v in records))}
    assert shapes == {(3, 32, 32)}  # 24 x 32 images: the shorter side to 32, the centre square
    db = data / "imagenet32/whole_train/lmdb"  # the disk plan's record (docs/IMAGENET.md)
    measured = (db / "data.mdb").stat().st_size / entry_count(db)
    assert abs(measured / lmdb_bytes(DATASETS["imagenet32"])["record"] - 1) < 0.01, measured


def test_figure2_and_every_command_run_on_it(small: Path) -> None:
    runs = small / "runs"
    trained = {p.parent.relative_to(runs / "imagenet32").as_posix()
               for p in (runs / "imagenet32").rglob("final.caffemodel")}
    assert trained == {net.key for net in figure2_nets("0")}
    assert (runs / "figures/imagenet32_figure2_split0.png").stat().st_size > 10_000
    again = make(small, "transfer", "N=5", "FROM=A", "TO=B", f"ITERS={ITERS}")
    assert "training" not in again.stdout + again.stderr  # finished: nothing trained again
    make(small, "report", f"ITERS={ITERS}")
    assert "imagenet32" in (runs / "report-imagenet32.html").read_text()
    compared = make(small, "compare", f"ITERS={ITERS}").stdout
    assert "imagenet32 is the same classes and splits at 32 x 32" in compared
    assert "a different resolution" in compared
    status = make(small, "status", "PLAN=figure2", f"ITERS={ITERS}").stdout
    assert "30 networks: 30 finished" in status
    slurm = make(small, "slurm", "PLAN=paper", "DRY_RUN=1", f"ITERS={ITERS}").stdout
    finished = [line for line in slurm.splitlines() if "finished, not submitted" in line]
    in_paper = trained & {net.key for net in paper_nets()}
    assert len(finished) == 1 and finished[0].endswith(f"({len(in_paper)})")
    assert "imagenet32/natman/baseA" in slurm
    make(small, "publish", f"ITERS={ITERS}", f"RESULTS={small / 'results'}")
    assert (small / "results/findings.md").is_file()


def test_64_pixels_trains_too(fake_ilsvrc, tmp_path: Path) -> None:
    make(tmp_path, "data", f"IMAGENET={fake_ilsvrc[0]}", size="64")
    make(tmp_path, "base-A", "ITERS=4", size="64")
    (_, value), *_ = lmdb_items(tmp_path / "data/imagenet64/half0A_valid/lmdb")
    datum = decode_datum(value)
    assert (datum.channels, datum.height, datum.width) == (3, 64, 64)
    assert (tmp_path / "runs/imagenet64/split0/baseA/final.caffemodel").is_file()
