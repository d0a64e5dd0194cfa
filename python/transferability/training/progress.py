"""How far a set of trainings has got, for a person watching `make demo`: nets finished of the
total, the iteration each running net is at, and the time left at the rate measured so far.

It reads the run folders only (final.caffemodel, the tail of train.log, solver.prototxt), so it can
watch any make -j or Slurm run from beside it.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from transferability.plan import Net
from transferability.plan.layout import FINAL, TRAIN_LOG, run_dir
from transferability.training.logparse import parse_text
from transferability.training.runs import max_iter
from transferability.training.status import log_tail


@dataclass(frozen=True)
class NetProgress:
    key: str
    done: int  # iterations
    total: int | None  # None: the run folder has no solver yet
    finished: bool


def _last_iteration(log: Path) -> int:
    return parse_text(log_tail(log)).last_iteration


def net_progress(runs: Path, dataset: str, net: Net) -> NetProgress:
    folder = run_dir(runs, dataset, net)
    try:
        total: int | None = max_iter(folder)
    except (OSError, TypeError):
        total = None
    if (folder / FINAL).is_file():
        return NetProgress(net.key, total or 0, total, True)
    try:
        done = _last_iteration(folder / TRAIN_LOG)
    except OSError:
        done = 0
    return NetProgress(net.key, done, total, False)


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


@dataclass
class Rate:
    """Iterations a second, measured from the first look: finished work before it does not count."""
    start_time: float
    start_done: int

    def left(self, now: float, done: int, total: int) -> float | None:
        elapsed, gained = now - self.start_time, done - self.start_done
        if elapsed < 20 or gained <= 0:
            return None
        return (total - done) / (gained / elapsed)


def line(rows: list[NetProgress], rate: Rate, now: float) -> str:
    """One line: "12 of 32 nets finished; running: split0/A3B 3400/7500, ...; about 9 min left"."""
    known = [row.total for row in rows if row.total]
    typical = sum(known) // len(known) if known else 0
    total = sum(row.total or typical for row in rows)
    done = sum(row.done for row in rows)
    finished = sum(row.finished for row in rows)
    running = [f"{row.key} {row.done}/{row.total or '?'}" for row in rows
               if not row.finished and row.done > 0]
    text = f"{finished} of {len(rows)} nets finished"
    if running:
        text += "; running: " + ", ".join(running)
    left = rate.left(now, done, total) if total else None
    if total:
        text += f"; {100 * done / total:.0f}% of the iterations"
    text += f"; about {_minutes(left)} left" if left is not None else "; time left: measuring"
    return text


def watch(runs: Path, dataset: str, nets: list[Net], out: TextIO = sys.stdout,
          every: float | None = None) -> None:
    """Print progress until every net is finished: on a terminal one live line redrawn every
    2 s, elsewhere (a log) one line a minute."""
    live = out.isatty()
    every = every or (2.0 if live else 60.0)
    rate: Rate | None = None
    while True:
        rows = [net_progress(runs, dataset, net) for net in nets]
        now = time.monotonic()
        if rate is None:
            rate = Rate(now, sum(row.done for row in rows))
        text = line(rows, rate, now)
        if live:
            width = shutil.get_terminal_size((120, 24)).columns
            out.write("\r\033[K" + text[:width - 1])
        else:
            out.write(time.strftime("%H:%M:%S ") + text + "\n")
        out.flush()
        if all(row.finished for row in rows):
            if live:
                out.write("\n")
            return
        time.sleep(every)

