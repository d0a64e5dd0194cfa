"""`transferability slurm`: submit a plan to Slurm, one job per network, transfers after bases."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from transferability import plan
from transferability.commands import real_path
from transferability.errors import UserError
from transferability.plan.selections import PLANS, select
from transferability.training import slurm


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "slurm", help="submit a plan as Slurm jobs: one per network, transfers after their bases")
    p.add_argument("plan", metavar="PLAN", help=f"one of {', '.join(PLANS)} (demo: "
                   "Fashion-MNIST's figure 2 of split 0)")
    p.add_argument("--dataset", default="fashion-mnist", help="imagenet or fashion-mnist")
    p.add_argument("--split", default="0", help="figure2's split: 0, 1, 2, 3 or natman")
    p.add_argument("--runs", type=real_path, default=Path("runs"), help="run folders' root")
    p.add_argument("--data", type=real_path, default=Path("data"), help="datasets' root")
    p.add_argument("--iters", type=int, help="shorten every solver to this many iterations")
    p.add_argument("--gpu", action="store_true", help="train on one GPU per job (--gres=gpu:1)")
    p.add_argument("--make-var", action="append", default=[], metavar="NAME=VALUE",
                   help="one more variable for every job's make command (e.g. IMAGENET=/path)")
    p.add_argument("--sbatch-args", default="", metavar="ARGS",
                   help="more sbatch options for every job, as one shell-quoted string")
    p.add_argument("--dry-run", action="store_true",
                   help="print the sbatch commands and the dependency graph; submit nothing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    plan.check_iters(args.iters)
    for var in args.make_var:
        if "=" not in var:
            raise UserError(f"--make-var wants NAME=VALUE, not '{var}'")
    try:
        extra = tuple(shlex.split(args.sbatch_args))
    except ValueError as err:
        raise UserError(f"SBATCH_ARGS cannot be split into words: {err}") from None
    selection = select(args.plan, args.dataset, args.split)
    settings = slurm.Settings(args.runs, args.data, args.iters, args.gpu, tuple(args.make_var),
                              extra)
    graph = slurm.build(selection, settings, slurm.queued_jobs())
    if args.dry_run:
        print(slurm.dry_run(graph, settings))
        return 0
    ids = slurm.submit(graph, settings)
    print(f"{selection.describe()}: submitted {slurm.jobs(len(ids))}, "
          f"{len(graph.finished)} finished already, {len(graph.queued)} queued already")
    return 0
