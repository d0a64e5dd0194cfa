"""`transferability train`: prepare a run folder and train one network with the real caffe."""

from __future__ import annotations

import argparse
from pathlib import Path

from transferability.plan import DATASETS
from transferability.training.runs import train


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train one network of the plan (resumes, never redoes)")
    p.add_argument("dataset", choices=DATASETS)
    p.add_argument("net", metavar="GROUP/NET", help="e.g. split0/baseA, split0/A5B+, whole/random3")
    p.add_argument("--runs", type=Path, default=Path("runs"), help="run folders' root")
    p.add_argument("--data", type=Path, default=Path("data"), help="datasets' root")
    p.add_argument("--iters", type=int, help="shorten the solver to this many iterations")
    p.add_argument("--gpu", help="GPU id(s) for caffe -gpu; default: the CPU")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    train(args.runs, args.data, args.dataset, args.net, args.iters, args.gpu or None)
    return 0
