"""`transferability status`: one line per network of a plan, then the totals."""

from __future__ import annotations

import argparse
from pathlib import Path

from transferability.commands import data_argument, real_path
from transferability.plan.selections import PLANS, select
from transferability.training import slurm, status


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "status", help="each network of a plan: finished (top-1), running, waiting or failed")
    p.add_argument("plan", metavar="PLAN", help=f"one of {', '.join(PLANS)}")
    p.add_argument("--dataset", default="fashion-mnist", help="imagenet or fashion-mnist")
    p.add_argument("--split", default="0", help="figure2's split: 0, 1, 2, 3 or natman")
    p.add_argument("--runs", type=real_path, default=Path("runs"), help="run folders' root")
    data_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    selection = select(args.plan, args.dataset, args.split)
    queued = slurm.queued_jobs()
    rows = status.statuses(selection, args.runs, queued)
    print(status.report(selection, rows, queued is not None))
    return 0
