"""`transferability compare`: this project's accuracies beside the paper's published ones."""

from __future__ import annotations

import argparse
from pathlib import Path

from transferability.commands import data_argument
from transferability.disk import write_csv
from transferability.results import compare, tables


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare", help="compare run results with the paper's published accuracies",
        description="Print each run's top-1 accuracy beside the paper's for the same network, "
                    "with the difference, then per n the paper's derived quantities: "
                    "co-adaptation drop (baseB - BnB), specificity drop (BnB - AnB) and "
                    "fine-tuning gain (AnB+ - baseB), ours and the paper's.")
    p.add_argument("runs_dir", type=Path, metavar="RUNS_DIR")
    p.add_argument("--dataset", default="imagenet",
                   help="imagenet, fashion-mnist or your own images' (under --data)")
    data_argument(p)
    p.add_argument("--out", type=Path, metavar="OUT.csv",
                   help="also write the network table here and the derived one to "
                        "OUT_derived.csv")
    p.add_argument("--all", action="store_true",
                   help="list every published network, run or not")
    p.add_argument("--halves", choices=("both", "B"),
                   help="how our BnB/AnB means count halves (default: both for imagenet, else B)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from transferability.results.figures import pooling  # matplotlib loads late

    runs, _ = tables.scan(args.runs_dir, args.dataset)
    pool = pooling(args.dataset, args.halves)
    acc, _ = tables.accuracies(runs, args.dataset)
    nets = compare.net_rows(runs, args.all)
    spread, found, controls = compare.judged(acc)
    derived = compare.derived_rows(acc, pool, spread)
    print(compare.report(args.dataset, nets, derived, pool, found, spread, controls))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        derived_path = args.out.with_name(f"{args.out.stem}_derived.csv")
        findings_path = args.out.with_name(f"{args.out.stem}_findings.csv")
        write_csv(args.out, nets, compare.NET_COLUMNS)
        write_csv(derived_path, derived, compare.DERIVED_COLUMNS)
        write_csv(findings_path, found, compare.FINDING_COLUMNS)
        print(f"\n{args.out}, {derived_path}, {findings_path}")
    return 0
