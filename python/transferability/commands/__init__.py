"""One module per `transferability` subcommand, each with `register(subparsers)`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def real_path(text: str) -> Path:
    """A path argument as its real path: make spells a folder with a space or one of its special
    characters as a link to it (plan/paths.py), and caffe runs inside the run folders, so what is
    run, written and said names the folder itself."""
    return Path(os.path.realpath(text))


def data_argument(p: argparse.ArgumentParser) -> None:
    """--data: the datasets' root, where a user's own images are described (DATASET=<name>)."""
    p.add_argument("--data", type=real_path, default=Path("data"),
                   help="datasets' root, where your own images' dataset is described")
