"""`transferability figures`: Figures 2 and 3 and the reduced-data curve, PNG and PDF."""

from __future__ import annotations

import argparse

from transferability import plan
from transferability.commands import data_argument, real_path
from transferability.errors import UserError

CHOICES = ("2", "3", "reduced", "all")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "figures", help="draw the paper's figures from run folders or from its published numbers",
        description="Write <source>_figure2[_splitS], <source>_figure3 and <source>_reduced as "
                    ".png and .pdf into DIR, where <source> is each dataset with runs (or "
                    "'paper' with --paper). Series without data are marked 'no data', not drawn.")
    p.add_argument("runs_dir", type=real_path, nargs="?", metavar="RUNS_DIR")
    p.add_argument("--out", type=real_path, required=True, metavar="DIR")
    p.add_argument("--paper", action="store_true",
                   help="draw the paper's published accuracies instead of runs")
    p.add_argument("--dataset", help="only this dataset's runs (your own images': under --data)")
    data_argument(p)
    p.add_argument("--split", choices=plan.SPLITS,
                   help="Figure 2 for this split alone (default: random splits 0-3 pooled)")
    p.add_argument("--figure", choices=CHOICES, default="all", help="which figure (default all)")
    p.add_argument("--halves", choices=("both", "B"),
                   help="Figure 2: pool halves A and B as the paper does (both), or only nets "
                        "trained on half B (B); default: both for imagenet and --paper, else B")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from transferability.results import figures  # matplotlib loads late


    if args.paper == (args.runs_dir is not None):
        raise UserError("give either RUNS_DIR or --paper")
    if args.paper:
        sources = [figures.paper_source(args.halves)]
    else:
        sources = figures.run_sources(args.runs_dir, args.dataset, args.halves)
    which = figures.FIGURES if args.figure == "all" else (args.figure,)
    for src in sources:
        for path in figures.write_figures(src, args.out, which, args.split):
            print(path)
    return 0
