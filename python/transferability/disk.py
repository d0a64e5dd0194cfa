"""Files on disk: free space before a long job, and every file written whole or not at all.

`make data` and every training target check that what they are about to write fits, with an
optional margin to leave free (DISK_MARGIN), before they write anything; where a disk fills all
the same (another job wrote to it), `out_of_space` names the file system in the one line. Every
table, figure, report and run file the project writes goes through `replacing` (a temporary
sibling, renamed once complete), so a full disk or a failing row leaves the old file, or none,
never half of one.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import errno
import io
import os
import re
import shutil
import socket
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
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


# --- files written whole or not at all ---------------------------------------------------------
_TMP_OWNER = re.compile(r"^(?P<host>.+)-(?P<pid>\d+)-\d+$")


def temporary_sibling(path: Path) -> Path:
    """Where a file or folder is written before it is renamed to `path` (same file system).
    Such leftovers of dead processes of this machine (a SIGKILL mid-write; up to hundreds of GB
    for an ImageNet LMDB) are removed first, each with one line."""
    path = Path(path)
    host = socket.gethostname()
    _remove_dead_siblings(path, host)
    return path.with_name(f".{path.name}.tmp-{host}-{os.getpid()}-{threading.get_ident()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_dead_siblings(path: Path, host: str) -> None:
    prefix = f".{path.name}.tmp-"
    try:
        entries = [e for e in path.parent.iterdir() if e.name.startswith(prefix)]
    except FileNotFoundError:
        return
    for entry in entries:
        owner = _TMP_OWNER.match(entry.name[len(prefix):])
        # another machine's (a shared file system) or a live process's: not ours to remove
        if not owner or owner["host"] != host or _alive(int(owner["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        print(f"removed {entry}, left by a process ({owner['pid']}) that died while writing it",
              file=sys.stderr)


FILE_MODE = 0o644  # every file the project writes: readable by all, whatever the umask


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """`with replacing(path) as tmp:` write tmp; it becomes `path` (mode 0644) on success, else
    is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename is None:  # write(2)'s error names none
            error.filename = str(path)
        raise


def write_bytes(path: Path, data: bytes) -> Path:
    """Write a file whole or not at all."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def copy_file(source: Path, path: Path) -> Path:
    """Copy a file whole or not at all."""
    with replacing(path) as tmp:
        shutil.copyfile(source, tmp)
    return Path(path)


def csv_text(rows: Iterable[Mapping[str, object]], columns: Sequence[str],
             float_format: str = "") -> str:
    """A table as CSV: a header of `columns`, then a line a row. A column a row lacks, or holds
    None, is blank; a column not in `columns` is a ValueError; floats as `format(x, float_format)`
    ('': as Python writes them)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else format(v, float_format) if isinstance(v, float)
                         else v for k, v in row.items()})
    return out.getvalue()


def write_csv(path: Path, rows: Iterable[Mapping[str, object]], columns: Sequence[str],
              float_format: str = "") -> Path:
    """The table (csv_text) whole or not at all."""
    return write_text(path, csv_text(rows, columns, float_format))


def check_writable(folder: Path, what: str) -> None:
    """One line now, before a long job, when `folder` cannot be made or written in."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise UserError(f"{what} {folder} is not a writable folder ({err.strerror or err}): "
                        "give one you can write") from None


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
