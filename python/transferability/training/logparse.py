"""Read a `caffe train` log: test accuracy and loss, training loss and learning rate.

Two formats are read (docs/PAPER.md, "Log formats"):
- Caffe 2014: `Iteration N, Testing net` then `Test score #0: 0.62` (accuracy), `Test score #1: 1.6`
  (loss); `Iteration N, loss = 0.47` and `Iteration N, lr = 0.01`.
- Caffe 1.0: `Iteration N, Testing net (#0)` then `Test net output #0: accuracy = 0.57` and
  `Test net output #1: loss = 1.6 (* 1 = 1.6 loss)`; `Iteration N (x iter/s, ...), loss = 0.47`.
A log may be gzip-compressed or cut off midway; a resumed run's log may repeat iterations, and the
later line wins.
"""

from __future__ import annotations

import datetime
import math
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from transferability.errors import UserError
from transferability.plan.layout import TRAIN_LOG

_NUM = r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?nan|[-+]?inf)"
_TEST_START = re.compile(r"Iteration (\d+), Testing net(?: \(#(\d+)\))?")
_TEST_SCORE = re.compile(r"Test score #(\d+): " + _NUM)
_TEST_OUTPUT = re.compile(r"Test net output #(\d+): (\S+) = " + _NUM)
_TRAIN_LOSS = re.compile(r"Iteration (\d+)(?: \([^)]*\))?, loss = " + _NUM)
_TRAIN_LR = re.compile(r"Iteration (\d+), lr = " + _NUM)
_SLOTS = ("accuracy", "loss")  # the output order of the project's nets and of 2014's logs

Number = float | None


@dataclass(frozen=True)
class TrainingLog:
    """One log: tests as (iteration, accuracy, loss), training as (iteration, loss, lr)."""

    tests: list[tuple[int, float, Number]]
    train: list[tuple[int, Number, Number]]

    @property
    def final_iteration(self) -> int:
        """The iteration of the last test; the last iteration seen when no test completed."""
        return self.tests[-1][0] if self.tests else self.last_iteration

    @property
    def final_accuracy(self) -> float | None:
        return self.tests[-1][1] if self.tests else None

    @property
    def last_iteration(self) -> int:
        """How far the log got: the highest iteration of any test or training line."""
        return max([row[0] for row in self.tests + self.train], default=0)

    def to_json(self) -> dict:
        """The `parse-log` JSON object; NaN and infinities become null."""
        return {
            "final_iteration": self.final_iteration,
            "final_accuracy": _finite(self.final_accuracy),
            "tests": [[it, _finite(acc), _finite(loss)] for it, acc, loss in self.tests],
            "train": [[it, _finite(loss), _finite(lr)] for it, loss, lr in self.train],
        }


def _finite(value: Number) -> Number:
    return value if value is not None and math.isfinite(value) else None


CHUNK = 1 << 20
LONGEST_LINE = 1 << 20  # longer "lines" (binary data, a sparse file's zeros) are no log lines


def _chunks(path: Path):
    """The file's bytes in chunks, gunzipped when it is gzip (every member); a cut-off or damaged
    gzip stream gives what precedes the damage."""
    with open(path, "rb") as file:
        head = file.read(2)
        file.seek(0)
        if head != b"\x1f\x8b":
            while chunk := file.read(CHUNK):
                yield chunk
            return
        unzip = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        while chunk := file.read(CHUNK):
            while chunk:
                try:
                    yield unzip.decompress(chunk, CHUNK)
                    while unzip.unconsumed_tail:
                        yield unzip.decompress(unzip.unconsumed_tail, CHUNK)
                except zlib.error:
                    return
                chunk = b""
                if unzip.eof:  # the next gzip member, if any
                    chunk = unzip.unused_data
                    unzip = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)


def lines(path: Path):
    """The log's complete lines as text, streamed with bounded memory; a last line cut off
    midway is dropped."""
    pending = b""
    for chunk in _chunks(path):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            yield raw.decode("utf-8", errors="replace")
        if len(pending) > LONGEST_LINE:
            pending = b""


def _slot(index: int, name: str | None) -> str | None:
    """Which of accuracy/loss a test output is: by its name where it has one, else by its index."""
    lowered = (name or "").lower()
    if "loss" in lowered:
        return "loss"
    if "acc" in lowered:
        return "accuracy"
    return _SLOTS[index] if index < len(_SLOTS) else None


class _Parser:
    def __init__(self) -> None:
        self.tests: dict[int, dict[str, float]] = {}
        self.train: dict[int, dict[str, float]] = {}
        self.testing: dict[str, float] | None = None  # the test block being read

    def line(self, line: str) -> None:
        if match := _TEST_START.search(line):
            self.testing = None
            if int(match[2] or 0) == 0:  # only the first test net: the validation set
                self.testing = self.tests[int(match[1])] = {}
        elif match := _TEST_OUTPUT.search(line) or _TEST_SCORE.search(line):
            self._score(match)
        elif match := _TRAIN_LOSS.search(line):
            self.train.setdefault(int(match[1]), {})["loss"] = float(match[match.lastindex])
        elif match := _TRAIN_LR.search(line):
            self.train.setdefault(int(match[1]), {})["lr"] = float(match[2])

    def _score(self, match: re.Match) -> None:
        if self.testing is None:
            return
        name = match[2] if match.lastindex == 3 else None
        slot = _slot(int(match[1]), name)
        if slot is not None:
            self.testing.setdefault(slot, float(match[match.lastindex]))

    def result(self) -> TrainingLog:
        tests = [(it, t["accuracy"], t.get("loss"))
                 for it, t in sorted(self.tests.items()) if "accuracy" in t]
        train = [(it, t.get("loss"), t.get("lr")) for it, t in sorted(self.train.items())]
        return TrainingLog(tests, train)


def parse_lines(source) -> TrainingLog:
    parser = _Parser()
    for line in source:
        parser.line(line)
    return parser.result()


def parse_text(text: str) -> TrainingLog:
    return parse_lines(text.splitlines())


def parse_log(path: Path) -> TrainingLog:
    """Parse a log file, plain or gzip, line by line; a run folder means its train.log (or
    train.log.gz)."""
    return parse_lines(lines(find_log(Path(path))))


_STAMP = re.compile(r"^[IWEF](\d{4})?(\d\d)(\d\d) (\d\d):(\d\d):(\d\d(?:\.\d*)?) ")


def wall_seconds(path: Path) -> float | None:
    """Seconds from the first to the last glog time stamp of a log (`I20261206 04:23:24.07`, or
    glog's older year-less `I1206 04:23:24.07`, whose new year is a stamp earlier than the one
    before), a resumed run's pauses included; None without two stamps."""
    first = last = None
    year = 2001  # year-less stamps: any year without a 29 February
    for line in lines(find_log(Path(path))):
        if match := _STAMP.match(line):
            given, month, day, hour, minute, second = match.groups()
            stamp = _stamp(int(given or year), month, day, hour, minute, second)
            if given is None and last is not None and stamp < last:
                year += 1
                stamp = _stamp(year, month, day, hour, minute, second)
            first, last = first or stamp, stamp
    return None if first is None or last is first else (last - first).total_seconds()


def _stamp(year: int, *fields: str) -> datetime.datetime:
    month, day, hour, minute, second = fields
    return datetime.datetime(year, int(month), int(day), int(hour),
                             int(minute)) + datetime.timedelta(seconds=float(second))


def find_log(path: Path) -> Path:
    """`path` itself, or for a folder its train.log or train.log.gz; FileNotFoundError if none."""
    if not path.is_dir():
        if not path.exists():
            raise FileNotFoundError(f"no log at {path}")
        if not path.is_file():
            raise UserError(f"{path} is not a regular file (a FIFO or device?): give a log file")
        return path
    for name in (TRAIN_LOG, f"{TRAIN_LOG}.gz"):
        if (path / name).is_file():
            return path / name
    raise FileNotFoundError(f"no train.log or train.log.gz in {path}")


# --- the error line ------------------------------------------------------------------------------
_GLOG_SEVERE = re.compile(r"^[EF]\d{4}")  # glog's E/F lines: E1123 07:01:02 or E20261123 07:01:02
_ERROR = re.compile(r"^(?:[\w./+-]+: )?(?:error|Error|ERROR)\b|Check failed")


def is_error_line(line: str) -> bool:
    """A glog E or F line, a `Check failed`, or an `error:`-style line (a shell's, a loader's);
    never the prototxt Caffe echoes (`mirror: false` is no error)."""
    return bool(_GLOG_SEVERE.match(line) or _ERROR.search(line))


def last_error_line(text: str) -> str | None:
    """The last error line of a log (see is_error_line), without glog's prefix."""
    for line in reversed(text.splitlines()):
        if is_error_line(line):
            return (line.split("] ", 1)[-1] if _GLOG_SEVERE.match(line) else line).strip()
    return None
