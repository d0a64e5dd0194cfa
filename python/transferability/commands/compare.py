"""`transferability compare`: this project's accuracies beside the paper's published ones."""

from __future__ import annotations

import argparse

from transferability.commands import data_argument, real_path
from transferability.disk import write_csv
from transferability.results import compare, findings, paper, tables


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare", help="compare run results with the paper's published accuracies",
        description="Print each run's top-1 accuracy beside the paper's for the same network, "
                    "at the final test and as the paper's figures plot it (the mean of the 10 "
                    "best tests, or this schedule's analog), each less its own base; then, over "
                    "the replicates of the random splits with 95% intervals, per n the paper's "
                    "derived quantities (co-adaptation drop, specificity drop, fine-tuning "
                    "gain), its convergence controls and its findings with verdicts.")
    p.add_argument("runs_dir", type=real_path, metavar="RUNS_DIR")
    p.add_argument("--dataset", default="imagenet",
                   help="imagenet, fashion-mnist or your own images' (under --data)")
    data_argument(p)
    p.add_argument("--out", type=real_path, metavar="OUT.csv",
                   help="also write the network table here, and OUT_derived.csv, "
                        "OUT_findings.csv and OUT_controls.csv")
    p.add_argument("--all", action="store_true",
                   help="list every published network, run or not")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    runs, _ = tables.scan(args.runs_dir, args.dataset)
    acc, _ = tables.accuracies(runs, args.dataset, paper.PLOTTED)
    final, _ = tables.accuracies(runs, args.dataset, paper.FINAL)
    analysis = findings.analyse(acc, paper.PLOTTED)
    at_final = findings.analyse(final, paper.FINAL)
    nets = compare.net_rows(runs, args.all)
    print(compare.report(args.dataset, nets, analysis, at_final))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        written = [write_csv(args.out, nets, compare.NET_COLUMNS)]
        for name, rows, columns in (
                ("derived", compare.derived_rows(analysis), compare.DERIVED_COLUMNS),
                ("findings", compare.finding_rows(analysis, at_final), compare.FINDING_COLUMNS),
                ("controls", compare.control_rows(analysis, at_final), compare.CONTROL_COLUMNS)):
            written.append(write_csv(args.out.with_name(f"{args.out.stem}_{name}.csv"), rows,
                                     columns))
        print("\n" + ", ".join(map(str, written)))
    return 0
