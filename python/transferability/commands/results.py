"""`transferability results`: one CSV row per run folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from transferability.commands import data_argument, real_path
from transferability.disk import csv_text, write_csv
from transferability.results.tables import COLUMNS, scan


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "results", help="tabulate every run folder as CSV",
        description="One row per run folder RUNS_DIR/<dataset>/<group>/<net>/: dataset, group, "
                    "net, paper name, source and target half, n, layers (frozen, fine-tuned or "
                    "scratch), iterations reached, top-1 accuracy at the last test, finished "
                    "(final.caffemodel present).")
    p.add_argument("runs_dir", type=real_path, metavar="RUNS_DIR")
    p.add_argument("--csv", type=Path, metavar="OUT.csv", help="write here (default: stdout)")
    p.add_argument("--dataset", help="only this dataset's runs (your own images': under --data)")
    data_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    runs, unknown = scan(args.runs_dir, args.dataset)
    for path in unknown:
        print(f"transferability results: skipped {path}: not a network of the plan",
              file=sys.stderr)
    rows = [run.row() for run in runs]
    if args.csv is None:
        sys.stdout.write(csv_text(rows, COLUMNS))
        return 0
    write_csv(args.csv, rows, COLUMNS)
    finished = sum(run.finished for run in runs)
    print(f"{args.csv}: {len(runs)} runs ({finished} finished)")
    return 0
