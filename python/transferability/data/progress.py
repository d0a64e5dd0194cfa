"""Progress of a long data step on stderr: a tqdm bar on a terminal, else a line a minute.

Under nohup, Slurm or make's logs a bar would be one ever-growing line (or nothing at all), so
there each line says how far, how fast and how long is left, once every PROGRESS_EVERY seconds.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
DEFAULT_EVERY = 60.0


def bar(items: Iterable[T], enabled: bool, desc: str, total: int | None = None,
        unit: str = "img") -> Iterator[T]:
    if not enabled:
        return iter(items)
    if sys.stderr.isatty():
        return iter(tqdm(items, total=total, unit=unit, desc=desc, leave=False))
    return lines(items, desc, total, unit, float(os.environ.get("PROGRESS_EVERY", DEFAULT_EVERY)))


def lines(items: Iterable[T], desc: str, total: int | None, unit: str,
          every: float) -> Iterator[T]:
    """The items, with one progress line on stderr every `every` seconds."""
    start = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= every:
            last = now
            print(progress_line(desc, done, total, now - start, unit), file=sys.stderr,
                  flush=True)


def progress_line(desc: str, done: int, total: int | None, seconds: float, unit: str) -> str:
    rate = done / seconds if seconds > 0 else 0.0
    line = f"{desc}: {done:,}"
    if total:
        line += f" of {total:,} {unit} ({100 * done / total:.1f}%)"
    else:
        line += f" {unit}"
    line += f", {rate:,.0f} {unit}/s"
    if total and rate > 0:
        left = (total - done) / rate
        line += f", about {_duration(left)} left"
    return line


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
