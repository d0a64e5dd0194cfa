"""`transferability progress PLAN`: nets finished, iterations, time left, until the plan is done."""

from __future__ import annotations

import argparse

from transferability import plan
from transferability.commands import real_path
from transferability.plan.selections import PLANS, select
from transferability.training.progress import watch


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("progress", help="watch a plan's trainings: done, running, time left")
    p.add_argument("plan", choices=PLANS, help="demo: figure 2 of split 0 and baseB's noise nets")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--split", default="0")
    p.add_argument("--runs", type=real_path, required=True)
    p.add_argument("--every", type=float, default=None,
                   help="seconds between looks (default: 2 on a terminal, 60 in a log)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    selection = select(args.plan, args.dataset, args.split)
    nets = list(selection.nets)
    if args.plan == "demo":
        nets += plan.noise_nets(plan.group_of_split(selection.split))
    watch(args.runs.resolve(), selection.dataset, nets, every=args.every)
    return 0
