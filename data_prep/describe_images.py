#!/usr/bin/env python3
"""Describe a user's own images: check the folder, then write the paper's lists for it (whole,
half0A..half3B, halfnatmanA/B with a HALVES file, the reduced sets) and OUT/dataset.json.

Settings left empty are those of the description already in OUT, if any; a setting that differs
from it, or images that changed since, are refused (one line, exit 2, nothing written).
"""

import os
from pathlib import Path

from transferability.data.own_images import Settings, describe, write
from transferability.data.script import parser, run
from transferability.errors import UserError
from transferability.plan import own


def main() -> int:
    p = parser(__file__, __doc__)
    p.add_argument("images", nargs="?", default="",
                   help="IMAGES: one folder per class, or train/ and val/ holding them")
    p.add_argument("--out", type=Path, required=True, help="DATA/<name>: the lists and "
                   "dataset.json go there; <name> names the dataset")
    p.add_argument("--size", default="", help="side of the stored square images (default: "
                   "from the images, stated)")
    p.add_argument("--halves", default="", metavar="FILE",
                   help="the classes of half A of a dissimilar split, one a line")
    p.add_argument("--shuffle", default="", help="1 (default): shuffle the training order; 0: "
                   "keep the order of the file names")
    p.add_argument("--width", default="", help="times the scaled CaffeNet's widths (1)")
    p.add_argument("--epochs", default="", help="of a half's training set, in all (16)")
    p.add_argument("--skip-bad", action="store_const", const="1", default="",
                   help="leave unreadable or truncated images out instead of stopping")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="threads that read the image headers (default: the CPU count)")
    args = p.parse_args()
    data, name = args.out.parent, args.out.name
    given = {"IMAGES": args.images, "SIZE": args.size, "HALVES": args.halves,
             "SHUFFLE": args.shuffle, "WIDTH": args.width, "EPOCHS": args.epochs}
    if why := own.settings_error(data, name, given):
        raise UserError(why)
    before = own.read(data, name)
    if before is not None:  # read the folder again with the settings it was made with
        given = {k: v or before["given"].get(k, "") for k, v in given.items()}
        given["IMAGES"] = args.images or before["settings"]["IMAGES"]
    settings = Settings(given["IMAGES"], given["SIZE"], given["HALVES"], given["SHUFFLE"],
                        given["WIDTH"], given["EPOCHS"],
                        args.skip_bad or (before or {}).get("given", {}).get("SKIP_BAD_IMAGES", ""))
    described = describe(name, settings, args.workers)
    changed = write(args.out, name, described)
    for what, how in described.description["statements"]:
        print(f"{name}: {what}: {how}")
    print(f"{args.out}: {len(changed)} lists written, {len(described.lists) - len(changed)} "
          "unchanged")
    return 0


if __name__ == "__main__":
    run(__file__, main)
