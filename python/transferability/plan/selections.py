"""The selections of networks a user names (PLAN=paper, figure2 or demo), and each net's name.

A net of a dataset is named `<dataset>/<group>/<net>` (`fashion-mnist/split0/A3B+`): that is
its make target (plan.mk, from makerules.py), its Slurm job's name, and how status lists it.
"""

from __future__ import annotations

from dataclasses import dataclass

from transferability import plan
from transferability.errors import UserError
from transferability.plan import Net
from transferability.plan.datasets import dataset as dataset_record
from transferability.plan.datasets import known

PLANS = ("paper", "figure2", "demo")


@dataclass(frozen=True)
class Selection:
    """The networks of one plan on one dataset."""

    plan: str
    dataset: str
    split: str
    nets: list[Net]

    def describe(self) -> str:
        what = "the paper's networks" if self.plan == "paper" else f"figure 2, split {self.split}"
        return f"plan {self.plan} ({what}, {self.dataset}): {len(self.nets)} networks"


def select(plan_name: str, dataset: str, split: str) -> Selection:
    """PLAN=paper|figure2|demo; demo is Fashion-MNIST's figure 2 of split 0 whatever else is set."""
    if plan_name not in PLANS:
        raise UserError(f"unknown PLAN '{plan_name}': use {', '.join(PLANS[:-1])} or {PLANS[-1]}")
    if plan_name == "demo":
        dataset, split = "fashion-mnist", "0"
    record = dataset_record(dataset)
    nets = plan.paper_nets() if plan_name == "paper" else plan.figure2_nets(split)
    if plan_name != "paper" and (why := record.lacks(nets[0].train_set)):
        raise UserError(why)
    return Selection(plan_name, dataset, split, plan.nets_with_data(record, nets))


def net_name(dataset: str, net: Net) -> str:
    """`fashion-mnist/split0/A3B+`: the net's make target and its Slurm job's name."""
    return f"{dataset}/{net.key}"


def net_of_name(name: str) -> tuple[str, Net] | None:
    """The dataset and net of a name net_name gives; None for any other string."""
    dataset, _, key = name.partition("/")
    if dataset not in known():
        return None
    try:
        return dataset, plan.find(key)
    except UserError:
        return None
