"""Every document a comment cites is in the repository (test_imports.py checks the import
graph)."""

from __future__ import annotations

import re

from transferability.caffe_env import REPO_ROOT

PACKAGE = REPO_ROOT / "python" / "transferability"


def test_every_cited_document_is_in_the_repository() -> None:
    cited = set()
    for path in [*PACKAGE.rglob("*.py"), *(REPO_ROOT / "tests").glob("*.py"),
                 *(REPO_ROOT / "caffe_build").glob("*"), *(REPO_ROOT / "data_prep").glob("*"),
                 REPO_ROOT / "Makefile"]:
        if path.is_file():
            cited |= set(re.findall(r"[\w./-]*[A-Z_]+\.md\b", path.read_text(errors="replace")))
    assert cited, "no citation found at all"
    missing = [doc for doc in cited if not any((REPO_ROOT / d).is_file()
                                                for d in (doc, f"docs/{doc}"))]
    assert not missing, missing
