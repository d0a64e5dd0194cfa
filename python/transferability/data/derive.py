"""A dataset's LMDB copied out of the whole set's LMDB: no image is decoded twice.

The result equals `build` run on the dataset's own list: for line i of the list, the record of
its image in the source LMDB, under key `%08d_<path>` with i, its label replaced by the list's.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Collection, Sequence
from pathlib import Path

from transferability.caffe_io import relabel_datum, write_mean
from transferability.data.lists import Entry
from transferability.data.lmdb_io import REOPEN_BYTES, LmdbWriter, open_reader
from transferability.data.mean import MeanAccumulator, compute_mean
from transferability.data.progress import bar
from transferability.disk import temporary_sibling
from transferability.errors import UserError


def derive(source_entries: Sequence[Entry], source_db: str | Path, entries: Sequence[Entry],
           db: str | Path, *, force: bool = False, progress: bool = True,
           mean: str | Path | None = None, left_out: Collection[str] = ()) -> None:
    """Write `db` for `entries` from `source_db`, which was built from `source_entries`, and
    its mean image to `mean` when given. Images in `left_out` (skipped when the source was built)
    are left out; the other keys keep their list line, as build's do."""
    if list(entries) == list(source_entries):
        _link(source_db, db, force)
        if mean:
            write_mean(mean, compute_mean(db, progress))
        return
    accumulator = MeanAccumulator(f"'{db}'") if mean else None
    index = {path: i for i, (path, _) in enumerate(source_entries)}
    with LmdbWriter(db, force=force, records=len(entries)) as writer:
        source = _Source(source_db)
        try:
            for n, (path, label) in enumerate(bar(entries, progress, Path(db).name), 1):
                if path in left_out:
                    continue
                if path not in index:
                    raise UserError(f"list line {n}: '{path}' is not in the source list")
                value = source.get(f"{index[path]:08d}_{path}".encode())
                if value is None:
                    raise UserError(f"list line {n}: '{path}' is not in '{source_db}' "
                                    "(built with --skip-bad?)")
                record = relabel_datum(value, label)
                writer.put(f"{n - 1:08d}_{path}".encode(), record)
                if accumulator:
                    accumulator.add(record)
        finally:
            source.close()
    if accumulator:
        write_mean(mean, accumulator.mean())


class _Source:
    """Records read by key, through a mapping renewed every REOPEN_BYTES (see lmdb_io)."""

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self.env = open_reader(path)
        self.mapped = 0

    def get(self, key: bytes) -> bytes | None:
        if self.mapped >= REOPEN_BYTES:
            self.env.close()
            self.env = open_reader(self.path)
            self.mapped = 0
        with self.env.begin() as txn:
            value = txn.get(key)
        self.mapped += len(value) if value else 0
        return value

    def close(self) -> None:
        self.env.close()


def _link(source_db: str | Path, db: str | Path, force: bool) -> None:
    # Same list, same database (reduced1300 is the whole train set): a hard link, not a copy.
    db = Path(db)
    if db.exists() and not force:
        raise UserError(f"'{db}' exists (pass --force to replace it)")
    tmp = temporary_sibling(db)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        os.link(Path(source_db) / "data.mdb", tmp / "data.mdb")
    except OSError:
        shutil.copyfile(Path(source_db) / "data.mdb", tmp / "data.mdb")
    if db.exists():
        shutil.rmtree(db)
    tmp.rename(db)
