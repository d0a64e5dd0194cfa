"""`transferability transplant`: copy the first N layers of one .caffemodel for a target net."""

from __future__ import annotations

import argparse
from pathlib import Path

from transferability.nets.transplant import transplant


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "transplant", help="copy the first N learnable layers into a new .caffemodel")
    p.add_argument("source", type=Path, metavar="SRC.caffemodel")
    p.add_argument("target", type=Path, metavar="TARGET.prototxt")
    p.add_argument("n", type=int, metavar="N")
    p.add_argument("out", type=Path, metavar="OUT.caffemodel")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    names = transplant(args.source, args.target, args.n, args.out)
    print(f"{args.out}: {', '.join(names)} from {args.source}")
    return 0
