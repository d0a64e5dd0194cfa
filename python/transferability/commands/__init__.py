"""One module per `transferability` subcommand, each with `register(subparsers)`."""

from __future__ import annotations

import argparse
from pathlib import Path


def data_argument(p: argparse.ArgumentParser) -> None:
    """--data: the datasets' root, where a user's own images are described (DATASET=<name>)."""
    p.add_argument("--data", type=Path, default=Path("data"),
                   help="datasets' root, where your own images' dataset is described")
