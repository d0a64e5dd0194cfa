"""The plan package spells the experiment's vocabulary once: file names, value lists, datasets."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from transferability import plan
from transferability.caffe_env import REPO_ROOT
from transferability.plan import datasets, layout, selections

LAYOUT_NAMES = {layout.FINAL, layout.RUN_JSON, layout.TRAIN_LOG, layout.TRAIN_VAL, layout.SOLVER,
                layout.INIT, layout.MEAN, layout.FILES, layout.IDXMAP, layout.LMDB_DONE,
                layout.TRAIN_LMDB, layout.VAL_LMDB}


def _strings(path: Path) -> list[tuple[int, str]]:
    """The string constants of a file that are not docstrings, with their lines."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)
                  and isinstance(node.value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def test_no_file_name_of_the_layout_is_spelled_outside_it() -> None:
    sources = [*(REPO_ROOT / "python" / "transferability").rglob("*.py"),
               *(REPO_ROOT / "data_prep").glob("*.py")]
    found = [f"{path.relative_to(REPO_ROOT)}:{line}: {value!r}" for path in sources
             if path != REPO_ROOT / "python/transferability/plan/layout.py"
             for line, value in _strings(path) if value in LAYOUT_NAMES]
    assert len(sources) > 50 and not found, found


def _plan_lists() -> dict[str, list[str]]:
    rules = subprocess.run([sys.executable, "-m", "transferability.plan.makerules"], check=True,
                           capture_output=True, text=True, cwd=REPO_ROOT / "python").stdout
    lists = {}
    for line in rules.splitlines():
        name, sep, words = line.partition(" := ")
        if sep and name.startswith("PLAN_") and name != "PLAN_LISTS":
            lists[name] = words.split()
    return lists


def test_the_makefiles_spell_no_value_list_that_plan_mk_provides() -> None:
    lists = _plan_lists()
    assert {"PLAN_DATASETS", "PLAN_SPLITS", "PLAN_HALVES", "PLAN_PLANS"} <= set(lists)
    texts = {name: (REPO_ROOT / name).read_text() for name in ("Makefile", "data_prep/data.mk")}
    found = [f"{file}: {name} as {joined!r}" for file, text in texts.items()
             for name, words in lists.items() if len(words) > 1
             for joined in (" ".join(words), "|".join(words), ", ".join(words)) if joined in text]
    assert not found, found


def test_help_shows_the_plans_lists_in_place_of_their_names() -> None:
    proc = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(REPO_ROOT), "help"],
                          capture_output=True, text=True, check=True)
    assert "PLAN=paper|figure2|demo" in proc.stdout and "SPLIT=0|1|2|3|natman" in proc.stdout
    assert "<PLAN_" not in proc.stdout


@pytest.mark.parametrize("record", datasets.DATASETS.values(), ids=lambda d: d.name)
def test_a_datasets_halves_hold_its_classes(record: datasets.Dataset) -> None:
    assert sum(record.natman) == record.classes == record.classes_in("whole")
    assert record.classes_in("half2A") + record.classes_in("half2B") == record.classes
    assert record.classes_in("halfnatmanA") == record.natman[0]
    assert record.crop <= record.image


def test_every_net_name_is_read_back_and_others_are_not() -> None:
    for dataset in plan.DATASETS:
        for net in plan.all_nets():
            assert selections.net_of_name(selections.net_name(dataset, net)) == (dataset, net)
    for other in ("data", "transfer", "cifar/split0/baseA", "imagenet/split0/C3B",
                  "runs/imagenet/split0/baseA/final.caffemodel"):
        assert selections.net_of_name(other) is None
