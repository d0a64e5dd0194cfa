"""Free space before a long job: sizes as people write them, and the one-line refusal.

`make data` and every training target check that what they are about to write fits, with an
optional margin to leave free (DISK_MARGIN), before they write anything.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from transferability.errors import UserError

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP]?)i?B?\s*$", re.I)


def parse_size(text: str | int | None) -> int:
    """`50G`, `1.5T`, `200M`, `0` or a byte count (binary units); '' or None is 0."""
    if text is None or str(text).strip() == "":
        return 0
    match = _SIZE.match(str(text))
    if not match:
        raise UserError(f"DISK_MARGIN must be a size such as 50G or 0, not '{text}'")
    return int(float(match[1]) * _UNITS[match[2].upper()])


def human(size: float) -> str:
    """1.4 GB, 257 GB, 2.1 TB: decimal units, as `df -H` and disk makers count."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            value = size / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{size:.0f} B"


def free_bytes(path: Path) -> tuple[int, Path]:
    """Free bytes (for an unprivileged user) on the file system of `path` or of its nearest
    existing parent, and that parent."""
    where = Path(path).absolute()
    while not where.exists():
        where = where.parent
    return shutil.disk_usage(where).free, where


def check_free(path: Path, need: int, what: str, margin: int = 0, hint: str = "") -> None:
    """Stop with one line when `need` bytes (plus `margin` to leave free) do not fit at `path`."""
    free, where = free_bytes(path)
    if need + margin <= free:
        return
    keep = f" and DISK_MARGIN={human(margin)} left free" if margin else ""
    raise UserError(f"{what} needs about {human(need)}{keep} in {where}, which has "
                    f"{human(free)} free; free space or {hint or 'choose another folder'}")
