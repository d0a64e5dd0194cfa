#!/usr/bin/env python3
"""Convert a set of images to an LMDB of Datum, as Caffe's convert_imageset ROOT LIST DB does.

Keys %08d_<path> in list order; raw BGR (--gray: grey) uint8 CHW, resized with OpenCV
(INTER_LINEAR) to RESIZE x RESIZE (--short-side: the shorter side to RESIZE with INTER_AREA,
the centre square kept, as ImageNet downsampled); decoded on WORKERS threads. Nothing is left
at DB unless it completes.
"""

import os
import sys
from pathlib import Path

from transferability.data.disk_plan import encoded_record_bytes, raw_record_bytes
from transferability.data.lists import check_labels, read_list
from transferability.data.lmdb_build import build, write_report
from transferability.data.script import check_space, parser, run, space_arguments
from transferability.errors import UserError


def main() -> int:
    p = parser(__file__, __doc__)
    p.add_argument("root", help="folder the list's paths are relative to")
    p.add_argument("list", type=Path, help="image list: 'relative/path label' per line")
    p.add_argument("db", type=Path, help="LMDB folder to create")
    p.add_argument("--resize", type=int, default=256, help="square side; 0 keeps sizes (256)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="decoding threads (default: the CPU count)")
    p.add_argument("--short-side", action="store_true",
                   help="resize the shorter side to RESIZE (INTER_AREA) and keep the centre square")
    p.add_argument("--encoded", action="store_true", help="store encoded images, as --encoded")
    p.add_argument("--gray", action="store_true", help="store one grey channel, as --gray")
    p.add_argument("--skip-bad", action="store_true",
                   help="skip unreadable or truncated images (listed on stderr) instead of failing")
    p.add_argument("--report", type=Path, metavar="FILE",
                   help="with --skip-bad: write the skipped images there, 'path<TAB>why' a line "
                        "(derive_lmdb.py --skipped reads it); removed when none was skipped")
    p.add_argument("--num-classes", type=int, default=1000,
                   help="labels must lie in 0..N-1 (1000: the paper's fc8)")
    p.add_argument("--mean", type=Path, metavar="OUT",
                   help="also write the mean image (as compute_mean.py DB OUT) in the same pass")
    space_arguments(p)
    p.add_argument("--force", action="store_true", help="replace DB if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args()
    if not os.path.isdir(args.root):
        raise UserError(f"no image folder at '{args.root}'")
    entries = read_list(args.list)
    check_labels(entries, args.num_classes, f"'{args.list}'",
                 hint=f" (--num-classes {args.num_classes})")
    size = (args.resize, args.resize) if args.resize > 0 else None
    if args.space_plan:
        record = (encoded_record_bytes(args.root, entries, args.resize) if args.encoded
                  else raw_record_bytes(args.resize or 256))
        check_space(args, record)
    skipped = build(args.root, entries, args.db, size=size, workers=args.workers,
                    encoded=args.encoded, skip_bad=args.skip_bad, force=args.force,
                    progress=not args.quiet, mean=args.mean, gray=args.gray,
                    short_side=args.short_side)
    for line, why in skipped:
        print(f"skipped image '{entries[line - 1][0]}' (list line {line}): {why}",
              file=sys.stderr)
    if args.report:
        write_report(args.report, [(entries[line - 1][0], why) for line, why in skipped])
    where = f", listed in {args.report}" if args.report and skipped else ""
    print(f"{args.db}: {len(entries) - len(skipped)} images"
          f"{f', {len(skipped)} skipped{where}' if skipped else ''}")
    return 0


if __name__ == "__main__":
    run(__file__, main)
