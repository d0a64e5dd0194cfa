"""`transferability paper-metric`: the accuracy the paper's figures plot, from the authors' logs."""

from __future__ import annotations

import argparse
from pathlib import Path

from transferability.disk import write_csv
from transferability.results import metric


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "paper-metric", help="the paper's plotted accuracy (mean of the 10 best) per network",
        description="From every test line of the authors' published logs (network, log_file, "
                    "iteration, test_score_0, timestamp; gzip or plain), keep the most recent "
                    "value of each test iteration and write, per network, its tests, its last "
                    "test and the mean of its 10 highest top-1 values: the number the paper's "
                    "figures plot.")
    p.add_argument("authors", type=Path, metavar="AUTHORS_TEST_SCORES.csv.gz")
    p.add_argument("--out", type=Path, required=True, metavar="OUT.csv")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rows = metric.authors_table(metric.read_authors(args.authors))
    write_csv(args.out, rows, metric.REFERENCE_COLUMNS)
    print(f"{args.out}: {len(rows)} networks")
    return 0
