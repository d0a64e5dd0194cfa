"""Kill anywhere, lose nothing: cut snapshots, one trainer per run folder, no orphaned caffe."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import fill, hold_snapshot, is_held, let_go, wait_held
from tests.test_training_makefile import SPLIT0, make, weights
from transferability import plan
from transferability.caffe_env import REPO_ROOT
from transferability.disk import human
from transferability.training import runs as run_folders
from transferability.training.runs import last_error, snapshot_bytes

ITERS = 40  # snapshots every 7 iterations (the standard schedule shortened to 40)


def _start(runs: Path, data: Path, *args: str) -> subprocess.Popen:
    cmd = ["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT), f"RUNS={runs}",
           f"DATA={data}", "DATASET=fashion-mnist", f"ITERS={ITERS}", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _caffes_in(folder: Path) -> list[int]:
    """Processes whose working directory is the run folder (caffe runs there)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(os.readlink(f"/proc/{pid}/cwd")) == folder:
                pids.append(int(pid))
        except OSError:
            continue
    return pids


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, fm_data: Path) -> Path:
    runs = tmp_path_factory.mktemp("whole")
    make("base-A", runs=runs, data=fm_data, iters=ITERS)
    return runs / SPLIT0 / "baseA/final.caffemodel"


def test_a_cut_newest_snapshot_resumes_from_the_whole_one_before(
        tmp_path: Path, fm_data: Path, uninterrupted: Path) -> None:
    folder = tmp_path / SPLIT0 / "baseA"
    fifo = hold_snapshot(folder, 28)  # killed while it waits there: after 21, before the end
    proc = _start(tmp_path, fm_data, "base-A")
    wait_held(fifo, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    fifo.unlink()
    states = sorted(folder.glob("snapshot_iter_*.solverstate"),
                    key=lambda p: int(p.stem.split("_")[-1]))
    newest, previous = states[-1], states[-2]
    assert (newest.name, previous.name) == ("snapshot_iter_21.solverstate",
                                            "snapshot_iter_14.solverstate")
    with open(newest, "r+b") as state:  # as SIGKILL or a full disk leaves it
        state.truncate(newest.stat().st_size // 2)
    out = make("base-A", runs=tmp_path, data=fm_data, iters=ITERS)
    assert f"resuming at iteration {previous.stem.split('_')[-1]}" in out.stdout
    assert "is cut off" in out.stderr and (folder / f"{newest.name}.cut").is_file()
    assert weights(folder / "final.caffemodel") == weights(uninterrupted)
    # the newest two whole snapshots stay to fall back to; older ones are gone
    assert len(list(folder.glob("snapshot_iter_*.solverstate"))) == 2


def test_two_commands_on_one_run_folder_train_it_once(tmp_path: Path, fm_data: Path) -> None:
    fifo = hold_snapshot(tmp_path / SPLIT0 / "baseA", 21)  # the first trains until the second waits
    first = _start(tmp_path, fm_data, "base-A")
    wait_held(fifo, first)
    second = _start(tmp_path, fm_data, "base-A")
    said = second.stdout.readline()
    assert "is being trained by process" in said, said
    let_go(fifo, keep=True)
    outs = [proc.communicate(timeout=300) for proc in (first, second)]
    outs[1] = (said + outs[1][0], outs[1][1])
    assert first.returncode == second.returncode == 0, outs
    log = (tmp_path / SPLIT0 / "baseA/train.log").read_text()
    assert sum(line.startswith("# ") for line in log.splitlines()) == 1  # one caffe train
    said = "".join(out for pair in outs for out in pair)
    assert "is being trained by process" in said and "finished already" in said


def test_a_killed_wrapper_leaves_no_caffe_training(tmp_path: Path, fm_data: Path) -> None:
    folder = tmp_path / SPLIT0 / "baseA"
    cmd = [sys.executable, "-m", "transferability.cli", "train", "fashion-mnist", "split0/baseA",
           "--runs", str(tmp_path), "--data", str(fm_data), "--iters", "5000"]
    wrapper = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = folder / "train.log"
    deadline = time.monotonic() + 120
    while not (log.exists() and ", loss = " in log.read_text() and _caffes_in(folder)):
        assert wrapper.poll() is None and time.monotonic() < deadline, "caffe never trained"
        time.sleep(0.05)
    [caffe] = _caffes_in(folder)
    os.kill(caffe, signal.SIGSTOP)  # stopped mid-training: it cannot reach its end meanwhile
    while Path(f"/proc/{caffe}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
        time.sleep(0.01)
    wrapper.kill()
    wrapper.wait()
    os.kill(caffe, signal.SIGCONT)  # with the hang-up its wrapper's death sent it
    deadline = time.monotonic() + 30
    while _caffes_in(folder) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _caffes_in(folder), "caffe went on training without its wrapper"
    assert "Optimization stopped early" in log.read_text()


def test_negative_iters_is_one_line_and_writes_nothing(tmp_path: Path, fm_data: Path) -> None:
    cmd = [sys.executable, "-m", "transferability.cli", "train", "fashion-mnist", "split0/baseA",
           "--runs", str(tmp_path / "runs"), "--data", str(fm_data), "--iters", "-5"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "ITERS must be a positive integer, not -5" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_a_finished_base_made_with_other_iters_stops_its_transfer(tmp_path: Path,
                                                                   fm_data: Path) -> None:
    make("base-A", runs=tmp_path, data=fm_data, iters=6)
    proc = make("transfer", "N=1", runs=tmp_path, data=fm_data, iters=8, check=False)
    assert proc.returncode != 0 and "was started with ITERS=6, not ITERS=8" in proc.stderr
    assert not (tmp_path / SPLIT0 / "A1B").exists()


def test_last_error_is_caffes_and_names_a_full_disk(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text("I1124 10:00:00.000000  1 net.cpp:1]     mirror: false\n"
                   "F1124 10:00:01.000000  1 db_lmdb.cpp:15] Check failed: mdb_status == 0\n"
                   "*** Check failure stack trace: ***\n"
                   "I1124 10:00:02.000000  1 net.cpp:1]     mirror: false\n")
    assert last_error(log) == "Check failed: mdb_status == 0"
    log.write_text("F1124 10:00:01.000000  1 io.cpp:69] Check failed: "
                   "proto.SerializeToOstream(&output)\n")
    assert "is the disk full?" in last_error(log)
    log.write_text("I1124 10:00:00.000000  1 net.cpp:1]     mirror: false\n")
    assert last_error(log) == "no error line in the log"
    log.write_text("I20261204 10:00:00.000000  1 net.cpp:1]     mirror: false\nF2026")
    assert last_error(log) == "its error line is cut off in the log (F2026): is the disk full?"


def test_a_write_caffe_says_failed_is_named_out_of_space(tmp_path: Path) -> None:
    """Caffe's log says a snapshot could not be written, on a disk with room: the line names the
    file system, its free space, what a snapshot needs, and the iteration the run resumes from."""
    folder = tmp_path / SPLIT0 / "baseA"
    folder.mkdir(parents=True)
    (folder / "solver.prototxt").write_text("max_iter: 40\n")
    (folder / "train.log").write_text(
        "F1124 10:00:01.000000  1 db_lmdb.cpp:15] Check failed: mdb_status == 0\n"
        "# caffe train -solver solver.prototxt\n"
        "F1124 10:00:01.000000  1 io.cpp:69] Check failed: proto.SerializeToOstream(&output)\n")
    net = plan.find("split0/baseA")
    with pytest.raises(run_folders.UserError) as raised:
        run_folders._finish(folder, "fashion-mnist", net, -6)
    line = str(raised.value)
    assert line.startswith("fashion-mnist/split0/baseA: out of space: caffe could not write its "
                           "snapshot; ")
    assert f"a snapshot needs {human(snapshot_bytes('fashion-mnist', net))}" in line
    assert line.endswith("nothing is lost: once space is freed, the same command starts it from "
                         f"the beginning (log: {folder / 'train.log'})")


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))


@pytest.mark.parametrize("kind", ["fifo", "sparse", "device"])
def test_parse_log_streams_and_refuses_what_is_no_log(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "log"
    if kind == "fifo":
        os.mkfifo(path)
        expected = "is not a regular file"
    elif kind == "sparse":
        with open(path, "wb") as file:
            file.truncate(2 << 30)  # 2 GiB of zeros, no newline
        expected = "holds no Caffe training-log lines"
    else:
        path = Path("/dev/zero")
        expected = "is not a regular file"
    proc = subprocess.run([sys.executable, "-m", "transferability.cli", "parse-log", str(path)],
                          capture_output=True, text=True, timeout=60, preexec_fn=_limited)
    assert proc.returncode == 2 and expected in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1


def test_a_finished_run_refuses_other_iters(tmp_path: Path, fm_data: Path) -> None:
    make("base-A", runs=tmp_path, data=fm_data, iters=6)
    proc = make("base-A", runs=tmp_path, data=fm_data, iters=8, check=False)
    assert proc.returncode != 0
    assert "was started with ITERS=6, not ITERS=8" in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if "error" in line]) == 1, proc.stderr


def _train(runs: Path, data: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "transferability.cli", "train", "fashion-mnist", "split0/baseA",
           "--runs", str(runs), "--data", str(data), "--iters", "2", *extra]
    return subprocess.run(cmd, capture_output=True, text=True)


def test_a_missing_lmdb_whose_stamp_remains_says_to_remove_the_stamp(tmp_path: Path,
                                                                      fm_data: Path) -> None:
    data = tmp_path / "data" / "fashion-mnist"
    data.mkdir(parents=True)
    for entry in (fm_data / "fashion-mnist").iterdir():
        if entry.name != "half0A_train":
            (data / entry.name).symlink_to(entry)
    (data / "half0A.done").touch()
    proc = _train(tmp_path / "runs", tmp_path / "data")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"remove {data / 'half0A.done'} first" in proc.stderr
    assert not (tmp_path / "runs" / SPLIT0 / "baseA").exists()


def test_a_runs_folder_that_cannot_be_written_is_one_line(tmp_path: Path, fm_data: Path) -> None:
    (tmp_path / "file").write_text("not a folder\n")
    proc = _train(tmp_path / "file" / "runs", fm_data)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "Not a directory" in proc.stderr and "Traceback" not in proc.stderr


def test_snapshots_are_pruned_while_caffe_trains(tmp_path: Path, fm_data: Path,
                                                  monkeypatch) -> None:
    fifo = hold_snapshot(tmp_path / "one" / SPLIT0 / "baseA", 50)  # of 60, one every 10
    kept: list[list[int]] = []  # the snapshots a prune left while Caffe waited at 50
    released = []
    prune = run_folders.prune_snapshots

    def watched(folder: Path, keep: int | None = 2) -> None:
        for thread in released:  # snapshot 50 lies there whole before anything is pruned again
            thread.join()
        prune(folder, keep)
        if not released and is_held(fifo):
            kept.append([i for i, _ in run_folders._states(folder)])
            released.append(let_go(fifo, keep=True))

    monkeypatch.setattr(run_folders, "PRUNE_EVERY", 0.02)
    monkeypatch.setattr(run_folders, "prune_snapshots", watched)
    final = run_folders.train(tmp_path / "one", fm_data, "fashion-mnist", "split0/baseA",
                              iters=60, keep=1)
    assert kept == [[40]]
    assert [p.name for p in final.parent.glob("*.solverstate")] == [
        "snapshot_iter_60.solverstate"]
    final = run_folders.train(tmp_path / "all", fm_data, "fashion-mnist", "split0/baseA",
                              iters=60, keep=None)
    assert len(list(final.parent.glob("*.solverstate"))) == 6  # every 10 iterations


# --- a disk that fills during training ------------------------------------------------------------
# RUNS is a small tmpfs; Caffe is held at a snapshot while "another job" fills the disk (a ballast
# file), then goes on. KEEP_SNAPSHOTS=all: no pruning, whose minute would make the space depend
# on time.
def _error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, stderr
    return errors[0]


def _on_disk(path: Path, page: int) -> int:
    return -(-path.stat().st_size // page) * page


def test_a_disk_full_at_a_snapshot_is_one_line_and_resumes_exactly(
        small_fs, fm_data: Path, uninterrupted: Path) -> None:
    runs = small_fs(8 << 20).resolve()
    folder = runs / SPLIT0 / "baseA"
    fifo = hold_snapshot(folder, 21)
    proc = _start(runs, fm_data, "base-A", "KEEP_SNAPSHOTS=all")
    wait_held(fifo, proc)
    ballast = fill(runs)
    let_go(fifo)  # its weights go into the FIFO; its solver state meets the full disk
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 2
    line = _error_line(stderr)
    need = human(snapshot_bytes("fashion-mnist", plan.find("split0/baseA")))
    assert "fashion-mnist/split0/baseA: out of space: " in line
    assert f"; {runs} (tmpfs) has " in line and f" free, and a snapshot needs {need}; " in line
    assert "nothing is lost: once space is freed, the same command resumes from iteration 14 " in (
        line)
    ballast.unlink()
    fifo.unlink()
    again = make("base-A", "KEEP_SNAPSHOTS=all", runs=runs, data=fm_data, iters=ITERS)
    assert "resuming at iteration 14" in again.stdout
    assert weights(folder / "final.caffemodel") == weights(uninterrupted)


def test_a_disk_full_at_the_final_model_is_one_line_and_resumes_exactly(
        small_fs, fm_data: Path, uninterrupted: Path) -> None:
    runs = small_fs(8 << 20).resolve()
    folder = runs / SPLIT0 / "baseA"
    page = os.statvfs(runs).f_frsize
    done = uninterrupted.parent
    # after its snapshot at 35 Caffe writes that snapshot's solver state, the snapshot at 40 and
    # a few lines of log; room for those and for half the final model
    state, model = (_on_disk(done / f"snapshot_iter_40.{kind}", page)
                    for kind in ("solverstate", "caffemodel"))
    log = (done / "train.log").read_text()
    assert len(log[log.index("snapshot_iter_35.caffemodel"):]) + 2 * page < model // 2
    fifo = hold_snapshot(folder, 35)
    proc = _start(runs, fm_data, "base-A", "KEEP_SNAPSHOTS=all")
    wait_held(fifo, proc)
    ballast = fill(runs, leave=2 * state + model + model // 2)
    let_go(fifo)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 2
    line = _error_line(stderr)
    assert "fashion-mnist/split0/baseA: out of space: could not write final.caffemodel; " in line
    assert f"; {runs} (tmpfs) has " in line
    assert "nothing is lost: once space is freed, the same command resumes from iteration 40 " in (
        line)
    assert not [p.name for p in folder.iterdir() if "final" in p.name]  # nothing half-written
    ballast.unlink()
    fifo.unlink()
    again = make("base-A", "KEEP_SNAPSHOTS=all", runs=runs, data=fm_data, iters=ITERS)
    assert "resuming at iteration 40" in again.stdout
    assert weights(folder / "final.caffemodel") == weights(uninterrupted)
