"""`transferability bench-frozen`: caffe time of A7B over baseA (ImageNet CaffeNet)."""

from __future__ import annotations

import argparse

from transferability.bench.frozen import run as bench


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench-frozen", help="caffe time of the frozen A7B over baseA")
    p.add_argument("--batch", type=int, default=32, help="batch size (the paper's is 256)")
    p.add_argument("--iterations", type=int, default=5)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    times = bench(args.batch, args.iterations)
    for name, t in times.items():
        print(f"{name:14s} forward {t['Forward']:8.1f} ms  backward {t['Backward']:8.1f} ms  "
              f"forward-backward {t['Forward-Backward']:8.1f} ms")
    ratio = times["split0/A7B"]["Forward-Backward"] / times["split0/baseA"]["Forward-Backward"]
    print(f"A7B / baseA forward-backward time at batch {args.batch}: {ratio:.2f} (target <= 0.6)")
    return 0
