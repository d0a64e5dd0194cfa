"""`transferability bench-cpu`: stock and patched Caffe, and PyTorch, on the demo's net, the net of
a user's 64 x 64 colour images and ImageNet's CaffeNet."""

from __future__ import annotations

import argparse
from pathlib import Path

from transferability.bench.cpu import run as bench
from transferability.caffe_env import caffe_home
from transferability.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench-cpu", help="stock and patched Caffe (and PyTorch) on the CPU")
    p.add_argument("--stock", type=Path, required=True, help="CAFFE_HOME of the stock build")
    p.add_argument("--patched", type=Path, default=None,
                   help="CAFFE_HOME of the patched build (default: CAFFE_HOME)")
    p.add_argument("--torch-python", default=None,
                   help="a Python that can import torch, for the PyTorch peer (optional)")
    p.add_argument("--iterations", type=int, default=200,
                   help="of the demo net a round (the colour net: half as many)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--caffenet-iterations", type=int, default=2,
                   help="of CaffeNet at batch 256, one round")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    patched = (args.patched or caffe_home()).resolve()
    args.stock = args.stock.resolve()
    for home in (args.stock, patched):
        if not (home / "bin/caffe").exists():
            raise UserError(f"no Caffe at {home} (bin/caffe missing); run `make bench-cpu`, "
                            "which builds both")
    print(bench(args.stock, patched, args.torch_python, args.iterations, args.rounds,
                args.caffenet_iterations), end="")
    return 0
