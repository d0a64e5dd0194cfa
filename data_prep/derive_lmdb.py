#!/usr/bin/env python3
"""Write a dataset's LMDB by copying its records out of the whole set's LMDB (no decoding).

The result equals build_lmdb.py run on LIST: same keys, pixels, labels from LIST.
"""

from pathlib import Path

from transferability.data.derive import derive
from transferability.data.disk_plan import measured_record_bytes
from transferability.data.lists import read_list
from transferability.data.lmdb_build import read_report
from transferability.data.script import check_space, parser, run, space_arguments


def main() -> int:
    p = parser(__file__, __doc__)
    p.add_argument("source_list", type=Path, help="the list SOURCE_DB was built from")
    p.add_argument("source_db", type=Path, help="the whole set's LMDB")
    p.add_argument("list", type=Path, help="the dataset's list (a subset of SOURCE_LIST's images)")
    p.add_argument("db", type=Path, help="LMDB folder to create")
    p.add_argument("--mean", type=Path, metavar="OUT",
                   help="also write the mean image (as compute_mean.py DB OUT) in the same pass")
    p.add_argument("--skipped", type=Path, metavar="REPORT",
                   help="build_lmdb.py --report of SOURCE_DB: leave its images out (if it exists)")
    space_arguments(p)
    p.add_argument("--force", action="store_true", help="replace DB if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args()
    if args.space_plan:
        check_space(args, measured_record_bytes(args.source_db))
    entries = read_list(args.list)
    left_out = read_report(args.skipped) if args.skipped else set()
    kept = [entry for entry in entries if entry[0] not in left_out]
    derive(read_list(args.source_list), args.source_db, entries, args.db, force=args.force,
           progress=not args.quiet, mean=args.mean, left_out=left_out)
    gone = len(entries) - len(kept)
    print(f"{args.db}: {len(kept)} images"
          f"{f', {gone} left out as in {args.skipped}' if gone else ''}")
    return 0


if __name__ == "__main__":
    run(__file__, main)
