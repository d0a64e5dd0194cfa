"""The accuracy the paper's figures plot, for the authors' logs and for ours.

The authors' plotting notebook (docs/PAPER.md, "The metric the paper's figures plot") reads every
log part of a network, keeps for each test iteration the most recent value, and plots the mean of
the network's 10 highest validation top-1 values over the whole run (`mean_highest`). Our runs on
the paper's own schedule get the same rule. A scaled schedule tests too rarely for it (Fashion-
MNIST: every 750 of 7500 iterations), so there the analog is the mean of the tests in the last
learning-rate step (`last_step_mean`): in the authors' logs the 10 highest tests lie in the
steps at lr <= base_lr / 100 (all but one of 1290 on the nets that learn on whole halves), the
plateau that our last step is, and the mean of the tests in their last step lies 0.06 points (at
most 0.19) below the mean of the 10 best (docs/PAPER.md, "The number the paper's figures plot").
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from statistics import fmean

from transferability.errors import UserError

PAPER_BEST = 10  # the notebook's `mean_highest(record, number=10)`
AUTHORS_COLUMNS = ("network", "log_file", "iteration", "test_score_0", "timestamp")
REFERENCE_COLUMNS = ("network", "tests", "last_iteration", "final_top1", "mean_of_10_best_top1")

Tests = Sequence[tuple[int, float]]  # (iteration, top-1), one per iteration


def mean_highest(values: Iterable[float], number: int = PAPER_BEST) -> float | None:
    """The mean of the `number` highest values (of all of them when there are fewer)."""
    best = sorted(values, reverse=True)[:number]
    return fmean(best) if best else None


def last_step_mean(tests: Tests, stepsize: int, max_iter: int) -> float | None:
    """The mean of the tests after the last learning-rate change of a step schedule (a test at
    iteration t measures the weights after t updates, so the test at the change belongs to the
    step before)."""
    if stepsize < 1 or max_iter < 1:
        return None
    last_change = (max_iter - 1) // stepsize * stepsize
    values = [acc for it, acc in tests if it > last_change]
    return fmean(values) if values else None


def plotted(tests: Tests, paper_rule: bool, stepsize: int, max_iter: int) -> float | None:
    """Our run's counterpart of the paper's plotted accuracy: the paper's own rule on the paper's
    schedule (`paper_rule`; over the tests after iteration 0, as the authors' logs have no test
    before their first 1000 iterations), the last step's mean on a scaled one."""
    if paper_rule:
        return mean_highest(acc for it, acc in tests if it > 0)
    return last_step_mean(tests, stepsize, max_iter)


# --- the authors' published test lines -> the reference table ------------------------------------
def latest_per_iteration(lines: Iterable[Mapping[str, str]]) -> dict[int, float]:
    """Iteration -> top-1 of the most recent test line at that iteration, over every log part.
    The logs' glog timestamps (`MMDD HH:MM:SS.us`) carry no year; all lie within 2014 (March to
    September), so their text order is their time order."""
    latest: dict[int, tuple[str, float]] = {}
    for line in lines:
        iteration, when = int(line["iteration"]), line["timestamp"]
        if iteration not in latest or when > latest[iteration][0]:
            latest[iteration] = (when, float(line["test_score_0"]))
    return {it: acc for it, (_, acc) in sorted(latest.items())}


def authors_table(text: str) -> list[dict[str, object]]:
    """One row per network of the authors' test lines (CSV text with AUTHORS_COLUMNS): its tests
    kept, its last test, and the mean of its 10 best, the number the paper's figures plot."""
    reader = csv.DictReader(io.StringIO(text))
    missing = set(AUTHORS_COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise UserError(f"the authors' test lines lack the columns {', '.join(sorted(missing))}: "
                        "give authors_test_scores.csv.gz")
    by_network: dict[str, list[dict[str, str]]] = {}
    for line in reader:
        by_network.setdefault(line["network"], []).append(line)
    rows = []
    for network, lines in by_network.items():
        tests = latest_per_iteration(lines)
        last = max(tests)
        rows.append({"network": network, "tests": len(tests), "last_iteration": last,
                     "final_top1": tests[last],
                     "mean_of_10_best_top1": round(mean_highest(tests.values()), 6)})
    return rows


def read_authors(path: Path) -> str:
    """The text of the authors' test lines, gzip or plain."""
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise UserError(f"cannot read {path}: {err.strerror or err}") from None
    return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
