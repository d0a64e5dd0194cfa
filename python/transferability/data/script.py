"""What every data_prep script shares: one-line errors `<script>: error: <what>`, exit status 2."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from transferability.caffe_env import CaffeMissing
from transferability.data.disk_plan import check_data_space
from transferability.disk import parse_size
from transferability.errors import UserError


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line too (and points at --help)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parser(script: str, description: str) -> Parser:
    return Parser(prog=Path(script).name, description=description)


def space_arguments(p: argparse.ArgumentParser) -> None:
    """--space-plan and --goals: check that this make call's LMDBs fit before writing any."""
    p.add_argument("--space-plan", type=Path, metavar="DIR",
                   help="DATA/imagenet: first check that every LMDB still to build there for "
                        "--goals fits (less DISK_MARGIN); one line and exit 2 if not")
    p.add_argument("--goals", default="data", help="make's goals, one argument (default: data)")


def check_space(args: argparse.Namespace, record: float) -> None:
    check_data_space(args.space_plan, record, args.goals.split(),
                     parse_size(os.environ.get("DISK_MARGIN")), getattr(args, "encoded", False))


def write_error(err: OSError) -> str:
    """The one line for a file that could not be written (files are written whole or not at all,
    so nothing half-written is left) or read."""
    from transferability.disk import FULL, out_of_space

    where = Path(err.filename or ".")
    if err.errno in FULL:
        return (f"out of space: {out_of_space(where.parent, f'{where} could not be written')}"
                "; nothing half-written is left: once space is freed, the same command builds it "
                "again")
    return (f"{where}: {err.strerror or err}; check that DATA can be written and the sources "
            "read, then run the same command again")


def run(prog: str, main: Callable[[], int | None]) -> None:
    """Call main; report UserError, a missing file or a missing Caffe as one line, exit 2; ^C
    exits 130."""
    name = Path(prog).name
    try:
        code = main()
    except (UserError, FileNotFoundError, CaffeMissing) as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        sys.exit(2)
    except OSError as err:  # a mean or list file on a full or read-only file system
        print(f"{name}: error: {write_error(err)}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
