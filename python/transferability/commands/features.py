"""`transferability features`: one layer's activations of a trained net for an LMDB's images."""

from __future__ import annotations

import argparse
from pathlib import Path

from transferability.errors import UserError
from transferability.factors.feature_store import shape
from transferability.factors.features import extract


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "features", help="write one layer's activations for an LMDB's images to HDF5",
        description="Forward an LMDB's images through a trained net (TEST transform: centre crop, "
                    "the net's mean and scale) and write the activations of one layer, with the "
                    "labels, to HDF5 (datasets `features` N x D and `labels` N).")
    p.add_argument("model", type=Path, metavar="MODEL.caffemodel")
    p.add_argument("prototxt", type=Path, metavar="NET.prototxt",
                   help="the net's train_val (or deploy) prototxt")
    p.add_argument("--layer", required=True, metavar="NAME", help="blob to read, e.g. conv3, fc7")
    p.add_argument("--data", required=True, type=Path, metavar="LMDB",
                   help="the images: an LMDB folder, or a dataset folder holding lmdb/")
    p.add_argument("--mean", type=Path, metavar="MEAN.binaryproto",
                   help="default: the mean_file of the net's data layer, beside NET.prototxt")
    p.add_argument("--out", required=True, type=Path, metavar="FEATS.h5")
    p.add_argument("--pool", type=int, choices=(1, 2, 3),
                   help="max-pool convolutional maps to a POOL x POOL grid")
    p.add_argument("--batch", type=int, help="images per forward pass (default: the data layer's)")
    p.add_argument("--limit", type=int, metavar="N",
                   help="only N images, spread evenly over the LMDB")
    p.add_argument("--gpu", type=int, metavar="ID", help="run on this GPU (default: the CPU)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    for name in ("batch", "limit"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UserError(f"--{name} must be at least 1")
    out = extract(args.model, args.prototxt, args.data, {args.layer: args.out}, mean=args.mean,
                  pool=args.pool, batch=args.batch, limit=args.limit, gpu=args.gpu)[args.layer]
    rows, dims = shape(out)
    print(f"{out}: {rows} x {dims} features of {args.layer}")
    return 0
