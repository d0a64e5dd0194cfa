"""`transferability solver`: a run-local copy of a solver, shortened or switched to the GPU."""

from __future__ import annotations

import argparse
from pathlib import Path

from google.protobuf import text_format

from transferability.caffe_io import caffe_pb2, read_solver
from transferability.errors import UserError
from transferability.nets.solver import shorten


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("solver", help="write a run-local solver (ITERS=k, GPU)")
    p.add_argument("source", type=Path, metavar="SOLVER.prototxt")
    p.add_argument("out", type=Path, metavar="OUT.prototxt")
    p.add_argument("--iters", type=int, help="run this many iterations, schedule scaled to fit")
    p.add_argument("--gpu", action="store_true", help="solver_mode GPU")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.source.is_file():
        raise UserError(f"no such solver: {args.source}")
    s = read_solver(args.source)
    if args.iters is not None:
        if args.iters < 1:
            raise UserError(f"ITERS must be a positive integer, not {args.iters}")
        s = shorten(s, args.iters)
    if args.gpu:
        s.solver_mode = caffe_pb2.SolverParameter.GPU
    args.out.write_text(text_format.MessageToString(s))
    return 0
