"""Caffe's image-list format: one `relative/path label` per line, as `convert_imageset` reads it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from transferability.disk import write_text
from transferability.errors import UserError

Entry = tuple[str, int]


def parse_line(line: str, where: str) -> Entry:
    """Split at the last space like convert_imageset (paths may hold spaces); label must be >= 0."""
    path, sep, label = line.rstrip("\r\n").rpartition(" ")
    if not sep or not path:
        raise UserError(f"{where}: expected 'path label', got {line.strip()!r}")
    try:
        value = int(label)
    except ValueError:
        raise UserError(f"{where}: label {label!r} is not an integer") from None
    if value < 0:
        raise UserError(f"{where}: label {value} is negative")
    return path, value


def read_list(path: str | Path) -> list[Entry]:
    """Read a list file; a bad line is reported with its number."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no image list at '{path}' (expected a file of 'path label' lines)")
    with path.open(encoding="utf-8") as lines:
        return [parse_line(line, f"'{path}' line {n}") for n, line in enumerate(lines, 1)
                if line.strip()]


def format_list(entries: Iterable[Entry]) -> str:
    return "".join(f"{path} {label}\n" for path, label in entries)


def write_list(path: str | Path, entries: Iterable[Entry]) -> Path:
    return write_text(path, format_list(entries))


def md5_of(path: str | Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def check_labels(entries: list[Entry], num_classes: int, name: str = "list",
                 hint: str = "") -> None:
    """Every label in 0..num_classes-1, else an error naming the first bad line."""
    for n, (_, label) in enumerate(entries, 1):
        if label >= num_classes:
            raise UserError(f"{name} line {n}: label {label} outside 0..{num_classes - 1}{hint}")
