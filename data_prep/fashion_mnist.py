#!/usr/bin/env python3
"""Build Fashion-MNIST's datasets (whole, half0A..halfnatmanB, reduced0001..reduced1300)."""

import time
from pathlib import Path

from transferability.data.fashion_mnist import DEFAULT_ROOT, build_dataset, load
from transferability.data.script import parser, run
from transferability.plan import DATA_SETS


def main() -> int:
    p = parser(__file__, __doc__)
    p.add_argument("names", nargs="*", choices=[[], *DATA_SETS], metavar="NAME",
                   help=f"datasets to build (default all: {' '.join(DATA_SETS)})")
    p.add_argument("--source", type=Path, default=DEFAULT_ROOT,
                   help=f"folder of the IDX files (default {DEFAULT_ROOT})")
    p.add_argument("--out", type=Path, required=True, help="writes OUT/<dataset>_<part>/")
    args = p.parse_args()
    data = load(args.source)
    for name in args.names or DATA_SETS:
        start = time.perf_counter()
        build_dataset(data, name, args.out)
        parts = "train" if name.startswith("reduced") else "{train,valid}"
        print(f"{args.out}/{name}_{parts}: built in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    run(__file__, main)
