"""A small reader of WordNet 3.0's noun database (Debian's `wordnet-base`, /usr/share/wordnet).

ImageNet's WNIDs are WordNet 3.0 noun synset offsets: `n01440764` is the synset at byte offset
01440764 of `data.noun`. Only the hypernym pointers (`@`, and `@i` for instances) are read.
"""

from __future__ import annotations

from pathlib import Path

from transferability.errors import UserError

DEFAULT_ROOT = Path("/usr/share/wordnet")
HYPERNYM_POINTERS = ("@", "@i")


class WordNet:
    """Noun synsets by offset, with their hypernyms; names like `organism.n.01` via index.noun."""

    def __init__(self, root: str | Path = DEFAULT_ROOT) -> None:
        self.root = Path(root)
        for name in ("data.noun", "index.noun"):
            if not (self.root / name).is_file():
                raise UserError(
                    f"no WordNet at '{self.root}' ({name} missing; install Debian's wordnet-base)"
                )
        self._hypernyms = _read_hypernyms(self.root / "data.noun")

    def synset(self, name: str) -> str:
        """The offset of `lemma.n.NN` (NN counts the lemma's senses from 1, as in NLTK)."""
        lemma, pos, sense = name.rsplit(".", 2)
        if pos != "n":
            raise ValueError(f"{name}: only noun synsets are read")
        offsets = _index_offsets(self.root / "index.noun", lemma.lower())
        if not 1 <= int(sense) <= len(offsets):
            raise UserError(f"WordNet at '{self.root}' has no synset {name}")
        return offsets[int(sense) - 1]

    def has(self, offset: str) -> bool:
        return offset in self._hypernyms

    def ancestors(self, offset: str) -> set[str]:
        """Every synset reachable by hypernym pointers, the synset itself included."""
        seen, todo = {offset}, [offset]
        while todo:
            for parent in self._hypernyms.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen


def wnid_offset(wnid: str) -> str:
    if len(wnid) != 9 or wnid[0] != "n" or not wnid[1:].isdigit():
        raise UserError(f"'{wnid}' is not a WordNet noun id like n01440764")
    return wnid[1:]


def _read_hypernyms(path: Path) -> dict[str, tuple[str, ...]]:
    # data.noun: offset lex_filenum ss_type w_cnt(hex) [word lex_id]... p_cnt [ptr off pos src]...
    hypernyms: dict[str, tuple[str, ...]] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith(" "):
                continue  # the licence header
            fields = line.split(" ")
            at = 4 + 2 * int(fields[3], 16)
            pointers = fields[at + 1:at + 1 + 4 * int(fields[at])]
            hypernyms[fields[0]] = tuple(
                pointers[i + 1] for i in range(0, len(pointers), 4)
                if pointers[i] in HYPERNYM_POINTERS and pointers[i + 2] == "n"
            )
    return hypernyms


def _index_offsets(path: Path, lemma: str) -> list[str]:
    # index.noun line: lemma pos synset_cnt p_cnt [ptr_symbol]... sense_cnt tagsense_cnt offsets...
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith(f"{lemma} n "):
                fields = line.split()
                return fields[-int(fields[2]):]
    return []
