"""Where each network of a plan stands: finished (top-1), running (iteration), waiting, or failed.

It reads the run folders, so it works with or without Slurm; where squeue answers, a network's
queued or running job (by job name and working directory, as `slurm.py` submits them) says more.
A run that no Slurm job holds is running when a process here has its train.log open (`make -j`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from transferability.plan import Net
from transferability.plan.layout import FINAL, TRAIN_LOG, run_dir
from transferability.plan.selections import Selection, net_name
from transferability.training.logparse import TrainingLog, is_error_line, parse_log, parse_text
from transferability.training.runs import last_error, max_iter
from transferability.training.slurm import Queued

STATES = ("finished", "running", "waiting", "failed")
_RUNNING = {"RUNNING", "COMPLETING", "CONFIGURING", "STAGE_OUT", "RESIZING", "SIGNALING"}
_TAIL = 1 << 18  # the last test of a log lies in its last 256 KiB; ImageNet logs are far longer


@dataclass(frozen=True)
class NetStatus:
    name: str
    state: str
    detail: str


def log_tail(log: Path) -> str:
    """The last whole lines of a log, at most _TAIL bytes of them."""
    size = log.stat().st_size
    with open(log, "rb") as f:
        f.seek(max(0, size - _TAIL))
        text = f.read().decode("utf-8", errors="replace")
    if size > _TAIL:
        text = text[text.find("\n") + 1:]
    return text[: text.rfind("\n") + 1]


def _session(log: Path) -> str:
    """The end of the last caffe start's log: what follows runs.py's last `# <command>` line."""
    text = log_tail(log)
    return text[text.rfind("\n# ") + 1:]


def _failed(log: Path) -> bool:
    return any(is_error_line(line) for line in _session(log).splitlines())


def _read_log(folder: Path) -> TrainingLog:
    """The end of the run's train.log, parsed (train.log.gz: all of it)."""
    log = folder / TRAIN_LOG
    return parse_text(log_tail(log)) if log.is_file() else parse_log(folder)


def _iteration(folder: Path) -> str:
    try:
        reached = _read_log(folder).last_iteration
    except FileNotFoundError:
        return "starting"
    try:
        return f"iteration {reached} of {max_iter(folder)}"
    except (OSError, TypeError):
        return f"iteration {reached}"


def _slurm_error(folder: Path) -> str | None:
    """The error line of the newest slurm-<id>.out, when it is newer than train.log."""
    outs = sorted(folder.glob("slurm-*.out"), key=lambda p: p.stat().st_mtime)
    if not outs:
        return None
    log = folder / TRAIN_LOG
    if log.exists() and log.stat().st_mtime > outs[-1].stat().st_mtime:
        return None
    lines = outs[-1].read_text(errors="replace").splitlines()
    for pattern in ("error:", "*** ["):
        for line in reversed(lines):
            if pattern in line.lower():
                return line.strip()
    return None


class _OpenFiles:
    """The files that processes on this machine hold open, read from /proc once when first asked."""

    def __init__(self) -> None:
        self._paths: set[str] | None = None

    def __contains__(self, path: Path) -> bool:
        if self._paths is None:
            self._paths = set()
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    fds = os.listdir(f"/proc/{pid}/fd")
                except OSError:
                    continue
                for fd in fds:
                    try:
                        self._paths.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
                    except OSError:
                        pass
        return str(path) in self._paths


def net_status(name: str, folder: Path, job: Queued | None, open_files: _OpenFiles,
               base_failed: bool = False) -> NetStatus:
    log = folder / TRAIN_LOG
    if (folder / FINAL).is_file():
        try:
            result = _read_log(folder)
        except FileNotFoundError:
            return NetStatus(name, "finished", "top-1 unknown: no train.log")
        if result.final_accuracy is None:
            return NetStatus(name, "finished", "top-1 unknown: no test in train.log")
        return NetStatus(name, "finished", f"top-1 {100 * result.final_accuracy:.2f}% at "
                                           f"iteration {result.final_iteration}")
    if job is not None and job.state in _RUNNING:
        return NetStatus(name, "running", f"{_iteration(folder)} (job {job.job_id})")
    if job is not None:
        reason = f", {job.reason}" if job.reason and job.reason != "None" else ""
        return NetStatus(name, "waiting", f"job {job.job_id} {job.state.lower()}{reason}")
    if log.exists() and log in open_files:
        return NetStatus(name, "running", f"{_iteration(folder)} (a process here)")
    if log.exists() and _failed(log):
        return NetStatus(name, "failed", last_error(log))
    if folder.is_dir() and (error := _slurm_error(folder)):
        return NetStatus(name, "failed", error)
    if log.exists():
        return NetStatus(name, "waiting", f"stopped at {_iteration(folder)}; not queued")
    return NetStatus(name, "waiting", "not started" + ("; its base failed" if base_failed else ""))


def statuses(selection: Selection, runs: Path,
             queued: dict[tuple[str, str], Queued] | None) -> list[NetStatus]:
    """One status per network of the selection, in plan order (bases before their transfers)."""
    open_files = _OpenFiles()
    out: dict[str, NetStatus] = {}
    nets: list[Net] = selection.nets
    for net in nets:
        name = net_name(selection.dataset, net)
        folder = run_dir(Path(runs).resolve(), selection.dataset, net)  # as squeue reports it
        job = queued.get((name, str(folder))) if queued else None
        base = out.get(f"{selection.dataset}/{net.source_key}") if net.source_key else None
        out[name] = net_status(name, folder, job, open_files,
                               base is not None and base.state == "failed")
    return list(out.values())


def report(selection: Selection, rows: list[NetStatus], slurm_seen: bool) -> str:
    width = max((len(row.name) for row in rows), default=0)
    lines = [f"{row.name:<{width}}  {row.state:<8}  {row.detail}" for row in rows]
    counts = ", ".join(f"{sum(row.state == s for row in rows)} {s}" for s in STATES)
    source = "run folders and squeue" if slurm_seen else "run folders only; squeue did not answer"
    lines.append(f"{selection.describe()}: {counts} ({source})")
    return "\n".join(lines)
