"""`transferability factors-grid`: source width x depth against near, middle and far targets."""

from __future__ import annotations

import argparse
from pathlib import Path

from transferability.commands import real_path
from transferability.disk import check_writable
from transferability.errors import UserError
from transferability.plan import layout

COMMAND = "make factors-grid"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "factors-grid", help="Azizpour et al.'s factors: source width and depth, target distance",
        description="For every source of the factors grid (three widths x three depths on split "
                    "0's half A, and a second seed of CaffeNet's own) and every target (near: "
                    "half0B, middle: halfnatmanB, far: scikit-learn's digits), a linear SVM on "
                    "each layer, raw and PCA + L2; writes grid.csv, grid.png/.pdf and "
                    "findings.md with the verdicts. --from-csv redraws from a grid.csv.")
    p.add_argument("runs", type=real_path, metavar="RUNS", help="run folders' root")
    p.add_argument("data", type=real_path, metavar="DATA", help="datasets' root")
    p.add_argument("--out", type=real_path, required=True, metavar="DIR", help="results go here")
    p.add_argument("--work", type=Path, metavar="DIR",
                   help="features (reused on a rerun); default RUNS/factors-grid")
    p.add_argument("--max-train", type=int, default=3000, metavar="N",
                   help="target training images used, spread over the set (default 3000)")
    p.add_argument("--pca", type=int, default=64, metavar="D", help="PCA dimensions (default 64)")
    p.add_argument("--jobs", type=int, default=1, metavar="J",
                   help="source/target pairs evaluated at once (default 1)")
    p.add_argument("--from-csv", type=Path, metavar="CSV",
                   help="no evaluation: the figure and findings of an existing grid.csv")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # sklearn, matplotlib and pycaffe load only once the arguments are known to be good
    from transferability.factors import grid, grid_report

    for name in ("max_train", "pca", "jobs"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    settings = grid.Settings(pca=args.pca, max_train=args.max_train)
    work = args.work or args.runs / layout.GRID_WORK
    check_writable(args.out, "--out")  # before the long evaluation, not after it
    if args.from_csv:
        rows = grid.read_table(args.from_csv)
        settings = grid.settings_of(rows, settings)
    else:
        grid.check_ready(args.runs, args.data)  # a mistyped RUNS is one line, no folder made in it
        check_writable(work, "--work")
        rows = grid.run_grid(args.runs, args.data, work, settings, args.jobs)
    try:
        found, written = grid_report.publish(rows, settings, args.out, COMMAND,
                                             with_table=not args.from_csv)
    except OSError as err:
        raise UserError(f"cannot write the grid's results to {args.out}: "
                        f"{err.strerror or err}; free space or give --out a writable folder") \
            from None
    for row in grid_report.best_table(rows):
        print("  ".join(f"{k}: {v}" for k, v in row.items()))
    for f in found:
        print(f"{f.number} {f.claim} [{f.target}]: q = {f.shown()} -> {f.verdict}")
    print("wrote " + ", ".join(map(str, written)))
    return 0
