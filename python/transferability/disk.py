"""Free space before a long job: sizes as people write them, and the one-line refusal.

`make data` and every training target check that what they are about to write fits, with an
optional margin to leave free (DISK_MARGIN), before they write anything; where a disk fills all
the same (another job wrote to it), `out_of_space` names the file system in the one line.
"""

from __future__ import annotations

import ctypes
import errno
import os
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


FULL = (errno.ENOSPC, errno.EDQUOT)  # the errors of a write that found no space


def file_system(path: Path) -> str:
    """The file system that holds `path` (or its nearest existing parent), as its mount point
    and type: `/mnt/runs (tmpfs)`."""
    where = free_bytes(path)[1].resolve()
    device = where.stat().st_dev
    while where.parent != where and where.parent.stat().st_dev == device:
        where = where.parent
    kind = ""
    try:
        for line in Path("/proc/self/mounts").read_text().splitlines():
            fields = line.split()
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[1])
            if point == str(where):
                kind = fields[2]  # the last mount there is the one seen
    except (OSError, IndexError):
        pass
    return f"{where} ({kind})" if kind else str(where)


def out_of_space(path: Path, needs: str) -> str:
    """`/mnt/runs (tmpfs) has 12 kB free, and <needs>` (`a snapshot needs 484 kB`): for the line
    that says a write at `path` found its file system full."""
    free, where = free_bytes(path)
    return f"{file_system(where)} has {human(free)} free, and {needs}"


_FALLOC_FL_KEEP_SIZE = 1  # linux/falloc.h


def reserve(path: Path, offset: int, length: int) -> None:
    """Allocate the blocks of `path` (created when missing) from `offset` on, its size unchanged:
    a file written through a shared mapping (LMDB's MDB_WRITEMAP) then cannot meet a full disk
    there, which would kill the process with SIGBUS instead of failing a write. OSError ENOSPC
    when the blocks are not there; nothing where the file system cannot allocate ahead."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if libc.fallocate(fd, _FALLOC_FL_KEEP_SIZE, offset, length) != 0:
            code = ctypes.get_errno()
            if code not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise OSError(code, os.strerror(code), str(path))
    finally:
        os.close(fd)
