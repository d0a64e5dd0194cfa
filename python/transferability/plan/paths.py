"""Paths as make can take them: one word with none of make's special characters.

Make splits a target, a prerequisite or a function's argument at every space, and gives ':', '%',
'#', '=', '$', '*', '?' and the rest meanings of their own, so a folder called `my runs` or
`50% off` cannot be a target's directory. Such a path given to the Makefile (DATA, RUNS, IMAGES,
...) is spelled for make as a link without them, in the checkout's .cache/paths/, pointing at
the real folder:

    python3 -m transferability.plan.paths LINKS VAR=value ...

prints `VAR=<link>` for each value that needs one (the Makefile overrides VAR with it), or one
line `error: ...` for one that cannot be linked (the Makefile has refused line breaks before). An
output folder that does not exist yet is made, as the command would make it, so that the link
leads somewhere. Standard library only, as the whole plan.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

SAFE = re.compile(r"[A-Za-z0-9._/+@^~-]*")
# make's folders for what a command writes: made before they are linked (REPORT is a file: its
# folder is linked); the others (IMAGES, HALVES, IMAGENET, ...) are linked as they are
OUTPUTS = ("DATA", "RUNS", "FIGURES", "RESULTS", "FACTORS_OUT", "ESTIMATORS_OUT", "SIMILARITY_OUT")
FILES = ("REPORT",)


def needs_link(value: str) -> bool:
    """Whether make would misread `value` as a word (letters beyond ASCII are bytes it keeps)."""
    return not SAFE.fullmatch(value.encode("ascii", "ignore").decode())


def link_name(name: str, target: str) -> str:
    """VAR-<the path's own safe letters, shortened>-<hash>: unique per path, readable in a
    listing."""
    letters = re.sub(r"[^A-Za-z0-9._-]+", "_", target.encode("ascii", "ignore").decode())
    digest = hashlib.sha256(f"{name}\0{target}".encode()).hexdigest()[:10]
    return f"{name}-{letters.strip('_')[-40:]}-{digest}"


def place_link(link: Path, target: str) -> None:
    """link -> target, made beside it and renamed over it: make -j's parallel reads of the same
    Makefile make the same link at once."""
    if os.path.islink(link) and os.readlink(link) == target:
        return
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link)


def spell(links: Path, name: str, value: str) -> str:
    """The make-safe spelling of VAR=value (a link in `links`), making an output folder first."""
    real = os.path.abspath(value)
    if name in FILES:
        folder, file = os.path.split(real)
        if needs_link(file):
            raise ValueError(f"{name}={value}: its file name '{file}' has characters make cannot "
                             f"take in a word (a space, '#', '%', ':', ...): choose a name of "
                             "letters, digits, '.', '_' and '-'")
        return f"{spell(links, name, folder)}/{file}" if needs_link(folder) else real
    if name in OUTPUTS:
        try:
            os.makedirs(real, exist_ok=True)
        except OSError as err:
            raise ValueError(f"{name}={value} cannot be made ({err.strerror}); make it writable "
                             f"or choose another {name}") from None
    elif not os.path.exists(real):
        raise ValueError(f"no file or folder at {name}={value}: check the path")
    link = links / link_name(name, real)
    place_link(link, real)
    return str(link)


def main(argv: list[str]) -> int:
    links, *pairs = argv
    given = [pair.split("=", 1) for pair in pairs]
    try:
        print(" ".join(f"{name}={spell(Path(links), name, value)}" for name, value in given
                       if needs_link(value)))
    except ValueError as err:
        print(f"error: {err}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
