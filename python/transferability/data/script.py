"""What every data_prep script shares: one-line errors `<script>: error: <what>`, exit status 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from transferability.caffe_env import CaffeMissing
from transferability.errors import UserError


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line too (and points at --help)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parser(script: str, description: str) -> Parser:
    return Parser(prog=Path(script).name, description=description)


def run(prog: str, main: Callable[[], int | None]) -> None:
    """Call main; report UserError, a missing file or a missing Caffe as one line, exit 2; ^C
    exits 130."""
    name = Path(prog).name
    try:
        code = main()
    except (UserError, FileNotFoundError, CaffeMissing) as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
