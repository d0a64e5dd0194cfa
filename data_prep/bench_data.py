#!/usr/bin/env python3
"""Time build_lmdb.py against Caffe's convert_imageset on the same generated 500x375 JPEGs."""

import os
import tempfile
from pathlib import Path

from transferability.bench.data import run_bench, run_format_bench
from transferability.data.script import parser, run


def main() -> int:
    p = parser(__file__, __doc__)
    p.add_argument("--images", type=int, default=1000, help="JPEGs to generate (1000)")
    p.add_argument("--rounds", type=int, default=3, help="timed runs of each tool (3)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="build_lmdb.py --workers (default: the CPU count)")
    p.add_argument("--dir", type=Path, help="work folder to keep (default: a temporary one)")
    p.add_argument("--formats", action="store_true",
                   help="instead: raw against encoded records (bytes, build rate, peak RSS, "
                        "images/s out of Caffe's Data layer)")
    args = p.parse_args()
    if args.formats:
        print(f"{os.cpu_count()} CPUs; {args.images} generated 500x375 JPEGs at 256x256")
        with tempfile.TemporaryDirectory(prefix="bench-formats-") as tmp:
            for result in run_format_bench(args.dir or Path(tmp), args.images, args.workers):
                print(result.line())
        return 0
    print(f"{os.cpu_count()} CPUs; {args.images} generated 500x375 JPEGs, resized to 256x256")
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        result = run_bench(args.dir or Path(tmp), args.images, args.rounds, args.workers)
    print("\n".join(result.lines()))
    return 0


if __name__ == "__main__":
    run(__file__, main)
