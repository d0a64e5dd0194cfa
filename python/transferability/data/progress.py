"""A tqdm progress bar on stderr, shown only on a terminal and only when asked for."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def bar(items: Iterable[T], enabled: bool, desc: str, total: int | None = None,
        unit: str = "img") -> Iterator[T]:
    # disable=None: tqdm disables itself when stderr is not a terminal (make logs, CI).
    return iter(tqdm(items, total=total, unit=unit, desc=desc, leave=False,
                     disable=None if enabled else True))
