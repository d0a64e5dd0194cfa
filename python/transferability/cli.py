"""The `transferability` command: one entry point, one subcommand per module in `commands/`."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

# pycaffe reads this on import: keep its net-building log quiet (Caffe binaries get their own).
os.environ["GLOG_minloglevel"] = "2"

from transferability import __version__, commands  # noqa: E402
from transferability.caffe_env import CaffeMissing
from transferability.errors import UserError
from transferability.plan import own


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="transferability",
        description="Reproduce Yosinski et al. 2014 with BVLC Caffe.",
    )
    parser.add_argument("--version", action="version", version=f"transferability {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if getattr(args, "dataset", None) and getattr(args, "data", None) is not None:
            own.load(args.data, args.dataset)  # a user's own images: known from here on
        return int(args.func(args) or 0)
    except (UserError, CaffeMissing, FileNotFoundError) as err:
        print(f"transferability {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
