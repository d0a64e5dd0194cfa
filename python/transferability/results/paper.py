"""The authors' published final accuracies (reference/paper_final_accuracy.csv) by plan key."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

from transferability import plan

SOURCE = ("Yosinski et al. 2014, the authors' published final top-1 accuracies "
          "(transferability/reference/paper_final_accuracy.csv)")


@dataclass(frozen=True)
class Published:
    key: str         # the plan's group/name, e.g. split0/A3B
    paper_name: str  # the authors' name, e.g. transfer0A0B_1_3
    iteration: int
    accuracy: float


def _csv_text() -> str:
    ref = resources.files("transferability") / "reference" / "paper_final_accuracy.csv"
    return ref.read_text(encoding="utf-8")


@cache
def published() -> dict[str, Published]:
    """Plan key -> the published result, for every network in the reference file."""
    by_name = {plan.paper_name(net): net for net in plan.all_nets()}
    rows = csv.DictReader(io.StringIO(_csv_text()))
    out: dict[str, Published] = {}
    for row in rows:
        net = by_name[row["network"]]
        out[net.key] = Published(net.key, row["network"], int(row["final_iteration"]),
                                 float(row["top1_accuracy"]))
    return out


def accuracies() -> dict[str, float]:
    """Plan key -> published top-1 accuracy."""
    return {key: p.accuracy for key, p in published().items()}
