"""Run folders: prepare one network's folder, train it with the real `caffe`, resume it, finish it.

A run folder `RUNS/<dataset>/<group>/<net>/` holds links to its LMDBs and mean, the train_val and
solver it ran, `train.log`, the snapshots, and `final.caffemodel` once the solver has finished.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

from google.protobuf import text_format
from google.protobuf.message import DecodeError

from transferability import caffe_io, plan
from transferability.caffe_env import REPO_ROOT, caffe_tool, tool_environment
from transferability.caffe_io import caffe_pb2
from transferability.data.lmdb_io import entry_count
from transferability.disk import (
    FILE_MODE,
    FULL,
    check_free,
    copy_file,
    free_bytes,
    human,
    out_of_space,
    write_text,
)
from transferability.errors import UserError
from transferability.nets.caffenet import parameter_count
from transferability.nets.generate import profile, texts
from transferability.nets.solver import shorten
from transferability.nets.transplant import transplant
from transferability.plan import Net, layout
from transferability.plan.datasets import dataset as dataset_record
from transferability.training.logparse import last_error_line

KEEP_SNAPSHOTS = 2  # the newest two whole snapshots: one to resume from, one if that is cut
PRUNE_EVERY = 60.0  # seconds between looks for snapshots to prune while Caffe trains
PR_SET_PDEATHSIG = 1  # prctl(2)
_STATE = re.compile(r"^snapshot_iter_(\d+)\.solverstate$")


def _link(target: Path, link: Path) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target.resolve())


def find_net(dataset: str, key: str) -> Net:
    """The net `group/name` of the plan, if the dataset has the data it trains on (a user's own
    images may have no natman halves and fewer reduced sets)."""
    net = plan.find(key)
    if why := dataset_record(dataset).lacks(net.train_set):
        raise UserError(why)
    return net


def generated(dataset: str, net: Net) -> tuple[str, str]:
    """The net's train_val and solver texts: a built-in dataset's committed files, a user's own
    images' generated from their description (registered with the plan)."""
    if dataset not in plan.DATASETS:
        return texts(dataset, net)
    train_val = layout.generated_net(REPO_ROOT, dataset, net)
    if not train_val.is_file():  # the factors grid's sources exist for Fashion-MNIST only
        raise UserError(f"no {dataset} network '{net.key}' ({train_val} is missing; `make "
                        "prototxt` writes every generated one)")
    return train_val.read_text(), layout.generated_solver(REPO_ROOT, dataset, net).read_text()


def _solver(dataset: str, net: Net, iters: int | None, gpu: bool = False,
            val_batches: int | None = None):
    """The SolverParameter a run folder runs: ITERS shortens it, and then tests no more batches
    than the validation set holds (`val_batches`; a fake or small set need not be read 50 times)."""
    s = text_format.Parse(generated(dataset, net)[1], caffe_pb2.SolverParameter())
    if iters is not None:
        s = shorten(s, iters)
        if val_batches:
            s.test_iter[:] = [min(n, val_batches) for n in s.test_iter]
    if gpu:
        s.solver_mode = caffe_pb2.SolverParameter.GPU
    return s


def _val_batches(val_lmdb: Path, train_val: str) -> int:
    """Batches of the TEST data layer's size that cover the validation LMDB once."""
    layer = caffe_io.data_layer(text_format.Parse(train_val, caffe_pb2.NetParameter()))
    return -(-entry_count(val_lmdb) // layer.data_param.batch_size)


def check_settings(folder: Path, settings: dict) -> None:
    """Refuse to mix settings with a run started (or finished) with others."""
    if reason := layout.settings_conflict(folder, settings):
        raise UserError(reason)


def prepare(runs: Path, data: Path, dataset: str, net: Net, iters: int | None = None,
            gpu: bool = False) -> Path:
    """Create or refresh the run folder; refuse to mix settings with a run already under way."""
    folder = layout.run_dir(runs, dataset, net)
    for link, path in layout.data_paths(data, dataset, net).items():
        if not path.exists():
            stamp = layout.data_stamp(data, dataset,
                                      net.valid_set if link == layout.VAL_LMDB else net.train_set)
            stale = f" (remove {stamp} first: it still says the set is complete)"
            raise UserError(f"{net.key} needs {path}, which is missing; run `make data "
                            f"DATASET={dataset}`{stale if stamp.exists() else ''}")
    settings = layout.settings(dataset, net.key, iters)
    check_settings(folder, settings)
    train_val = generated(dataset, net)[0]
    val_lmdb = layout.data_paths(data, dataset, net)[layout.VAL_LMDB]
    solver = _solver(dataset, net, iters, gpu, _val_batches(val_lmdb, train_val))
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in layout.data_paths(data, dataset, net).items():
        _link(path, folder / name)
    write_text(folder / layout.TRAIN_VAL, train_val)
    write_text(folder / layout.SOLVER, text_format.MessageToString(solver))
    write_text(folder / layout.RUN_JSON, layout.started_text(settings))
    return folder


def _states(folder: Path) -> list[tuple[int, Path]]:
    return sorted((int(m[1]), folder / m[0]) for f in folder.glob("*.solverstate")
                  if (m := _STATE.match(f.name)) and f.is_file())


def newest_state(folder: Path) -> tuple[int, Path] | None:
    """The newest snapshot on disk, whole or not."""
    states = _states(folder)
    return states[-1] if states else None


_WHOLE: dict[tuple, bool] = {}  # (path, sizes, mtimes) -> verdict: pruning looks every minute


def _is_whole(state: Path) -> bool:
    """A .solverstate that parses, whose .caffemodel parses, with one history blob of the same
    size per weight blob: SIGKILL or a full disk while Caffe writes a snapshot (in place, not
    atomically) leaves a cut file, and Caffe aborts on it at every later resume."""
    model = state.with_suffix(".caffemodel")
    try:
        stats = [(p, p.stat()) for p in (state, model)]
    except OSError:
        return False
    if not all(stat.S_ISREG(st.st_mode) for _, st in stats):  # a FIFO would block the reading
        return False
    key = tuple((str(p), st.st_size, st.st_mtime_ns) for p, st in stats)
    if key not in _WHOLE:
        _WHOLE[key] = _parses_whole(state, model)
    return _WHOLE[key]


def _parses_whole(state: Path, model: Path) -> bool:
    solver_state, net = caffe_pb2.SolverState(), caffe_pb2.NetParameter()
    try:
        solver_state.ParseFromString(state.read_bytes())
        net.ParseFromString(model.read_bytes())
    except (OSError, DecodeError):
        return False
    sizes = [len(blob.data) for layer in net.layer for blob in layer.blobs]
    history = [len(blob.data) for blob in solver_state.history]
    return bool(sizes) and sizes == history


def newest_whole(folder: Path) -> tuple[int, Path] | None:
    """The newest whole snapshot, the cut ones left where they are."""
    return next(((i, state) for i, state in reversed(_states(folder)) if _is_whole(state)), None)


def whole_state(folder: Path) -> tuple[int, Path] | None:
    """The newest whole snapshot; newer cut ones are moved aside (kept, named `.cut`), each with
    one line saying so."""
    for iteration, state in reversed(_states(folder)):
        if _is_whole(state):
            return iteration, state
        for path in (state, state.with_suffix(".caffemodel")):
            if path.exists():
                path.rename(path.with_name(path.name + ".cut"))
        print(f"{folder}: snapshot of iteration {iteration} is cut off (killed or disk full "
              f"while written); moved aside as .cut, resuming from an earlier one",
              file=sys.stderr)
    return None


def prune_snapshots(folder: Path, keep: int | None = KEEP_SNAPSHOTS) -> None:
    """Keep the newest `keep` whole snapshots (state and weights; None keeps all), so there is
    always one to fall back to; anything newer (being written) stays too, and so does the final
    model, a copy."""
    if keep is None:
        return
    whole = [(i, state) for i, state in _states(folder) if _is_whole(state)]
    for _, state in whole[:-keep] if keep > 0 else []:
        for path in (state, state.with_suffix(".caffemodel")):
            path.unlink(missing_ok=True)


def snapshot_bytes(dataset: str, net: Net) -> int:
    """One snapshot: the weights (.caffemodel) and as much solver state (the momentum)."""
    return 2 * 4 * parameter_count(profile(dataset, net))


def snapshot_need(dataset: str, net: Net, solver, start: int, keep: int | None) -> tuple[int, str]:
    """Bytes a run writes from iteration `start` on, with snapshots pruned to `keep` (None: all),
    and how they add up."""
    weights = snapshot_bytes(dataset, net) // 2
    every = solver.snapshot or solver.max_iter
    points = set(range(every, solver.max_iter + 1, every)) | {solver.max_iter}  # Caffe's last
    coming = sum(1 for point in points if point > start)
    held = coming if keep is None else min(coming, keep + 1)  # one more while it is written
    need = held * 2 * weights + weights  # and final.caffemodel
    if net.source is not None and start == 0:
        need += weights  # init.caffemodel, at most the whole net
    return need, f"{held} snapshots of {human(2 * weights)} and the final model"


def check_space(folder: Path, dataset: str, net: Net, iters: int | None, keep: int | None,
                margin: int, label: str) -> None:
    """One line, before anything is written, when the run's snapshots will not fit."""
    reached = newest_state(folder) if folder.is_dir() else None
    need, parts = snapshot_need(dataset, net, _solver(dataset, net, iters),
                                reached[0] if reached else 0, keep)
    fewer = "KEEP_SNAPSHOTS=2 or " if keep is None or keep > KEEP_SNAPSHOTS else ""
    check_free(folder, need, f"{label} ({parts})", margin, f"{fewer}choose another RUNS")


def max_iter(folder: Path) -> int:
    text = (folder / layout.SOLVER).read_text()
    return int(re.search(r"^max_iter: (\d+)", text, re.M)[1])


def caffe_command(state: tuple[int, Path] | None, weights: Path | None,
                  gpu: str | None) -> list[str]:
    cmd = [str(caffe_tool("caffe")), "train", "-solver", layout.SOLVER,
           "-sigint_effect", "snapshot", "-sighup_effect", "stop"]
    if state:
        cmd += ["-snapshot", state[1].name]
    elif weights is not None:
        cmd += ["-weights", str(weights)]
    if gpu:
        cmd += ["-gpu", gpu]
    return cmd


def source_model(runs: Path, dataset: str, net: Net, iters: int | None) -> Path | None:
    """The finished base net a transfer copies from, trained with the same ITERS; a user error
    before anything is written when it is missing or was made with other settings."""
    if net.source is None:
        return None
    base = plan.find(net.source_key)
    folder = layout.run_dir(runs, dataset, base)
    if not (folder / layout.FINAL).exists():
        raise UserError(f"{net.key} needs {folder / layout.FINAL}: train its base net "
                        f"{net.source_key} first")
    check_settings(folder, layout.settings(dataset, base.key, iters))
    return folder / layout.FINAL


# What one base net costs on the paper's own set-up (docs/PAPER.md): a 2014 K20 GPU.
PAPER_DAYS_PER_NET = {"imagenet": "about 9.5 days on the paper's K20 GPU"}


def base_notice(runs: Path, dataset: str, key: str, iters: int | None) -> str | None:
    """For a transfer whose base is not trained yet: the line that says make will train the
    base first, and for how long."""
    net = plan.find(key)
    if net.source is None:
        return None
    base = plan.find(net.source_key)
    if (layout.run_dir(runs, dataset, base) / layout.FINAL).exists():
        return None
    solver = _solver(dataset, base, iters)
    cost = PAPER_DAYS_PER_NET.get(dataset) if iters is None else None
    return (f"{dataset}/{key} needs {dataset}/{base.key}, which is not trained yet: training "
            f"it first ({solver.max_iter:,} iterations{f', {cost}' if cost else ''}), then "
            f"{key}")


def _source_weights(source: Path | None, net: Net, folder: Path) -> Path | None:
    """The init .caffemodel of a transfer: the source base net's first n layers."""
    if source is None:
        return None
    init = folder / layout.INIT
    transplant(source, folder / layout.TRAIN_VAL, net.n, init)
    return init


def _hang_up_with_parent(parent: int):
    """For the child: SIGHUP when this wrapper dies however it dies (SIGKILL included), which
    makes Caffe snapshot and stop (-sighup_effect stop), so no caffe ever trains orphaned."""
    def arm() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGHUP)
        if os.getppid() != parent:  # the wrapper died before prctl took effect
            os.kill(os.getpid(), signal.SIGHUP)
    return arm


def _run_caffe(cmd: list[str], folder: Path, resume_iter: int | None,
               keep: int | None = KEEP_SNAPSHOTS) -> int:
    """Run caffe with its log appended to train.log, pruning its snapshots to `keep` as it goes.
    Ctrl-C: Caffe snapshots, then stops."""
    env = tool_environment()
    env.pop("CAFFE_RESUME_ITER", None)
    if resume_iter is not None:  # read by the project's deterministic-resume patch to Caffe
        env["CAFFE_RESUME_ITER"] = str(resume_iter)
    with open(folder / layout.TRAIN_LOG, "ab") as log:
        log.write(f"# {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, cwd=folder, stdout=log, stderr=subprocess.STDOUT, env=env,
                                preexec_fn=_hang_up_with_parent(os.getpid()))

        def stop(signum, frame):  # Caffe got the SIGINT too and snapshots; SIGHUP makes it stop
            proc.send_signal(signal.SIGHUP)

        previous = signal.signal(signal.SIGINT, stop)
        try:
            while True:
                try:
                    return proc.wait(timeout=PRUNE_EVERY)
                except subprocess.TimeoutExpired:
                    prune_snapshots(folder, keep)
        finally:
            signal.signal(signal.SIGINT, previous)


_DISK_FULL = "SerializeToOstream"
# Caffe's own words for a write that failed: its check, the stack trace below it, the OS's error
_WRITE_FAILED = re.compile(r"SerializeToOstream|WriteProtoToBinaryFile|No space left on device|"
                           r"Disk quota exceeded")
_CUT = re.compile(r"[EF]\d{4,8}[\d :.]*")  # glog's prefix alone: the line was cut off


def _session(log: Path) -> str | None:
    """The end of a Caffe log from its last start (the wrapper's `# <command>` line) on, at most
    its last 64 KiB; None without a log."""
    if not log.exists():
        return None
    with open(log, "rb") as file:
        file.seek(max(0, log.stat().st_size - 65536))
        tail = file.read().decode("utf-8", errors="replace")
    return tail[tail.rfind("\n# ") + 1:]


def last_error(log: Path) -> str:
    """The cause of a crash, from the end of a Caffe log (last_error_line), said plainly where
    it is a full disk."""
    tail = _session(log)
    if tail is None:
        return "no log"
    cause = last_error_line(tail)
    if cause is None:
        return "no error line in the log"
    if _CUT.fullmatch(cause):
        return f"its error line is cut off in the log ({cause}): is the disk full?"
    if _DISK_FULL in cause:
        return f"Caffe could not write a snapshot: is the disk full? ({cause})"
    return cause


def _out_of_space(folder: Path, dataset: str, net: Net, why: str) -> str:
    """The one line for a run whose file system is full: which one, how much is free, what a
    snapshot needs, and where the same command resumes once there is space."""
    whole = newest_whole(folder)
    resume = f"resumes from iteration {whole[0]}" if whole else "starts it from the beginning"
    space = out_of_space(folder, f"a snapshot needs {human(snapshot_bytes(dataset, net))}")
    return (f"{dataset}/{net.key}: out of space: {why}; {space}; nothing is lost: once space is "
            f"freed, the same command {resume} (log: {folder / layout.TRAIN_LOG})")


def _stopped(folder: Path, dataset: str, net: Net, code: int) -> str:
    """Why caffe stopped before the end: a write that failed (Caffe's log says so) or a file
    system with no room for one more snapshot is said as such; else Caffe's error line."""
    reached = newest_state(folder)
    where = f"stopped at iteration {reached[0]}" if reached else "stopped"
    failed = _WRITE_FAILED.search(_session(folder / layout.TRAIN_LOG) or "")
    if failed or free_bytes(folder)[0] < snapshot_bytes(dataset, net):
        why = "caffe could not write its snapshot" if failed else f"caffe {where} (exit {code})"
        return _out_of_space(folder, dataset, net, why)
    hint = "run again to resume" if code == 0 else last_error(folder / layout.TRAIN_LOG)
    return (f"{dataset}/{net.key}: caffe {where} (exit {code}): {hint}; "
            f"log: {folder / layout.TRAIN_LOG}")


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


@contextlib.contextmanager
def run_lock(folder: Path, label: str, wait: bool = True):
    """One trainer per run folder: an exclusive flock on a file beside it, held for the whole
    training and released when its holder dies. A second one waits (saying so) or, with
    wait=False, stops with a user error."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            if not wait:
                raise UserError(f"{label} is being trained by process {holder}; "
                                "try again when it ends") from None
            print(f"{label} is being trained by process {holder}; waiting", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        yield


def train(runs: Path, data: Path, dataset: str, key: str, iters: int | None = None,
          gpu: str | None = None, wait: bool = True, keep: int | None = KEEP_SNAPSHOTS,
          disk_margin: int = 0) -> Path:
    """Train one network of the plan to its end, resuming where a previous run stopped; keep
    the newest `keep` snapshots (None: every one) and stop first if they would not fit with
    `disk_margin` bytes left free."""
    plan.check_iters(iters)
    net = find_net(dataset, key)
    label = f"{dataset}/{key}"
    try:
        return _train(runs, data, dataset, net, label, iters, gpu, wait, keep, disk_margin)
    except OSError as err:  # a read-only or full file system, a folder not ours
        where = f" ({err.filename})" if err.filename else ""
        if err.errno in FULL:
            raise UserError(_out_of_space(layout.run_dir(runs, dataset, net), dataset, net,
                                          f"could not write{where or ' the run folder'}")) from None
        raise UserError(f"{label}: {err.strerror or err}{where}; free space or make RUNS "
                        "writable, then run again") from None


def _train(runs: Path, data: Path, dataset: str, net: Net, label: str, iters: int | None,
           gpu: str | None, wait: bool, keep: int | None, disk_margin: int) -> Path:
    folder = layout.run_dir(runs, dataset, net)
    # every check before anything is written: settings, a finished run, the source, the GPU,
    # the disk
    check_settings(folder, layout.settings(dataset, net.key, iters))
    if (folder / layout.FINAL).exists():
        print(f"{label}: finished already ({folder / layout.FINAL})")
        return folder / layout.FINAL
    source = source_model(runs, dataset, net, iters)
    if gpu:
        check_gpu_build()
    check_space(folder, dataset, net, iters, keep, disk_margin, label)
    with run_lock(folder, label, wait):
        if (folder / layout.FINAL).exists():  # finished by the process we waited for
            print(f"{label}: finished already ({folder / layout.FINAL})")
            return folder / layout.FINAL
        folder = prepare(runs, data, dataset, net, iters, bool(gpu))
        state = whole_state(folder)
        weights = None if state else _source_weights(source, net, folder)
        with gpu_lease(runs, gpu, share=bool(os.environ.get("GPU_SHARE"))) as device:
            cmd = caffe_command(state, weights, device)
            how = f"resuming at iteration {state[0]}" if state else "from the start"
            where = f"GPU {device}" if device else "CPU"
            print(f"{label}: training on the {where} {how} (log: {folder / layout.TRAIN_LOG})",
                  flush=True)
            code = _run_caffe(cmd, folder, state[0] if state else None, keep)
        return _finish(folder, dataset, net, code, keep)


def _finish(folder: Path, dataset: str, net: Net, code: int,
            keep: int | None = KEEP_SNAPSHOTS) -> Path:
    state = folder / f"snapshot_iter_{max_iter(folder)}.solverstate"
    # a last snapshot cut off by a full disk at its close, which Caffe does not check, is no end
    if code != 0 or not _is_whole(state):
        raise UserError(_stopped(folder, dataset, net, code))
    try:
        copy_file(state.with_suffix(".caffemodel"), folder / layout.FINAL)
    except OSError as err:
        if err.errno in FULL:
            raise UserError(_out_of_space(folder, dataset, net, f"could not write {layout.FINAL}")
                            ) from None
        raise UserError(f"{dataset}/{net.key}: could not write {folder / layout.FINAL} "
                        f"({err.strerror}); fix permissions, then run again") from None
    prune_snapshots(folder, keep)
    for path in folder.iterdir():  # Caffe's own files (snapshots, the log) follow its umask
        if path.is_file() and not path.is_symlink():
            path.chmod(FILE_MODE)
    print(f"{dataset}/{net.key}: finished, {folder / layout.FINAL}", file=sys.stderr)
    return folder / layout.FINAL
