"""`transferability generate`: write prototxt/ and solvers/ from the architecture and the plan."""

from __future__ import annotations

import argparse
from pathlib import Path

from transferability.caffe_env import REPO_ROOT
from transferability.nets.generate import write_all


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("generate", help="write every train_val and solver prototxt")
    p.add_argument("--root", type=Path, default=REPO_ROOT, help="where prototxt/ and solvers/ go")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    count = write_all(args.root)
    print(f"{count} files in {args.root}/prototxt and {args.root}/solvers")
    return 0
