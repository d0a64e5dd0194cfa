#!/usr/bin/env python3
"""Write whole_train/files.txt and whole_valid/files.txt (Caffe's list format) for ILSVRC-2012.

A list whose content did not change is left untouched (its time too): make lists the folders again
whenever one changes, and rebuilds the LMDBs only from a list that did change.
"""

from pathlib import Path

from transferability.data.checksums import PUBLISHED_MD5
from transferability.data.imagenet import whole_lists
from transferability.data.lists import format_list, md5_of, write_list
from transferability.data.script import parser, run
from transferability.plan import layout


def main() -> int:
    p = parser(__file__, __doc__)
    p.add_argument("imagenet", type=Path, help="ILSVRC-2012 folder: train/<wnid>/*.JPEG, val/")
    p.add_argument("--out", type=Path, required=True, help="writes OUT/whole_{train,valid}/")
    p.add_argument("--train-list", type=Path, help="Caffe's train.txt instead of listing train/")
    p.add_argument("--val-list", type=Path, help="Caffe's val.txt (validation labels)")
    p.add_argument("--devkit", type=Path, help="ILSVRC2012_devkit_t12 (validation labels)")
    p.add_argument("--ilsvrc2012", action="store_true",
                   help="refuse any classes but ILSVRC-2012's 1000 (ImageNet downsampled)")
    args = p.parse_args()
    train, val = whole_lists(args.imagenet, args.train_list, args.val_list, args.devkit,
                             args.ilsvrc2012)
    for part, entries in (("train", train), ("valid", val)):
        path = layout.file_list(args.out, "whole", part)
        same = path.is_file() and path.read_text() == format_list(entries)
        if not same:
            write_list(path, entries)
        known = PUBLISHED_MD5[f"whole_{part}"] == md5_of(path)
        print(f"{path}: {len(entries)} images{', md5 as published' if known else ''}"
              f"{', unchanged' if same else ''}")
    return 0


if __name__ == "__main__":
    run(__file__, main)
