"""`transferability parse-log`: a Caffe training log as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from transferability.errors import UserError
from transferability.training.logparse import parse_log


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "parse-log", help="print a Caffe training log's tests and training losses as JSON",
        description="Read a `caffe train` log (Caffe 2014 or 1.0 format, plain or gzip, complete "
                    "or cut off) and print {final_iteration, final_accuracy, tests: [[iteration, "
                    "accuracy, loss], ...], train: [[iteration, loss, lr], ...]}; values a log "
                    "lacks (or NaN) are null.")
    p.add_argument("log", type=Path, metavar="LOG",
                   help="the log file, or a run folder holding train.log")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    log = parse_log(args.log)
    if not log.tests and not log.train:
        raise UserError(f"{args.log} holds no Caffe training-log lines (no 'Iteration N' test or "
                        "loss line): give the output of `caffe train`")
    print(json.dumps(log.to_json()))
    return 0
