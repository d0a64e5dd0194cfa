"""`transferability svm`: a linear SVM on features from `transferability features`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from transferability.disk import write_text
from transferability.errors import UserError
from transferability.factors.feature_store import load
from transferability.factors.svm import C_GRID, FOLDS, Reduction, evaluate


def _grid(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError("C values must be positive")
    return values


def register(subparsers: argparse._SubParsersAction) -> None:

    p = subparsers.add_parser(
        "svm", help="linear SVM (one-vs-rest) on HDF5 features: top-1 accuracy",
        description="Optional PCA (fitted on the training features only) and L2 normalisation, "
                    "then scikit-learn's LinearSVC, one-vs-rest, with C chosen by stratified "
                    "cross-validation on the training features; prints the top-1 accuracy on "
                    "the test features.")
    p.add_argument("--train", required=True, type=Path, metavar="FEATS.h5")
    p.add_argument("--test", required=True, type=Path, metavar="FEATS.h5")
    p.add_argument("--pca", type=int, metavar="D", help="reduce to D dimensions first")
    p.add_argument("--l2", action="store_true", help="L2-normalise every feature vector")
    p.add_argument("--c-grid", type=_grid, default=C_GRID, metavar="C1,C2,...",
                   help=f"C values tried (default {','.join(f'{c:g}' for c in C_GRID)})")
    p.add_argument("--folds", type=int, default=FOLDS, help=f"CV folds (default {FOLDS})")
    p.add_argument("--json", type=Path, metavar="OUT.json", help="write the result as one JSON row")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    if args.pca is not None and args.pca < 1:
        raise UserError("--pca must be at least 1")
    if args.folds < 2:
        raise UserError("--folds must be at least 2")
    x_train, y_train, meta = load(args.train)
    x_test, y_test, _ = load(args.test)
    reduction = Reduction(args.pca or 0, args.l2)
    result = evaluate(x_train, y_train, x_test, y_test, reduction, args.c_grid, args.folds)
    row = {"train": str(args.train), "test": str(args.test), "layer": str(meta.get("layer", "")),
           "pca": args.pca or 0, "l2": args.l2, **result.row()}
    how = ", ".join([f"PCA {result.dims}"] * bool(args.pca) + ["L2"] * args.l2) or "no reduction"
    print(f"top-1 accuracy {result.top1_accuracy:.4f} ({how}; C={result.C:g} by "
          f"{args.folds}-fold CV, {result.cv_accuracy:.4f}; {result.n_train} train, "
          f"{result.n_test} test{'' if result.converged else '; SVM not converged'})")
    if args.json:
        write_text(args.json, json.dumps(row) + "\n")
    return 0
