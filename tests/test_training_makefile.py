"""The Makefile drives the real caffe: bases, transfers, selffers, resume after a kill, errors."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
from caffe.proto import caffe_pb2
from google.protobuf import text_format

from tests.conftest import assert_refused_unwritable, hold_snapshot, run_caffe, wait_held
from transferability.caffe_env import REPO_ROOT

ITERS = 12
SPLIT0 = "fashion-mnist/split0"


def make(*args: str, runs: Path, data: Path, iters: int = ITERS, check: bool = True,
         env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = ["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT), f"RUNS={runs}",
           f"DATA={data}", "DATASET=fashion-mnist", f"ITERS={iters}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc


def weights(model: Path) -> dict[str, list[bytes]]:
    net = caffe_pb2.NetParameter()
    net.ParseFromString(model.read_bytes())
    return {layer.name: [np.asarray(b.data, np.float32).tobytes() for b in layer.blobs]
            for layer in net.layer if layer.blobs}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, fm_data: Path) -> Path:
    root = tmp_path_factory.mktemp("runs")
    make("base-A", "base-B", runs=root, data=fm_data)
    make("transfer", "N=3", "FROM=A", "TO=B", runs=root, data=fm_data)
    make("transfer", "N=3", "FROM=A", "TO=B", "FT=1", runs=root, data=fm_data)
    make("transfer", "N=3", "FROM=B", "TO=B", runs=root, data=fm_data)
    return root


def test_run_folder_holds_what_it_ran(runs: Path, fm_data: Path) -> None:
    folder = runs / SPLIT0 / "A3B"
    for name in ("train.log", "final.caffemodel", "init.caffemodel", "solver.prototxt",
                 "train_val.prototxt", "snapshot_iter_12.solverstate"):
        assert (folder / name).is_file(), name
    assert (folder / "train_val.prototxt").read_text() == (
        REPO_ROOT / "prototxt/fashion-mnist/split0/A3B.prototxt").read_text()
    solver = text_format.Parse((folder / "solver.prototxt").read_text(),
                               caffe_pb2.SolverParameter())
    assert solver.max_iter == ITERS and solver.solver_mode == caffe_pb2.SolverParameter.CPU
    assert (folder / "train_lmdb").resolve() == (fm_data / "fashion-mnist/half0B_train/lmdb")
    assert (folder / "mean.binaryproto").resolve() == (
        fm_data / "fashion-mnist/half0B_train/mean.binaryproto")
    assert "Optimization Done" in (folder / "train.log").read_text()


def test_frozen_layers_are_bit_identical_to_the_source(runs: Path) -> None:
    base_a = weights(runs / SPLIT0 / "baseA/final.caffemodel")
    base_b = weights(runs / SPLIT0 / "baseB/final.caffemodel")
    frozen = weights(runs / SPLIT0 / "A3B/final.caffemodel")
    selffer = weights(runs / SPLIT0 / "B3B/final.caffemodel")
    tuned = weights(runs / SPLIT0 / "A3B+/final.caffemodel")
    for layer in ("conv1", "conv2", "conv3"):
        assert frozen[layer] == base_a[layer], layer
        assert selffer[layer] == base_b[layer], layer
        assert tuned[layer][0] != base_a[layer][0], f"{layer} did not move in A3B+"
    for layer in ("conv4", "conv5", "fc6", "fc7", "fc8"):
        assert frozen[layer][0] != base_a[layer][0], layer


def test_init_model_holds_exactly_n_layers_of_the_source(runs: Path) -> None:
    init = weights(runs / SPLIT0 / "A3B/init.caffemodel")
    base_a = weights(runs / SPLIT0 / "baseA/final.caffemodel")
    assert list(init) == ["conv1", "conv2", "conv3"]
    assert all(init[name] == base_a[name] for name in init)


def test_a_finished_run_is_not_run_again(runs: Path, fm_data: Path) -> None:
    final = runs / SPLIT0 / "A3B/final.caffemodel"
    before = final.stat().st_mtime_ns
    make("transfer", "N=3", "FROM=A", "TO=B", runs=runs, data=fm_data)
    assert final.stat().st_mtime_ns == before


def test_random_layers_stay_at_their_initial_values(tmp_path: Path, fm_data: Path) -> None:
    make("random", "N=3", runs=tmp_path, data=fm_data)
    folder = tmp_path / "fashion-mnist/whole/random3"
    solver = text_format.Parse((folder / "solver.prototxt").read_text(),
                               caffe_pb2.SolverParameter())
    solver.max_iter, solver.snapshot, solver.snapshot_prefix = 0, 0, "start"
    (folder / "start.prototxt").write_text(text_format.MessageToString(solver))
    run_caffe("train", "-solver", "start.prototxt", cwd=folder)
    start, end = weights(folder / "start_iter_0.caffemodel"), weights(folder / "final.caffemodel")
    for layer in ("conv1", "conv2", "conv3"):
        assert start[layer] == end[layer], layer
    assert start["conv4"][0] != end["conv4"][0]


def test_a_killed_run_resumes_to_the_same_weights(tmp_path: Path, fm_data: Path) -> None:
    iters = 40
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    make("base-A", runs=whole, data=fm_data, iters=iters)
    cmd = ["make", "-s", "-C", str(REPO_ROOT), "base-A", f"RUNS={killed}", f"DATA={fm_data}",
           "DATASET=fashion-mnist", f"ITERS={iters}"]
    folder = killed / SPLIT0 / "baseA"
    fifo = hold_snapshot(folder, 21)  # killed while it waits there
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    wait_held(fifo, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    fifo.unlink()
    assert not (folder / "final.caffemodel").exists()
    out = make("base-A", runs=killed, data=fm_data, iters=iters)
    assert "resuming at iteration 14" in out.stdout
    assert "Resuming data at batch" in (folder / "train.log").read_text()
    uninterrupted = whole / SPLIT0 / "baseA/final.caffemodel"
    assert weights(folder / "final.caffemodel") == weights(uninterrupted)


@pytest.mark.parametrize("args, message", [
    (["transfer", "N=0"], "N must be an integer from 1 to 7, not '0'"),
    (["transfer", "N=8"], "N must be an integer from 1 to 7, not '8'"),
    (["transfer", "N=2", "FROM=C"], "FROM must be A or B, not 'C'"),
    (["transfer", "N=2", "TO=x"], "TO must be A or B, not 'x'"),
    (["base-A", "SPLIT=9"], "unknown SPLIT '9'"),
    (["base-A", "DATASET=cifar"], "unknown DATASET 'cifar'"),
    (["base-A", "DATASET=imagenet"], "DATASET=imagenet needs IMAGENET="),
    (["base-A", "CAFFE_HOME=/nonexistent"], "no Caffe at CAFFE_HOME=/nonexistent"),
    (["transfer", "N=2", "FT=no"], "FT must be 1 (fine-tuned) or 0 or empty (frozen), not 'no'"),
    (["transfer", "N=2", "FT=false"], "FT must be 1 (fine-tuned) or 0 or empty (frozen)"),
])
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    proc = make(*args, runs=tmp_path, data=tmp_path, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("goal", [["base-A"], ["transfer", "N=2"], ["slurm", "PLAN=demo"],
                                  ["factors"]])
def test_a_runs_folder_that_cannot_be_written_is_one_line(tmp_path: Path, goal: list[str]) -> None:
    assert_refused_unwritable(tmp_path, "RUNS", *goal)


def test_a_failed_base_stops_its_transfer(tmp_path: Path, fm_data: Path) -> None:
    data = tmp_path / "data" / "fashion-mnist"
    data.mkdir(parents=True)
    for entry in (fm_data / "fashion-mnist").iterdir():
        (data / entry.name).symlink_to(entry)
    (data / "half0A_train").unlink()
    (data / "half0A_train" / "lmdb").mkdir(parents=True)  # an empty folder: no database
    (data / "half0A_train" / "mean.binaryproto").symlink_to(
        fm_data / "fashion-mnist/half0A_train/mean.binaryproto")
    proc = make("transfer", "N=2", runs=tmp_path / "runs", data=tmp_path / "data", check=False)
    assert proc.returncode != 0
    assert "fashion-mnist/split0/baseA: caffe stopped" in proc.stderr
    assert not list((tmp_path / "runs").rglob("final.caffemodel"))


def _corename(env: dict) -> str:
    code = ("import ctypes; f = ctypes.CDLL('libopenblas.so.0').openblas_get_corename; "
            "f.restype = ctypes.c_char_p; print(f().decode())")
    return subprocess.run(["python3", "-c", code], capture_output=True, text=True, check=True,
                          env=env).stdout.strip()


def _exported(env: dict) -> str:
    """OPENBLAS_CORETYPE as a recipe of the Makefile (and so caffe) sees it in its environment."""
    rule = 'blas-env: ; @echo "[$$OPENBLAS_CORETYPE]"'
    proc = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT),
                           "--eval", rule, "blas-env"], capture_output=True, text=True, env=env,
                          check=True)
    return proc.stdout.strip().splitlines()[-1].strip("[]")


def test_openblas_runs_kernels_the_cpu_has() -> None:
    """make names OpenBLAS's kernels only where OpenBLAS fell back to pre-AVX2 ones, names ones
    that load, and leaves a user's own OPENBLAS_CORETYPE alone."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    own = _corename(env)
    chosen = _exported(env)
    pre_avx2 = ("Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Sandybridge")
    if chosen:
        assert own in pre_avx2
        assert _corename({**env, "OPENBLAS_CORETYPE": chosen}) == chosen
    else:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("flags")).split()
        assert own not in pre_avx2 or "avx2" not in flags
    assert _exported({**env, "OPENBLAS_CORETYPE": "Haswell"}) == "Haswell"


def test_weights_do_not_depend_on_the_thread_count(tmp_path: Path, fm_data: Path) -> None:
    """Caffe's CPU layers spread images and channels over OMP_NUM_THREADS threads; a run on one
    thread, two and three (more than the batch divides evenly) ends at the same weights, so that
    a run resumed on a machine with another core count ends where it would have."""
    finals = []
    for threads in ("1", "2", "3"):
        runs = tmp_path / f"threads{threads}"
        make("base-A", runs=runs, data=fm_data, env={"OMP_NUM_THREADS": threads})
        finals.append(weights(runs / SPLIT0 / "baseA/final.caffemodel"))
    assert finals[0] == finals[1] == finals[2]


def _jobs(*args: str) -> str:
    return subprocess.run(["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT), *args,
                           "jobs"], capture_output=True, text=True, check=True).stdout.strip()


def test_the_demo_uses_every_core() -> None:
    """make demo trains one net per core at once, each on one thread; a net trained alone gets
    every core, and under make -jN the cores are shared among the N."""
    assert _jobs("CORES=16").startswith("demo: 16 nets at a time, 1 thread(s) each")
    assert _jobs("CORES=16", "JOBS=4").startswith("demo: 4 nets at a time, 4 thread(s) each")
    assert _jobs("CORES=16").endswith("this make: 16 thread(s) a net")
    assert _jobs("-j4", "CORES=16").endswith("this make: 4 thread(s) a net")
    assert _jobs("-j32", "CORES=16").endswith("this make: 1 thread(s) a net")
    cores = os.cpu_count()
    assert _jobs().startswith(f"demo: {cores} nets at a time")
