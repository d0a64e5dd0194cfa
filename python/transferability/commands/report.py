"""`transferability report`: one self-contained HTML page of a dataset's runs."""

from __future__ import annotations

import argparse

from transferability.commands import data_argument, real_path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report", help="write one HTML page with the figures, tables, noise and findings",
        description="From the run folders under RUNS_DIR: the settings, the figures (embedded), "
                    "every net beside the paper's published accuracy, the derived quantities "
                    "with the seed-to-seed noise, and the paper's findings with verdicts.")
    p.add_argument("runs_dir", type=real_path, metavar="RUNS_DIR")
    p.add_argument("--dataset", default="fashion-mnist",
                   help="imagenet, fashion-mnist or your own images' (under --data)")
    data_argument(p)
    p.add_argument("--out", type=real_path, required=True, metavar="OUT.html|DIR",
                   help="the page; with --publish, the folder for a study's committed results")
    p.add_argument("--publish", action="store_true",
                   help="write OUT/: networks.csv, compare.csv, derived.csv, findings.csv, "
                        "findings.md, figure2*.png, figure3.png, reduced.png and report.html")
    p.add_argument("--similarity", type=real_path, metavar="DIR",
                   help="`make similarity`'s results: the page shows their claims and figure "
                        "where DIR has this dataset's")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from transferability.results import report  # matplotlib loads late

    study = report.study(args.runs_dir, args.dataset)
    if args.publish:
        for path in report.publish(study, args.out, args.similarity):
            print(path)
    else:
        print(report.write(study, args.out, args.similarity))
    return 0
