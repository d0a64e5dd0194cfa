#!/usr/bin/env python3
"""Compute the mean image of an LMDB of Datum, as Caffe's compute_image_mean DB OUT does."""

from pathlib import Path

from transferability.caffe_io import write_mean
from transferability.data.mean import compute_mean
from transferability.data.script import parser, run


def main() -> int:
    p = parser(__file__, __doc__)
    p.add_argument("db", type=Path, help="LMDB of Datum")
    p.add_argument("out", type=Path, help="mean image to write (BlobProto, .binaryproto)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args()
    mean = compute_mean(args.db, progress=not args.quiet)
    write_mean(args.out, mean)
    print(f"{args.out}: mean image {tuple(mean.shape[1:])}, "
          f"per channel {', '.join(f'{m:.3f}' for m in mean[0].mean(axis=(1, 2)))}")
    return 0


if __name__ == "__main__":
    run(__file__, main)
