"""`transferability gpu-bundle-files`: the nets and data gpu-check.sh trains (make gpu-bundle)."""

from __future__ import annotations

import argparse
from pathlib import Path

from transferability.bench.gpu_bundle import write_bundle_files


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("gpu-bundle-files",
                              help="the GPU bundle's nets, solvers and small data sets")
    p.add_argument("out", type=Path, help="the bundle's folder (nets/ and data/ go there)")
    p.add_argument("--data", type=Path, default=Path("data"), help="the project's DATA root")
    p.add_argument("--iters", type=int, default=300, help="iterations of each training")
    p.add_argument("--train-images", type=int, default=5000, help="training images per set")
    p.add_argument("--valid-images", type=int, default=1000, help="validation images per set")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    nets = write_bundle_files(args.out, args.data, args.iters, args.train_images,
                              args.valid_images)
    print(f"{', '.join(nets)} and their data in {args.out}")
    return 0
