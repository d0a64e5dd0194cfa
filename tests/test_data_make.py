"""data_prep/data.mk, included by a scratch Makefile as the top-level Makefile includes it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import assert_refused_unwritable, fill, lmdb_items
from tests.fake_imagenet import write_fake_imagenet
from tests.test_data_fashion_mnist import write_small_fashion_mnist
from transferability.caffe_env import REPO_ROOT, caffe_home
from transferability.data.wordnet import DEFAULT_ROOT
from transferability.plan import DATA_SETS

NOTHING_TO_DO = "make: Nothing to be done for 'data'.\n"
SCRATCH = """\
SHELL := /bin/bash
shell_quote = '$(subst ','\\'',$(1))'
PY := {python}
CAFFE_HOME := {caffe_home}
DATA ?= $(CURDIR)/data
DATASET ?= fashion-mnist
FASHION_MNIST ?= /usr/share/datasets/fashion-mnist
help:
\t@awk 'BEGIN {{FS = ":.*## "}} /^[a-zA-Z0-9_.-]+:.*## / {{print $$1}}' $(MAKEFILE_LIST)
include plan.mk
include {data_mk}
"""


@pytest.fixture
def make(tmp_path: Path):
    (tmp_path / "Makefile").write_text(SCRATCH.format(
        python=sys.executable, caffe_home=caffe_home(), data_mk=REPO_ROOT / "data_prep/data.mk"))
    # the plan's lists, as the top Makefile includes them before data.mk
    rules = subprocess.run([sys.executable, "-m", "transferability.plan.makerules"], check=True,
                           capture_output=True, text=True, cwd=REPO_ROOT / "python").stdout
    (tmp_path / "plan.mk").write_text(rules)

    def run(*args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
        return subprocess.run(["make", "--no-print-directory", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True)
    return run


def test_help_lists_the_targets(make) -> None:
    assert make("help").stdout.split() == ["data", "bench-data", "data-digits"]


def test_fashion_mnist_builds_once(make, tmp_path: Path) -> None:
    source = write_small_fashion_mnist(tmp_path / "fm", 40, 20)
    proc = make("-j2", "data", f"FASHION_MNIST={source}")
    assert proc.returncode == 0, proc.stderr
    stamps = [tmp_path / "data/fashion-mnist" / f"{name}.done" for name in DATA_SETS]
    assert all(stamp.exists() for stamp in stamps)
    assert len(lmdb_items(tmp_path / "data/fashion-mnist/half2B_valid/lmdb")) == 10
    times = [stamp.stat().st_mtime_ns for stamp in stamps]
    again = make("data", f"FASHION_MNIST={source}")
    assert (again.returncode, again.stdout, again.stderr) == (0, NOTHING_TO_DO, "")
    assert times == [stamp.stat().st_mtime_ns for stamp in stamps]


def test_missing_inputs_are_one_line(make, tmp_path: Path) -> None:
    proc = make("data", f"FASHION_MNIST={tmp_path / 'nope'}")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == (
        f"error: no Fashion-MNIST at FASHION_MNIST={tmp_path / 'nope'} (expected "
        "train-images-idx3-ubyte[.gz] and the other IDX files)")
    proc = make("data", "DATASET=imagenet")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "pass IMAGENET=/path/to/ILSVRC2012" in proc.stderr
    proc = make("data", "DATASET=cifar")
    assert proc.returncode == 2 and "DATASET=cifar is not one of" in proc.stderr


@pytest.mark.parametrize("goal", ["data", "data-digits"])
def test_a_data_folder_that_cannot_be_written_is_one_line(tmp_path: Path, goal: str) -> None:
    assert_refused_unwritable(tmp_path, "DATA", goal)


def test_a_disk_that_fills_in_an_lmdb_build_is_one_line_and_builds_again(
        make, tmp_path: Path, small_fs) -> None:
    """DATA on a small tmpfs that holds about half of the sets: the LMDB that cannot grow stops
    the build with one line (the file system, its free space, what the LMDB needs), leaves no
    temporary folder and no stamp, and the same command builds the same records once there is
    space."""
    source = write_small_fashion_mnist(tmp_path / "fm", 400, 100)
    assert make("data", f"FASHION_MNIST={source}", f"DATA={tmp_path / 'whole'}").returncode == 0
    data = small_fs(16 << 20).resolve()
    ballast = fill(data, leave=4 << 20)
    proc = make("data", f"FASHION_MNIST={source}", f"DATA={data}")
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, proc.stderr
    assert errors[0].startswith(f"fashion_mnist.py: error: out of space: {data} (tmpfs) has ")
    assert f" free, and the LMDB {data}/fashion-mnist/" in errors[0]
    assert errors[0].endswith("; nothing half-written is left: once space is freed, the same "
                              "command builds it again")
    assert not [p for p in data.rglob("*") if ".tmp-" in p.name or p.suffix == ".done"]
    ballast.unlink()
    assert make("data", f"FASHION_MNIST={source}", f"DATA={data}").returncode == 0
    built = sorted(p.relative_to(data) for p in data.rglob("*") if p.is_file())
    assert built == sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").rglob(
        "*") if p.is_file())
    for path in built:
        if path.name == "data.mdb":
            assert lmdb_items(data / path.parent) == lmdb_items(tmp_path / "whole" / path.parent)
        elif path.name != "lock.mdb":
            assert (data / path).read_bytes() == (tmp_path / "whole" / path).read_bytes(), path


@pytest.mark.skipif(not (DEFAULT_ROOT / "data.noun").is_file(),
                    reason="WordNet 3.0 is not in /usr/share/wordnet (apt install wordnet-base)")
def test_imagenet_pipeline_on_a_miniature(make, tmp_path: Path) -> None:
    # Fish and cat (organisms), cabbage (listed natural), cliff (geological formation);
    # a chain-link fence and a racing car (man-made). Three train images a class.
    wnids = ["n01440764", "n02123045", "n03000134", "n04037443", "n07714571", "n09246464"]
    imagenet = write_fake_imagenet(tmp_path / "ILSVRC2012", wnids, 3, 2)
    args = ("data", "DATASET=imagenet", f"IMAGENET={imagenet}", "DATA_RESIZE=16")
    proc = make("-j2", *args)
    assert proc.returncode == 0, proc.stderr
    root = tmp_path / "data/imagenet"
    assert all((root / f"{name}.done").exists() for name in DATA_SETS)
    assert (root / "halfnatmanA_valid/idxmap.txt").read_text() == "0 0\n1 1\n4 2\n5 3\n"
    assert len(lmdb_items(root / "halfnatmanB_train/lmdb")) == 6
    assert len(lmdb_items(root / "reduced0002_train/lmdb")) == 12
    assert os.path.samefile(root / "reduced1300_train/lmdb/data.mdb",
                            root / "whole_train/lmdb/data.mdb")
    assert (root / "reduced1300_train/mean.binaryproto").read_bytes() == \
        (root / "whole_train/mean.binaryproto").read_bytes()
    assert not (root / "reduced0001_valid").exists()
    again = make(*args)
    assert (again.returncode, again.stdout, again.stderr) == (0, NOTHING_TO_DO, "")


def test_a_fresh_clone_checks_data_after_writing_the_plans_lists(tmp_path: Path) -> None:
    """In a fresh clone make reads data.mk before it has written plan.mk: the DATASET check must
    wait for the lists, not refuse every dataset against an empty one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    proc = subprocess.run(["make", "--no-print-directory", "data",
                           f"PLAN_MK={tmp_path / 'plan.mk'}", f"DATA={tmp_path / 'data'}",
                           f"FASHION_MNIST={tmp_path / 'nope'}"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert (tmp_path / "plan.mk").is_file()
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0].startswith(
        f"error: no Fashion-MNIST at FASHION_MNIST={tmp_path / 'nope'}"), proc.stderr
