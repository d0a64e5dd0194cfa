"""`transferability estimators`: LogME, H-score, LEEP and NCE per layer of the factors grid,
against the grid's SVM and the study's frozen transfer AnB."""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from transferability.commands import real_path
from transferability.disk import check_writable
from transferability.errors import UserError
from transferability.plan import layout

COMMAND = "make estimators"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "estimators", help="cheap transferability scores per layer against the measured transfer",
        description="For every source, target and layer of the factors grid: LogME and H-score "
                    "of the layer's activations and LEEP and NCE of the source head, on the "
                    "target's training images only; beside the grid's linear SVM on that layer "
                    "and split 0's frozen transfer AnB; rank correlations with bootstrap "
                    "intervals, verdicts and timings. Writes estimators.csv, correlations.csv, "
                    "estimators.png/.pdf and findings.md.")
    p.add_argument("runs", type=real_path, metavar="RUNS", help="run folders' root")
    p.add_argument("data", type=real_path, metavar="DATA", help="datasets' root")
    p.add_argument("--grid", type=Path, required=True, metavar="CSV",
                   help="the factors grid's grid.csv (`make factors-grid` writes it)")
    p.add_argument("--out", type=real_path, required=True, metavar="DIR", help="results go here")
    p.add_argument("--work", type=Path, metavar="DIR",
                   help="the grid's features (extracted where missing); default "
                        "RUNS/factors-grid")
    p.add_argument("--bootstrap", type=int, default=100, metavar="B",
                   help="bootstrap replicates of the images (default 100)")
    p.add_argument("--seed", type=int, default=0, help="the bootstrap's seed (default 0)")
    p.add_argument("--jobs", type=int, default=1, metavar="J",
                   help="source/target pairs scored at once (default 1)")
    p.set_defaults(func=run)


def _cpu() -> float:
    """CPU seconds of this process and of its finished workers."""
    return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def run(args: argparse.Namespace) -> int:
    # numpy's linear algebra, matplotlib and pycaffe load once the arguments are known to be good
    from transferability.factors import estimator_grid, estimator_report, grid

    for name in ("bootstrap", "jobs"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name} must be at least 1")
    start = time.perf_counter(), _cpu()
    rows = grid.read_table(args.grid)
    work = args.work or args.runs / layout.GRID_WORK
    check_writable(args.out, "--out")  # before the long work, not after it
    grid.check_ready(args.runs, args.data)
    check_writable(work, "--work")
    settings = estimator_grid.Settings(grid.settings_of(rows, grid.Settings()), args.bootstrap,
                                       args.seed)
    measured = estimator_grid.measure(args.runs, args.data, work, rows, settings, args.jobs)
    try:
        seconds = time.perf_counter() - start[0], _cpu() - start[1]
        found, cost, written = estimator_report.publish(measured, args.out, COMMAND, seconds)
    except OSError as err:
        raise UserError(f"cannot write the estimators' results to {args.out}: "
                        f"{err.strerror or err}; free space or give --out a writable folder") \
            from None
    for f in found:
        print(f"{f.number} {f.claim} [{f.estimator}, {f.measured or '-'}, {f.target}]: "
              f"q = {f.shown()} -> {f.verdict}")
    print("cost:")
    for c in cost:
        print(f"  {c['what']}: {c['runs']} x, total {c['total']}"
              + (f", each {c['each (mean, max)']}" if c["each (mean, max)"] else ""))
    print("wrote " + ", ".join(map(str, written)))
    return 0
