"""Run folders: prepare one network's folder, train it with the real `caffe`, resume it, finish it.

What a run folder holds, and where, is spelled in `transferability.layout`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from google.protobuf import text_format

from transferability import plan
from transferability.caffe_env import REPO_ROOT, caffe_tool, tool_environment
from transferability.caffe_io import caffe_pb2, copy_file, last_error, read_solver
from transferability.errors import UserError
from transferability.layout import (
    FINAL,
    INIT,
    SOLVER,
    TRAIN_LOG,
    TRAIN_VAL,
    check_started,
    data_paths,
    final_model,
    run_dir,
    write_started,
)
from transferability.nets.solver import shorten
from transferability.nets.transplant import transplant
from transferability.plan import Net

_STATE = re.compile(r"^snapshot_iter_(\d+)\.solverstate$")


def _link(target: Path, link: Path) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target.resolve())


def _solver_text(dataset: str, net: Net, iters: int | None, gpu: bool) -> str:
    s = read_solver(REPO_ROOT / "solvers" / dataset / net.group / f"{net.name}.prototxt")
    if iters is not None:
        s = shorten(s, iters)
    if gpu:
        s.solver_mode = caffe_pb2.SolverParameter.GPU
    return text_format.MessageToString(s)


def prepare(runs: Path, data: Path, dataset: str, net: Net, iters: int | None = None,
            gpu: bool = False) -> Path:
    """Create or refresh the run folder; refuse to mix settings with a run already under way."""
    folder = run_dir(runs, dataset, net)
    for path in data_paths(data, dataset, net).values():
        if not path.exists():
            raise UserError(f"{net.key} needs {path}, which is missing; run `make data "
                            f"DATASET={dataset}` first")
    settings = {"dataset": dataset, "net": net.key, "iters": iters}
    check_started(folder, iters, settings)
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in data_paths(data, dataset, net).items():
        _link(path, folder / name)
    shutil.copyfile(REPO_ROOT / "prototxt" / dataset / net.group / f"{net.name}.prototxt",
                    folder / TRAIN_VAL)
    (folder / SOLVER).write_text(_solver_text(dataset, net, iters, gpu))
    write_started(folder, settings)
    return folder


def newest_state(folder: Path) -> tuple[int, Path] | None:
    states = [(int(m[1]), folder / m[0]) for f in folder.glob("*.solverstate")
              if (m := _STATE.match(f.name))]
    return max(states) if states else None


def max_iter(folder: Path) -> int:
    text = (folder / SOLVER).read_text()
    return int(re.search(r"^max_iter: (\d+)", text, re.M)[1])


def caffe_command(folder: Path, weights: Path | None, gpu: str | None) -> list[str]:
    cmd = [str(caffe_tool("caffe")), "train", "-solver", SOLVER,
           "-sigint_effect", "snapshot", "-sighup_effect", "stop"]
    state = newest_state(folder)
    if state:
        cmd += ["-snapshot", state[1].name]
    elif weights is not None:
        cmd += ["-weights", str(weights)]
    if gpu:
        cmd += ["-gpu", gpu]
    return cmd


def _source_weights(runs: Path, dataset: str, net: Net, folder: Path) -> Path | None:
    """The init .caffemodel of a transfer: the source base net's first n layers."""
    if net.source is None:
        return None

    source = final_model(runs, dataset, plan.find(net.source_key))
    if not source.exists():
        raise UserError(f"{net.key} needs {source}: train its base net {net.source_key} first")
    init = folder / INIT
    transplant(source, folder / TRAIN_VAL, net.n, init)
    return init


def _run_caffe(cmd: list[str], folder: Path, resume_iter: int | None) -> int:
    """Run caffe with its log appended to train.log. Ctrl-C: Caffe snapshots, then stops."""
    env = tool_environment()
    env.pop("CAFFE_RESUME_ITER", None)
    if resume_iter is not None:  # read by the project's deterministic-resume patch to Caffe
        env["CAFFE_RESUME_ITER"] = str(resume_iter)
    with open(folder / TRAIN_LOG, "ab") as log:
        log.write(f"# {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env)

        def stop(signum, frame):  # Caffe got the SIGINT too and snapshots; SIGHUP makes it stop
            proc.send_signal(signal.SIGHUP)

        previous = signal.signal(signal.SIGINT, stop)
        try:
            return proc.wait()
        finally:
            signal.signal(signal.SIGINT, previous)


def log_error(log: Path) -> str:
    """The last error line of a run's train.log (caffe_io.last_error)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return last_error(text) or "no error line in the log"


@contextlib.contextmanager
def gpu_lease(runs: Path, gpus: str | None, share: bool = False):
    """Hold one GPU of the comma-separated list for the length of a run, so that parallel runs
    (make -j) never share a GPU unless asked; waits while every listed GPU is busy."""
    if not gpus or share:
        yield gpus
        return
    ids = [g.strip() for g in gpus.split(",") if g.strip()]
    locks = Path(runs) / ".gpu-locks"
    locks.mkdir(parents=True, exist_ok=True)
    while True:
        for gpu in ids:
            handle = open(locks / f"gpu{gpu}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield gpu
            finally:
                handle.close()
            return
        with open(locks / f"gpu{ids[0]}.lock", "w") as handle:  # sleep until one frees up
            fcntl.flock(handle, fcntl.LOCK_EX)


def check_gpu_build() -> None:
    stamp = caffe_tool("caffe").parent.parent / ".stamp"
    if stamp.exists() and " cpu " in f" {stamp.read_text()} ":
        raise UserError(f"GPU asked for, but the Caffe in {stamp.parent} is CPU-only; "
                        "build a CUDA one (make caffe-cuda) or leave GPU unset")


def train(runs: Path, data: Path, dataset: str, key: str, iters: int | None = None,
          gpu: str | None = None) -> Path:
    """Train one network of the plan to its end, resuming where a previous run stopped."""
    net = plan.find(key)
    folder = run_dir(runs, dataset, net)
    if (folder / FINAL).exists():
        print(f"{dataset}/{key}: finished already ({folder / FINAL})")
        return folder / FINAL
    folder = prepare(runs, data, dataset, net, iters, bool(gpu))
    weights = None if newest_state(folder) else _source_weights(runs, dataset, net, folder)
    if gpu:
        check_gpu_build()
    with gpu_lease(runs, gpu, share=bool(os.environ.get("GPU_SHARE"))) as device:
        cmd = caffe_command(folder, weights, device)
        state = newest_state(folder)
        how = f"resuming at iteration {state[0]}" if state else "from the start"
        where = f"GPU {device}" if device else "CPU"
        print(f"{dataset}/{key}: training on the {where} {how} (log: {folder / TRAIN_LOG})",
              flush=True)
        code = _run_caffe(cmd, folder, state[0] if state else None)
    return _finish(folder, dataset, key, code)


def _finish(folder: Path, dataset: str, key: str, code: int) -> Path:
    end = max_iter(folder)
    snapshot = folder / f"snapshot_iter_{end}.caffemodel"
    if code != 0 or not snapshot.exists():
        reached = newest_state(folder)
        where = f"stopped at iteration {reached[0]}" if reached else "stopped"
        hint = "run again to resume" if code == 0 else log_error(folder / TRAIN_LOG)
        raise UserError(f"{dataset}/{key}: caffe {where} (exit {code}): {hint}; "
                        f"log: {folder}/train.log")
    copy_file(snapshot, folder / FINAL)
    print(f"{dataset}/{key}: finished, {folder / FINAL}", file=sys.stderr)
    return folder / FINAL
