"""`transferability factors-grid`: source width x depth against near, middle and far targets."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from transferability.errors import UserError
from transferability.plan import layout

COMMAND = "make factors-grid"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "factors-grid", help="Azizpour et al.'s factors: source width and depth, target distance",
        description="For every source of the factors grid (three widths x three depths on split "
                    "0's half A, and a second seed of CaffeNet's own) and every target (near: "
                    "half0B, middle: halfnatmanB, far: scikit-learn's digits), a linear SVM on "
                    "each layer, raw and PCA + L2; writes grid.csv, grid.png/.pdf and "
                    "findings.md with the verdicts. --from-csv redraws from a grid.csv.")
    p.add_argument("runs", type=Path, metavar="RUNS", help="run folders' root")
    p.add_argument("data", type=Path, metavar="DATA", help="datasets' root")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="results go here")
    p.add_argument("--work", type=Path, metavar="DIR",
                   help="features (reused on a rerun); default RUNS/factors-grid")
    p.add_argument("--max-train", type=int, default=3000, metavar="N",
                   help="target training images used, spread over the set (default 3000)")
    p.add_argument("--pca", type=int, default=64, metavar="D", help="PCA dimensions (default 64)")
    p.add_argument("--jobs", type=int, default=1, metavar="J",
                   help="source/target pairs evaluated at once (default 1)")
    p.add_argument("--from-csv", type=Path, metavar="CSV",
                   help="no evaluation: the figure and findings of an existing grid.csv")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # matplotlib, sklearn and pycaffe only once the arguments are known to be good
    from transferability.caffe_io import write_text
    from transferability.factors.grid import (
        COLUMNS,
        Settings,
        check_ready,
        read_rows,
        run_grid,
        settings_of,
    )
    from transferability.factors.grid_findings import best_table, grid_findings
    from transferability.factors.grid_report import figure, findings_markdown
    from transferability.factors.report import write_csv
    from transferability.results.figures import save
    from transferability.results.report import provenance

    for name in ("max_train", "pca", "jobs"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    settings = Settings(pca=args.pca, max_train=args.max_train)
    work = args.work or args.runs / layout.GRID_WORK
    _writable(args.out, "--out")  # before the long evaluation, not after it
    if args.from_csv:
        if not args.from_csv.is_file():
            raise UserError(f"no grid table at {args.from_csv}")
        rows = _read_table(args.from_csv, COLUMNS, read_rows)
        settings = settings_of(rows, settings)
    else:
        check_ready(args.runs, args.data)  # a mistyped RUNS is one line, and no folder made in it
        _writable(work, "--work")
        rows = run_grid(args.runs, args.data, work, settings, args.jobs)
    found = grid_findings(rows)
    md = args.out / "findings.md"
    try:
        written = [] if args.from_csv else [write_csv(rows, args.out / "grid.csv", COLUMNS)]
        written += save(figure(rows), args.out, "grid")
        write_text(md, findings_markdown(rows, found, settings, provenance(), COMMAND))
    except OSError as err:
        raise UserError(f"cannot write the grid's results to {args.out}: "
                        f"{err.strerror or err}; free space or give --out a writable folder") \
            from None
    for row in best_table(rows):
        print("  ".join(f"{k}: {v}" for k, v in row.items()))
    for f in found:
        print(f"{f.number} {f.claim} [{f.target}]: q = {f.shown()} -> {f.verdict}")
    print("wrote " + ", ".join(map(str, [*written, md])))
    return 0


def _writable(folder: Path, option: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise UserError(f"{option} {folder} is not a writable folder ({err.strerror or err}): "
                        "give one you can write") from None


def _read_table(path: Path, columns: tuple[str, ...], convert) -> list[dict]:
    """A grid.csv's rows, numbers converted; one line for a table that is not one."""
    from transferability.factors.grid import DISTANCES

    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path} is not a grid table: no column {', '.join(missing)}")
        try:
            rows = convert(list(reader))
        except ValueError as err:
            raise UserError(f"{path} holds a cell that is not a number ({err})") from None
    if not any(str(r["method"]).startswith("svm") for r in rows):
        raise UserError(f"{path} holds no SVM rows")
    unknown = sorted({r["target"] for r in rows} - set(DISTANCES))
    if unknown:
        raise UserError(f"{path}: unknown target {', '.join(unknown)} (expected "
                        f"{', '.join(DISTANCES)})")
    return rows
