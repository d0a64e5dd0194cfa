"""The authors' published accuracies by plan key: the final test (reference/
paper_final_accuracy.csv) and the mean of the 10 best tests, the number the paper's figures plot
(reference/paper_plotted_accuracy.csv, derived from the authors' logs by `make paper-metric`)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

from transferability import plan

SOURCE = ("Yosinski et al. 2014, the authors' published top-1 accuracies: the final test "
          "(transferability/reference/paper_final_accuracy.csv) and the mean of the 10 best "
          "tests, which the paper's figures plot (reference/paper_plotted_accuracy.csv)")
FINAL, PLOTTED = "final", "plotted"  # the two metrics: the last test; the paper's figures' number
METRICS = (FINAL, PLOTTED)


@dataclass(frozen=True)
class Published:
    key: str         # the plan's group/name, e.g. split0/A3B
    paper_name: str  # the authors' name, e.g. transfer0A0B_1_3
    iteration: int
    accuracy: float  # at the last test
    plotted: float   # the mean of the 10 best tests


def _csv_rows(name: str) -> list[dict[str, str]]:
    ref = resources.files("transferability") / "reference" / name
    return list(csv.DictReader(io.StringIO(ref.read_text(encoding="utf-8"))))


@cache
def published() -> dict[str, Published]:
    """Plan key -> the published result, for every network in the reference file."""
    by_name = {plan.paper_name(net): net for net in plan.all_nets()}
    plotted = {row["network"]: float(row["mean_of_10_best_top1"])
               for row in _csv_rows("paper_plotted_accuracy.csv")}
    out: dict[str, Published] = {}
    for row in _csv_rows("paper_final_accuracy.csv"):
        net = by_name[row["network"]]
        out[net.key] = Published(net.key, row["network"], int(row["final_iteration"]),
                                 float(row["top1_accuracy"]), plotted[row["network"]])
    return out


def accuracies(metric: str = FINAL) -> dict[str, float]:
    """Plan key -> published top-1 accuracy: the final test, or the paper's plotted number."""
    return {key: p.accuracy if metric == FINAL else p.plotted for key, p in published().items()}
