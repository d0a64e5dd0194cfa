#!/usr/bin/env python3
"""Build the factors grid's far target: scikit-learn's digits, 28x28, as digits_{train,valid}."""

import time
from pathlib import Path

from transferability.data.digits import build
from transferability.data.script import parser, run


def main() -> int:
    p = parser(__file__, __doc__)
    p.add_argument("--out", type=Path, required=True, help="writes OUT/digits_{train,valid}/lmdb")
    args = p.parse_args()
    start = time.perf_counter()
    counts = build(args.out)
    print(f"{args.out}/digits_{{train,valid}}: {counts['train']} and {counts['valid']} images, "
          f"built in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    run(__file__, main)
