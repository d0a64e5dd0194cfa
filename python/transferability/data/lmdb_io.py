"""Writing an LMDB whole or not at all: a temporary folder, renamed to its name when complete.

The writer maps the file writable (MDB_WRITEMAP: no copy of every page through malloc, a third
of the time for 256x256 images); LMDB then grows the file to the whole map size, so on closing
it is cut back to the pages in use (readers never look past the last page).

Through the map, a page that finds the disk full kills the process with SIGBUS: the pages a commit
may write are allocated first (disk.reserve), so that a full disk is one line (disk.out_of_space)
and the temporary folder is removed.

Every page written through the map stays in the process's resident set until it is unmapped, so
an ImageNet build would grow to hundreds of GB of RSS and trip a cluster's memory limit: the
writer closes and reopens its environment every REOPEN_BYTES, and readers that stream a whole
database do the same (`iter_values`).
"""

from __future__ import annotations

import mmap
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import lmdb

from transferability import disk
from transferability.disk import temporary_sibling
from transferability.errors import UserError

COMMIT_EVERY = 1000  # records, as convert_imageset; or COMMIT_BYTES, whichever comes first
COMMIT_BYTES = 32 << 20  # a transaction's pages stay resident until it commits
# written (or read) through one mapping before it is dropped; LMDB_REOPEN_BYTES is for the
# benchmark that measures the resident memory without it (bench/data.py)
REOPEN_BYTES = int(os.environ.get("LMDB_REOPEN_BYTES", 128 << 20))
LOCK_BYTES = 8 << 10  # lock.mdb, LMDB's table of its 126 readers, also written through a mapping
PAGE = 4096  # LMDB's page size on x86-64 Linux
OVERFLOW_HEADER = 16
LEAF_NODE = 8 + 8 + 2  # node header, overflow page number, the page's pointer to the node
LEAF_FILL = 0.5  # leaf pages split in the middle as keys arrive in order: about half full


def stored_bytes(value: int, key: int = 40) -> float:
    """LMDB bytes of one record: its overflow pages, and its share of a leaf page; a value small
    enough to share a leaf page with another (an image of a few dozen pixels) lies in it."""
    if LEAF_NODE + key + value <= (PAGE - OVERFLOW_HEADER) // 2:
        return (LEAF_NODE + key + value) / LEAF_FILL
    pages = -(-(OVERFLOW_HEADER + value) // PAGE)
    return pages * PAGE + (LEAF_NODE + key) / LEAF_FILL


class LmdbWriter:
    """`with LmdbWriter(path) as db: db.put(key, value)`; the folder appears only on success."""

    def __init__(self, path: str | Path, force: bool = False, map_size: int = 1 << 30,
                 records: int | None = None) -> None:
        self.path = Path(path)
        if self.path.exists() and not force:
            raise UserError(f"'{self.path}' exists (pass --force to replace it)")
        self.tmp = temporary_sibling(self.path)
        self.map_size = map_size
        self.records = records  # how many will come, for the size a full disk's line names
        self.record_bytes = 0  # the first record's key and value
        self.batch: list[tuple[bytes, bytes]] = []
        self.batch_bytes = 0
        self.batch_stored = 0.0  # the batch's bytes on pages, at most
        self.reserved = 0  # the end of data.mdb's allocated blocks, once asked for
        self.count = 0
        self.mapped = 0  # bytes written through the current mapping

    def __enter__(self) -> LmdbWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        try:
            self._open()
        except BaseException as error:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise self._full(error) or error from None
        return self

    def _open(self) -> None:
        self.tmp.mkdir(exist_ok=True)
        disk.reserve(self.tmp / "lock.mdb", 0, LOCK_BYTES)
        disk.reserve(self.tmp / "data.mdb", 0, 2 * mmap.PAGESIZE)  # the two meta pages
        self.env = lmdb.open(str(self.tmp), map_size=self.map_size, subdir=True, writemap=True)
        self.mapped = 0

    def put(self, key: bytes, value: bytes) -> None:
        self.batch.append((key, value))
        self.batch_bytes += len(key) + len(value)
        self.batch_stored += stored_bytes(len(value), len(key))
        self.record_bytes = self.record_bytes or len(key) + len(value)
        if len(self.batch) >= COMMIT_EVERY or self.batch_bytes >= COMMIT_BYTES:
            self._commit()

    def _reserve_batch(self) -> None:
        """Allocate what the batch's commit may write past the last page in use: its records on
        leaf pages at least half full, or on overflow pages of their own, and the branch and
        freelist pages it copies."""
        page = self.env.stat()["psize"]
        start = (self.env.info()["last_pgno"] + 1) * page
        length = min(int(self.batch_stored * 1.02) + 16 * page, self.map_size - start)
        if length > 0:
            self.reserved = max(self.reserved, start + length)
            disk.reserve(self.tmp / "data.mdb", start, length)

    def _full(self, error: BaseException) -> UserError | None:
        """The line for a write that found the disk full (the temporary folder removed first, so
        that the free space it names is the space there is), or None for any other error."""
        if not (isinstance(error, OSError) and error.errno in disk.FULL):
            return None
        need = self.reserved + LOCK_BYTES  # what it asked for when the disk was full
        if self.records and self.record_bytes:
            need = max(need, round(self.records * stored_bytes(self.record_bytes, 0)))
        need = f"{'about' if self.records else 'more than'} {disk.human(need)}"
        space = disk.out_of_space(self.path.parent, f"the LMDB {self.path} needs {need}")
        return UserError(f"out of space: {space}; nothing half-written is left: once space is "
                         "freed, the same command builds it again")

    def _commit(self) -> None:
        while True:
            try:
                self._reserve_batch()
                with self.env.begin(write=True) as txn:
                    for key, value in self.batch:
                        txn.put(key, value)
                break
            except lmdb.MapFullError:
                self.map_size *= 2
                self.env.set_mapsize(self.map_size)
        self.count += len(self.batch)
        self.mapped += self.batch_bytes
        self.batch, self.batch_bytes, self.batch_stored = [], 0, 0.0
        if self.mapped >= REOPEN_BYTES:  # drop the written pages from the resident set
            self.env.close()
            self._open()

    def __exit__(self, kind, error, traceback) -> None:
        used = None  # bytes in use once complete; None on any failure
        try:
            if kind is None:
                self._commit()
                used = (self.env.info()["last_pgno"] + 1) * self.env.stat()["psize"]
        except BaseException as failure:
            error = failure
            raise
        finally:
            self.env.close()
            if used is None:
                shutil.rmtree(self.tmp, ignore_errors=True)
                if full := self._full(error):
                    raise full from None
        if used is not None:
            os.truncate(self.tmp / "data.mdb", used)
            if self.path.exists():
                shutil.rmtree(self.path)
            self.tmp.rename(self.path)


def open_reader(path: str | Path, readahead: bool = True) -> lmdb.Environment:
    path = Path(path)
    if not (path / "data.mdb").is_file():
        raise UserError(f"no LMDB at '{path}' (expected a folder with data.mdb)")
    return lmdb.open(str(path), readonly=True, lock=False, subdir=True, readahead=readahead)


def iter_values(path: str | Path, readahead: bool = True) -> Iterator[bytes]:
    """Every value in key order (the order Caffe's data layer and compute_image_mean read),
    through a mapping renewed every REOPEN_BYTES."""
    after: bytes | None = None
    while True:
        env = open_reader(path, readahead)
        try:
            with env.begin(buffers=True) as txn:
                cursor = txn.cursor()
                found = cursor.set_range(after) if after is not None else cursor.first()
                if found and after is not None and bytes(cursor.key()) == after:
                    found = cursor.next()
                mapped = 0
                while found:
                    value = cursor.value()
                    mapped += len(value)
                    yield bytes(value)
                    if mapped >= REOPEN_BYTES:
                        after = bytes(cursor.key())
                        break
                    found = cursor.next()
                else:
                    return
        finally:
            env.close()


def entry_count(path: str | Path) -> int:
    env = open_reader(path)
    try:
        return env.stat()["entries"]
    finally:
        env.close()
