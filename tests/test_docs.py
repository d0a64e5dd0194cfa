"""README.md and docs/*.md: every make command they show is a target `make help` lists, every
relative link resolves, and the README stays a front door."""

from __future__ import annotations

import re
import subprocess

import pytest

from transferability.caffe_env import REPO_ROOT
from transferability.plan import selections

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
_CODE = re.compile(r"```[^\n]*\n(.*?)```|`([^`\n]+)`", re.S)
_MAKE = re.compile(r"(?<![\w/$.-])make((?:[ \t]+[^\s#;&|)`]+)+)")
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def help_targets() -> set[str]:
    out = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT), "help"],
                         capture_output=True, text=True, check=True).stdout
    names: set[str] = set()
    for line in out.splitlines():
        column = re.match(r"  (.{16}) ", line)  # make help's `  %-16s %s`
        names |= set((column[1] if column else line).split()[:1 if not column else None])
    return names


def shown_goals(text: str) -> list[str]:
    """The goals of every `make ...` in the page's code: words that are neither options nor
    variables (a `\\` line end joins the next line)."""
    goals = []
    for block, span in _CODE.findall(text):
        code = (block or span).replace("\\\n", " ")
        for match in _MAKE.finditer(code):
            words = match[1].split()
            skip = False
            for word in words:
                if skip:
                    skip = False
                elif word in ("-C", "-f"):  # an option with its argument
                    skip = True
                elif not word.startswith("-") and "=" not in word and not word.startswith("["):
                    goals.append(word.strip(",.:"))
    return goals


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_make_command_shown_is_a_listed_target(page) -> None:
    """... or a network's own target, `<dataset>/<group>/<net>` (plan.mk)."""
    targets = help_targets()
    assert {"demo", "test", "help", "base-A", "transfer"} <= targets
    text = page.read_text()
    unknown = [goal for goal in shown_goals(text)
               if goal not in targets and selections.net_of_name(goal) is None]
    assert not unknown, f"{page.name}: make {unknown} is no target `make help` lists"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page) -> None:
    broken = []
    for link in _LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", link) or link.startswith("#"):
            continue
        path = link.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(link)
    assert not broken, f"{page.name}: {broken}"


def test_the_readme_opens_with_the_two_commands_and_stays_short() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    assert text.split("\n", 2)[2].startswith("```sh\nmake demo\nmake test\n```\n")
    assert len(text.encode()) <= 10 * 1024
    assert shown_goals("`make demo` and `make -C x base-A SPLIT=1 ITERS=2`") == ["demo", "base-A"]
