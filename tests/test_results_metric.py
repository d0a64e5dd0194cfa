"""The accuracy the paper's figures plot: the authors' rule on constructed and real log lines, the
reference table made by it, and our runs' analog."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from statistics import fmean

import pytest

from transferability.cli import main
from transferability.disk import csv_text
from transferability.results import metric, paper

COLUMNS = metric.AUTHORS_COLUMNS


def _lines(network: str, part: str, tests: dict[int, float], day: str) -> list[dict[str, str]]:
    return [{"network": network, "log_file": part, "iteration": str(it), "test_score_0": str(acc),
             "timestamp": f"{day} {10 + i // 60:02d}:{i % 60:02d}:00.000000"}
            for i, (it, acc) in enumerate(tests.items())]


def test_a_restarted_log_part_wins_and_the_ten_highest_are_averaged() -> None:
    first = {it: 0.30 + it / 1e6 for it in range(1000, 15001, 1000)}  # 0.301 .. 0.315
    restart = {it: 0.50 - it / 1e6 for it in range(12000, 20001, 1000)}  # 0.488 .. 0.480
    # the restart's part is listed first and its older twin last: the timestamp decides, across a
    # month's end
    lines = (_lines("netX", "part2", restart, "0501")
             + _lines("netX", "part1", first, "0430"))
    tests = metric.latest_per_iteration(lines)
    assert sorted(tests) == list(range(1000, 20001, 1000))
    assert tests[12000] == 0.488 and tests[11000] == 0.311  # the most recent value of each
    best = sorted(restart.values(), reverse=True)[:9] + [first[11000]]
    assert metric.mean_highest(tests.values()) == pytest.approx(fmean(best))
    (row,) = metric.authors_table(csv_text(lines, COLUMNS))
    assert row == {"network": "netX", "tests": 20, "last_iteration": 20000,
                   "final_top1": 0.48, "mean_of_10_best_top1": round(fmean(best), 6)}
    assert metric.mean_highest([0.2, 0.4]) == pytest.approx(0.3)  # fewer than ten: all of them
    assert metric.mean_highest([]) is None


# A sample of the authors' real test lines (authors_test_scores.csv.gz): every line of
# transfer-ft1A1A_1_6 (split 1's A6A+) at the iterations of its 11 highest tests by either the
# most recent or the earliest value; four log parts, five iterations tested twice after restarts.
_PART = "140507_104549_transfer-ft1A1A.o"
SAMPLE = [
    ("252588", 268000, 0.63304, "0516 23:47:28.293004"),
    ("253004", 268000, 0.62964, "0519 20:24:35.332144"),
    ("253004", 301000, 0.6308, "0521 05:49:28.517647"),
    ("253004", 310000, 0.632, "0521 14:55:29.880079"),
    ("253004", 315000, 0.63192, "0521 19:59:23.474006"),
    ("253004", 318000, 0.631839, "0521 23:01:25.123307"),
    ("257167", 301000, 0.631799, "0525 21:13:29.881852"),
    ("257167", 310000, 0.631, "0526 06:20:58.557832"),
    ("257167", 315000, 0.63096, "0526 11:25:04.699342"),
    ("257167", 318000, 0.630759, "0526 14:27:19.244447"),
    ("257167", 334000, 0.63184, "0527 06:39:09.932518"),
    ("257167", 337000, 0.63184, "0527 09:41:35.203697"),
    ("257167", 347000, 0.63232, "0527 19:49:05.420706"),
    ("257167", 349000, 0.631839, "0527 21:50:36.728894"),
    ("257167", 358000, 0.631799, "0528 06:57:27.188559"),
    ("257167", 390000, 0.632159, "0529 15:20:27.273391"),
    ("257167", 392000, 0.631759, "0529 17:22:07.902323"),
    ("257167", 395000, 0.631919, "0529 20:24:17.816303"),
    ("257167", 396000, 0.63116, "0529 21:24:47.034775"),
    ("258348", 392000, 0.632079, "0531 20:06:01.109506"),
    ("258348", 395000, 0.631519, "0531 21:40:54.417479"),
    ("258348", 396000, 0.631839, "0531 22:12:32.363942"),
    ("258348", 401000, 0.63188, "0601 00:50:54.393766"),
    ("258348", 403000, 0.631799, "0601 01:54:35.605128"),
]


def test_the_reference_holds_the_authors_rule_on_a_sample_of_their_lines() -> None:
    lines = [{"network": "transfer-ft1A1A_1_6", "log_file": f"{_PART}{job}.gz",
              "iteration": str(it), "test_score_0": str(acc), "timestamp": when}
             for job, it, acc, when in SAMPLE]
    tests = metric.latest_per_iteration(lines)
    reference = paper.published()["split1/A6A+"]
    assert round(metric.mean_highest(tests.values()), 6) == reference.plotted == 0.631939
    earliest = {}
    for _, it, acc, _ in sorted(SAMPLE, key=lambda s: s[3], reverse=True):
        earliest[it] = acc
    assert round(metric.mean_highest(earliest.values()), 6) != reference.plotted


def test_the_reference_table_covers_every_published_network() -> None:
    published = paper.published()
    assert len(published) == 148
    for pub in published.values():
        assert -0.001 < pub.plotted - pub.accuracy < 0.005, pub.paper_name
    assert published["split0/baseA"].plotted == 0.6151
    ref = Path(metric.__file__).parent.parent / "reference" / "paper_plotted_accuracy.csv"
    with open(ref, newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == metric.REFERENCE_COLUMNS
    for row in rows:  # the derivation reproduces every published final test
        pub = next(p for p in published.values() if p.paper_name == row["network"])
        assert (float(row["final_top1"]), int(row["last_iteration"])) == (pub.accuracy,
                                                                           pub.iteration)


def test_our_analog_is_the_mean_of_the_last_lr_steps_tests() -> None:
    tests = [(it, 0.8 + it / 1e5) for it in range(0, 7501, 750)]
    # the scaled schedule: lr cut at 2500 and 5000; the test at 5000 closes the second step
    assert metric.last_step_mean(tests, 2500, 7500) == pytest.approx(
        fmean(0.8 + it / 1e5 for it in (5250, 6000, 6750, 7500)))
    assert metric.plotted(tests, False, 2500, 7500) == metric.last_step_mean(tests, 2500, 7500)
    assert metric.plotted(tests, True, 2500, 7500) == pytest.approx(
        fmean(0.8 + it / 1e5 for it in range(750, 7501, 750)))  # the 10 highest of 11
    assert metric.plotted([(0, 0.9), (1000, 0.5)], True, 2500, 7500) == 0.5  # none at 0
    assert metric.last_step_mean([(0, 0.1)], 2500, 7500) is None


def test_paper_metric_command(tmp_path: Path, capsys) -> None:
    lines = _lines("half0A", "p1", {1000: 0.25, 2000: 0.5}, "0403")
    authors = tmp_path / "authors.csv.gz"
    authors.write_bytes(gzip.compress(csv_text(lines, COLUMNS).encode()))
    out = tmp_path / "ref.csv"
    assert main(["paper-metric", str(authors), "--out", str(out)]) == 0
    assert out.read_text().splitlines()[1] == "half0A,2,2000,0.5,0.375"
    (tmp_path / "bad.csv").write_text("network,iteration\nhalf0A,1000\n")
    assert main(["paper-metric", str(tmp_path / "bad.csv"), "--out", str(out)]) == 2
    assert "lack the columns log_file, test_score_0, timestamp" in capsys.readouterr().err
    assert out.read_text().splitlines()[1] == "half0A,2,2000,0.5,0.375"  # nothing half-written
