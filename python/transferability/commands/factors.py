"""`transferability factors`: every layer of baseA as off-the-shelf features for half B, by SVM."""

from __future__ import annotations

import argparse

from transferability.commands import real_path
from transferability.disk import write_csv
from transferability.errors import UserError
from transferability.factors.study import COLUMNS, Settings, run_study
from transferability.nets.caffenet import LEARNABLE
from transferability.plan import DATASETS, SPLITS, group_of_split


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "factors", help="baseA's layers as features for half B (linear SVM) beside AnB",
        description="Azizpour et al.'s study with this project's nets: for every layer of baseA "
                    "(frozen), a linear SVM on that layer's activations for half B's images, "
                    "with and without PCA and L2; a table (CSV) and a figure (PNG, PDF) beside "
                    "Figure 2's frozen transfer AnB, read from the run folders. natman's baseA "
                    "on halfnatmanB is added when its run and data exist.")
    p.add_argument("runs", type=real_path, metavar="RUNS", help="run folders' root")
    p.add_argument("data", type=real_path, metavar="DATA", help="datasets' root")
    p.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    p.add_argument("--split", choices=SPLITS, default="0")
    p.add_argument("--out", type=real_path, required=True, metavar="DIR",
                   help="table, figure and (reused on a rerun) features go here")
    p.add_argument("--max-train", type=int, default=5000, metavar="N",
                   help="half B training images used, spread over the set (default 5000)")
    p.add_argument("--max-test", type=int, default=5000, metavar="N",
                   help="half B validation images used (default 5000)")
    p.add_argument("--pca", type=int, default=64, metavar="D", help="PCA dimensions (default 64)")
    p.add_argument("--variants", type=_csv, default=("raw", "pca+l2"),
                   help="reductions, some of raw,l2,pca,pca+l2 (default raw,pca+l2)")
    p.add_argument("--layers", type=_csv, default=None, help="default conv1,...,fc8")
    p.add_argument("--pool", type=int, choices=(0, 1, 2, 3), default=3, metavar="G",
                   help="max-pool convolutional maps to a G x G grid, as Azizpour et al. do "
                        "(default 3; 0: the whole map, slow for early layers)")
    p.add_argument("--gpu", type=int, metavar="ID", help="forward passes on this GPU")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from transferability.factors.report import FLOATS, figure, table  # matplotlib: late
    from transferability.results.figures import save

    for name in ("max_train", "max_test", "pca"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    settings = Settings(args.layers or LEARNABLE, args.variants, args.pca, args.pool or None,
                        args.max_train, args.max_test, args.gpu)
    rows, notes = run_study(args.runs, args.data, args.dataset, args.split, args.out, settings)
    stem = f"factors-{args.dataset}-{group_of_split(args.split)}"
    print(table(rows))
    for note in notes:
        print(f"note: {note}")
    written = [write_csv(args.out / f"{stem}.csv", rows, COLUMNS, FLOATS)]
    written += save(figure(rows, args.dataset), args.out, stem)
    print("wrote " + ", ".join(map(str, written)))
    return 0
