#!/usr/bin/env python3
"""Write the paper's ImageNet datasets as lists: 10 halves (train, valid, idxmap) and 12 reductions.

Each list's md5 is compared with the published one; a difference is reported, not an error
(a different copy of ILSVRC-2012 may name its train files differently).
"""

from pathlib import Path

from transferability.data.checksums import PUBLISHED_MD5
from transferability.data.imagenet import checksum_report, write_splits
from transferability.data.script import parser, run
from transferability.data.wordnet import DEFAULT_ROOT


def main() -> int:
    p = parser(__file__, __doc__)
    p.add_argument("--train", type=Path, required=True, help="whole train list (files.txt)")
    p.add_argument("--val", type=Path, required=True, help="whole validation list (files.txt)")
    p.add_argument("--out", type=Path, required=True, help="writes OUT/<dataset>_<part>/")
    p.add_argument("--wordnet", type=Path, default=DEFAULT_ROOT,
                   help=f"WordNet 3.0 dict folder (default {DEFAULT_ROOT}, Debian's wordnet-base)")
    args = p.parse_args()
    lists, n_classes = write_splits(args.train, args.val, args.out, args.wordnet)
    # Only ILSVRC-2012's 1000 classes have published lists to compare with.
    report = checksum_report(lists, PUBLISHED_MD5 if n_classes == 1000 else {})
    for name, md5, same in report:
        verdict = {True: "as published", False: "DIFFERS from the published md5", None: ""}[same]
        print(f"  {name:20s} {md5}  {verdict}")
    matched = sum(same is True for _, _, same in report)
    known = sum(same is not None for _, _, same in report)
    print(f"{len(report)} lists of {n_classes} classes in {args.out}"
          + (f"; {matched} of {known} match the published md5" if known else ""))
    return 0


if __name__ == "__main__":
    run(__file__, main)
