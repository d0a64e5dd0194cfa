"""parse-log: real Caffe 1.0 logs (complete, gzip, cut off, resumed) and 2014-format text."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from tests.conftest import TINY_SOLVER, caffe1_log, run_caffe
from transferability.cli import main
from transferability.training.logparse import parse_log, parse_text, wall_seconds


def _values_after(text: str, marker: str) -> list[float]:
    """Every number that follows `marker` in the text (a check independent of the parser)."""
    return [float(line.split(marker)[1].split()[0]) for line in text.splitlines() if marker in line]


def test_real_caffe_log(caffe_train_run: Path) -> None:
    text = (caffe_train_run / "train.log").read_text()
    log = parse_log(caffe_train_run / "train.log")
    max_iter, every = TINY_SOLVER["max_iter"], TINY_SOLVER["test_interval"]
    assert [t[0] for t in log.tests] == list(range(0, max_iter + 1, every))
    assert [t[1] for t in log.tests] == _values_after(text, "accuracy = ")
    assert [t[2] for t in log.tests] == _values_after(text, "Test net output #1: loss = ")
    assert log.final_iteration == max_iter == log.last_iteration
    assert log.final_accuracy == log.tests[-1][1]
    assert all(0.0 <= t[1] <= 1.0 for t in log.tests)
    assert [r[0] for r in log.train] == list(range(0, max_iter + 1, TINY_SOLVER["display"]))
    step = TINY_SOLVER["stepsize"]
    rates = {it: lr for it, _, lr in log.train if lr is not None}
    assert rates == {it: TINY_SOLVER["base_lr"] * (0.1 if it >= step else 1.0)
                     for it in range(0, max_iter, TINY_SOLVER["display"])}
    assert all(loss is not None and loss > 0 for _, loss, _ in log.train)


def test_gzip_reads_as_plain(caffe_train_run: Path, tmp_path: Path) -> None:
    plain = caffe_train_run / "train.log"
    zipped = tmp_path / "train.log.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    assert parse_log(zipped) == parse_log(plain)
    assert parse_log(tmp_path) == parse_log(plain)  # a run folder holding train.log.gz


def test_cut_off_before_the_last_test(caffe_train_run: Path, tmp_path: Path) -> None:
    text = (caffe_train_run / "train.log").read_text()
    last = TINY_SOLVER["max_iter"]
    cut = text.index(f"Iteration {last}, Testing net")
    cut = text.index("\n", cut) + 1 + 20  # the test header and a piece of the next line
    (tmp_path / "cut.log").write_text(text[:cut])
    full, log = parse_log(caffe_train_run / "train.log"), parse_log(tmp_path / "cut.log")
    assert log.tests == full.tests[:-1]
    assert log.final_iteration == last - TINY_SOLVER["test_interval"]
    assert log.last_iteration == last  # the train loss line printed before the final test


def test_cut_off_gzip(caffe_train_run: Path, tmp_path: Path) -> None:
    data = gzip.compress((caffe_train_run / "train.log").read_bytes())
    (tmp_path / "cut.log.gz").write_bytes(data[: len(data) * 2 // 3])
    full, log = parse_log(caffe_train_run / "train.log"), parse_log(tmp_path / "cut.log.gz")
    assert log.tests == full.tests[: len(log.tests)]
    assert log.train == full.train[: len(log.train)]
    assert len(log.train) < len(full.train)


def test_resumed_run_appended(caffe_train_run: Path, tmp_path: Path) -> None:
    """A run stopped after its first snapshot and resumed from it, both logs in one file."""
    snap = TINY_SOLVER["snapshot"]
    for name in ("train_val.prototxt", "solver.prototxt", "lmdb"):
        (tmp_path / name).symlink_to(caffe_train_run / name)
    for ext in ("caffemodel", "solverstate"):
        src = caffe_train_run / f"snapshot_iter_{snap}.{ext}"
        (tmp_path / src.name).write_bytes(src.read_bytes())
    first = (caffe_train_run / "train.log").read_text()
    first = first[: first.index(f"Iteration {snap} (")]
    resumed = run_caffe("train", "-solver", "solver.prototxt",
                        "-snapshot", f"snapshot_iter_{snap}.solverstate", cwd=tmp_path).stderr
    log = parse_text(first + resumed)
    every = TINY_SOLVER["test_interval"]
    assert [t[0] for t in log.tests] == list(range(0, TINY_SOLVER["max_iter"] + 1, every))
    iterations = [r[0] for r in log.train]
    assert iterations == sorted(set(iterations))
    assert log.tests[-1][1] == _values_after(resumed, "accuracy = ")[-1]


PREFIX = "I0712 21:14:05.384721 26435 "


def log_2014(tests: dict[int, tuple[float, float]], train: dict[int, tuple[float, float]]) -> str:
    """Text in the 2014 format of docs/PAPER.md, "Log formats"."""
    lines = [f"{PREFIX}solver.cpp:59] Solving CaffeNet"]
    for it in sorted(set(tests) | set(train)):
        if it in train:
            lines.append(f"{PREFIX}solver.cpp:162] Iteration {it}, loss = {train[it][0]}")
            lines.append(f"{PREFIX}solver.cpp:359] Iteration {it}, lr = {train[it][1]}")
        if it in tests:
            lines.append(f"{PREFIX}solver.cpp:96] Iteration {it}, Testing net")
            lines.append(f"{PREFIX}solver.cpp:123] Test score #0: {tests[it][0]}")
            lines.append(f"{PREFIX}solver.cpp:123] Test score #1: {tests[it][1]}")
    return "\n".join(lines) + "\n"


def test_2014_format() -> None:
    tests = {449000: (0.624, 1.7), 450000: (0.626239, 1.66107)}
    train = {449960: (0.52, 1e-06), 449980: (0.47, 1e-06)}
    log = parse_text(log_2014(tests, train))
    assert log.tests == [(it, acc, loss) for it, (acc, loss) in sorted(tests.items())]
    assert log.train == [(it, loss, lr) for it, (loss, lr) in sorted(train.items())]
    assert (log.final_iteration, log.final_accuracy) == (450000, 0.626239)


def test_outputs_matched_by_name_and_only_the_first_test_net() -> None:
    text = (
        f"{PREFIX}solver.cpp:347] Iteration 100, Testing net (#0)\n"
        f"{PREFIX}solver.cpp:414]     Test net output #0: loss = 1.25 (* 1 = 1.25 loss)\n"
        f"{PREFIX}solver.cpp:414]     Test net output #1: accuracy = 0.375\n"
        f"{PREFIX}solver.cpp:347] Iteration 100, Testing net (#1)\n"
        f"{PREFIX}solver.cpp:414]     Test net output #0: accuracy = 0.99\n"
        f"{PREFIX}solver.cpp:239] Iteration 100, loss = nan\n"
    )
    log = parse_text(text)
    assert log.tests == [(100, 0.375, 1.25)]
    assert log.to_json()["train"] == [[100, None, None]]


def test_synthetic_caffe1_log_round_trip() -> None:
    acc = {0: 0.1, 100: 0.25, 200: 0.5}
    log = parse_text(caffe1_log(acc, 200, done=True))
    assert [(it, a) for it, a, _ in log.tests] == sorted(acc.items())
    assert log.final_iteration == 200


def test_cli_prints_json(caffe_train_run: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["parse-log", str(caffe_train_run / "train.log")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"final_iteration", "final_accuracy", "tests", "train"}
    assert out["final_iteration"] == TINY_SOLVER["max_iter"]
    assert out["final_accuracy"] == out["tests"][-1][1]
    assert all(len(row) == 3 for row in out["tests"] + out["train"])


def test_cli_missing_log(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["parse-log", str(tmp_path / "nope.log")]) == 2
    assert re.match(r"transferability parse-log: error: .*nope\.log", capsys.readouterr().err)


def test_wall_seconds_from_glog_stamps(caffe_train_run: Path, tmp_path: Path) -> None:
    # the real log: its first and last stamps, read here by their own split
    stamps = [line.split()[1] for line in (caffe_train_run / "train.log").read_text().splitlines()
              if re.match(r"^I\d{8} ", line)]
    h0, m0, s0 = map(float, stamps[0].split(":"))
    h1, m1, s1 = map(float, stamps[-1].split(":"))
    assert wall_seconds(caffe_train_run) == pytest.approx((h1 - h0) * 3600 + (m1 - m0) * 60
                                                          + s1 - s0, abs=1e-6)
    # glog's year-less stamps, across midnight; a log with one stamp has no span
    (tmp_path / "train.log").write_text("I1231 23:59:58.5 1 solver.cpp:1] a\nx\n"
                                        "I0101 00:00:01.25 1 solver.cpp:1] b\n")
    assert wall_seconds(tmp_path) == pytest.approx(2.75)
    (tmp_path / "train.log").write_text("I20261206 04:23:24.5 1 caffe.cpp:1] only\n")
    assert wall_seconds(tmp_path) is None
