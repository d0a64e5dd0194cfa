"""What the ImageNet data sets take on disk, before they are built: records x bytes a record.

A raw record is a Datum of C x S x S bytes; LMDB stores a value that large on overflow pages of
its own (ceil((16 + value) / page) pages), plus its key and node in a leaf page. An encoded
record's size depends on the image: it is estimated from a sample of the list's images, encoded
as the build will encode them. The whole sets are decoded once; every half and reduction is a
copy of their records (reduced1300, the whole train set itself, is a hard link: no space).
Once the whole sets are built, the copies are sized by their measured bytes a record.
tests/test_training_imagenet.py checks these sizes against LMDBs built for real.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from transferability import plan
from transferability.caffe_io import encode_raw_datum
from transferability.data.lists import Entry, read_list
from transferability.data.lmdb_io import entry_count, stored_bytes
from transferability.disk import check_free, human
from transferability.plan import DATA_SETS, HALF_SETS, REDUCED_PER_CLASS, REDUCED_SETS, layout
from transferability.plan.datasets import IMAGENET, dataset
from transferability.plan.selections import net_of_name

MEAN_BYTES = 1 << 20  # a 3 x 256 x 256 float mean.binaryproto is 786 kB
SAMPLE = 48  # images encoded to estimate an encoded record


def raw_record_bytes(side: int = 256, channels: int = 3) -> float:
    """On-disk bytes of one raw side x side record (label 999, the largest of the paper's)."""
    datum = encode_raw_datum(bytes(channels * side * side), 999, channels, side, side)
    return stored_bytes(len(datum))


def encoded_record_bytes(root: str | Path, entries: Sequence[Entry], side: int | None) -> float:
    """On-disk bytes of one encoded record, the mean over SAMPLE images spread over the list."""
    from transferability.data.lmdb_build import image_datum  # OpenCV: only where it is needed

    step = max(1, len(entries) // SAMPLE)
    size = (side, side) if side else None
    sizes = [stored_bytes(len(value)) for path, label in entries[::step][:SAMPLE]
             if (value := image_datum(os.path.join(str(root), path), label, size, True))]
    return sum(sizes) / len(sizes) if sizes else raw_record_bytes(side or 256)


@dataclass(frozen=True)
class Counts:
    """Images of the whole sets, and of each class of the train set."""

    train: int
    valid: int
    per_class: tuple[int, ...]

    @classmethod
    def of_lists(cls, train: Sequence[Entry], valid: Sequence[Entry]) -> Counts:
        by_class = Counter(label for _, label in train)
        return cls(len(train), len(valid), tuple(by_class[c] for c in sorted(by_class)))

    def reduced(self, n: int) -> int:
        """Records of reducedN, 0 where it is the whole train set (a hard link)."""
        if n >= max(self.per_class):
            return 0
        return sum(min(n, count) for count in self.per_class)


def set_records(counts: Counts, data: Path | None = None) -> dict[str, int]:
    """Records each LMDB will hold, by `<set>_<part>`. A half's count is read from its list
    when make_splits.py wrote it, else taken as half of the whole set's."""
    records = {"whole_train": counts.train, "whole_valid": counts.valid}
    for name in HALF_SETS:
        for part, whole in (("train", counts.train), ("valid", counts.valid)):
            listed = layout.file_list(data, name, part) if data else None
            records[f"{name}_{part}"] = (_lines(listed) if listed and listed.is_file()
                                         else whole // 2)
    for name, n in zip(REDUCED_SETS, REDUCED_PER_CLASS, strict=True):
        records[f"{name}_train"] = counts.reduced(n)
    return records


def _lines(path: Path) -> int:
    with path.open("rb") as file:
        return sum(1 for line in file if line.strip())


def set_bytes(records: dict[str, int], record: float) -> dict[str, int]:
    """Bytes of each LMDB (and the mean beside a train set)."""
    return {name: round(count * record) + (MEAN_BYTES if name.endswith("_train") else 0)
            for name, count in records.items()}


# --- what one make call will build ---------------------------------------------------------------
def wanted_sets(goals: Iterable[str], data: Path) -> set[str] | None:
    """The data sets (names such as half0A) that make's goals need, or None for all of them:
    `data`, no goal or a goal not known here. A goal is a net's target (`imagenet/split0/A3B`:
    a transfer needs its base's sets too) or a stamp in `data` (`half0A.done`,
    `half0A_train/lmdb.done`)."""
    stamps = {layout.lmdb_stamp(data, name, part): name
              for name in DATA_SETS for part in ("train", "valid")}
    stamps |= {Path(data) / f"{name}.done": name for name in DATA_SETS}
    stamps = {path.absolute(): name for path, name in stamps.items()}
    wanted: set[str] = set()
    for goal in goals:
        if (named := net_of_name(goal)) and IMAGENET.name in (named[0],
                                                              dataset(named[0]).full_size):
            net = named[1]
            while net is not None:
                wanted |= {net.train_set, net.valid_set}
                net = plan.find(net.source_key) if net.source_key else None
        elif (stamp := Path(goal).absolute()) in stamps:
            wanted.add(stamps[stamp])
        else:
            return None
    return wanted or None


def remaining(data: Path, sizes: dict[str, int], wanted: set[str] | None) -> dict[str, int]:
    """The LMDBs not built yet (no lmdb.done stamp) of the wanted sets, and the whole sets every
    other set is copied from."""
    if wanted is not None:
        wanted = wanted | {"whole"}
    return {name: size for name, size in sizes.items()
            if (wanted is None or name.rsplit("_", 1)[0] in wanted)
            and not layout.lmdb_stamp(data, *name.rsplit("_", 1)).exists()}


def measured_record_bytes(db: Path) -> float:
    """On-disk bytes a record of a built LMDB."""
    return (Path(db) / "data.mdb").stat().st_size / max(1, entry_count(db))


def check_data_space(data: Path, record: float, goals: Sequence[str], margin: int = 0,
                     encoded: bool = False) -> int:
    """Stop with one line when the LMDBs this make call will build (records of `record` bytes)
    do not fit in `data`; returns the bytes needed."""
    train = read_list(layout.file_list(data, "whole", "train"))
    valid = read_list(layout.file_list(data, "whole", "valid"))
    sizes = set_bytes(set_records(Counts.of_lists(train, valid), data), record)
    todo = remaining(data, sizes, wanted_sets(goals, data))
    need = sum(todo.values())
    biggest = ", ".join(f"{name} {human(size)}" for name, size in
                        sorted(todo.items(), key=lambda item: -item[1])[:3])
    what = (f"make data ({len(todo)} LMDBs of {human(record)} a record"
            f"{f'; the largest {biggest}' if biggest else ''})")
    hint = ("choose another DATA" if encoded
            else "use ENCODED=1 (JPEG records), or choose another DATA")
    check_free(data, need, what, margin, hint)
    return need
