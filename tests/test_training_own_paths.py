"""A user's real folders through every command: class folders named as real collections name
them (spaces, quotes, '$', '#', '%', ':', '=', '*', a leading '-', letters beyond ASCII, names
that differ only in case), IMAGES, DATA, RUNS, FIGURES and RESULTS under such names, from a
checkout whose own folder has them too; and every path make cannot carry refused in one line."""

from __future__ import annotations

import html
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.own_images import make, own_lines
from transferability.caffe_env import REPO_ROOT
from transferability.plan import own, paths
from transferability.results.figures import halves_line

ODD = "$x #1 %:=*'\"é"  # every character make treats as its own, and one beyond ASCII
CLASSES = ("cat", "dog", "red car", "café", "tree", "boat", "it's \"quoted\"", "$HOME #1",
           "100% a:b=c*", "-leading", "Cat")
PER_CLASS = 8
ITERS = 20


def write_real_folders(root: Path) -> Path:
    """One folder a class of CLASSES, PER_CLASS images each (a class-specific bright row on
    noise): JPEG and PNG with upper-case extensions too, one greyscale and one RGBA image a class,
    a stray text file in each, and one truncated JPEG."""
    rng = np.random.default_rng(3)
    suffixes = (".jpg", ".PNG", ".JPEG", ".png")
    for label, name in enumerate(CLASSES):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(PER_CLASS):
            image = rng.integers(0, 60, (16, 16, 3)).astype(np.uint8)
            image[label % 16] = 255
            picture = Image.fromarray(image)
            picture = picture.convert("L") if i == 1 else picture.convert("RGBA") if i == 2 \
                else picture
            suffix = suffixes[i % 4] if i != 2 else ".png"
            picture.save(folder / f"image {i}{suffix}",
                         format="PNG" if suffix.lower() == ".png" else "JPEG")
        (folder / "notes.txt").write_text("not an image\n")
    whole = (root / "cat" / "image 0.jpg").read_bytes()
    (root / "cat" / "broken.jpg").write_bytes(whole[: len(whole) // 2])
    return root


def copy_checkout(to: Path) -> Path:
    """The checkout's files (as git lists them, with their times) in `to`, with this checkout's
    built Caffe and venv linked in: a checkout whose own folder has ODD in its name."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, files.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, to / name)
    for built in (".caffe", ".venv"):
        (to / built).symlink_to(Path(os.environ.get("CAFFE_HOME", REPO_ROOT / ".caffe"))
                                if built == ".caffe" else REPO_ROOT / built)
    return to


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """`make data`, `make -j2 figure2 noise`, `make report` and `make publish` with DATASET=mine
    from the copied checkout; the tmp root, the checkout and the arguments every call shares."""
    root = tmp_path_factory.mktemp("real")
    checkout = copy_checkout(root / f"check out {ODD}")
    images = write_real_folders(root / f"my images {ODD}")
    halves = root / f"halves {ODD}.txt"
    halves.write_text("red car\n$HOME #1\n# the natural ones\ncat\ntree  # a comment\n-leading\n")
    args = ["DATASET=mine", f"DATA={root / f'da ta {ODD}'}", f"RUNS={root / f'ru ns {ODD}'}"]
    make("data", f"IMAGES={images}", f"HALVES={halves}", "SKIP_BAD_IMAGES=1", *args,
         checkout=checkout)
    args += [f"ITERS={ITERS}", f"FIGURES={root / f'fig ures {ODD}'}"]
    make("-j2", "figure2", "noise", *args, checkout=checkout)
    make("report", *args, checkout=checkout)
    make("publish", f"RESULTS={root / f'res ults {ODD}'}", *args, checkout=checkout)
    return root, checkout, args


def test_the_description_keeps_every_class_name(study) -> None:
    root, _, _ = study
    data = root / f"da ta {ODD}"
    description = own.read(data, "mine")
    assert description["classes"] == sorted(CLASSES)
    assert description["settings"]["IMAGES"] == str(root / f"my images {ODD}")
    natural = {description["classes"][label] for label in description["halves"]["halfnatmanA"]}
    assert natural == {"red car", "$HOME #1", "cat", "tree", "-leading"}
    statement = dict(description["statements"])["images"]
    assert f"{len(CLASSES)} classes" in statement
    assert f"no images, skipped: {len(CLASSES)}" in statement and "left out" in statement
    assert (data / "mine/whole_train/lmdb.done").is_file()


def test_figure2_noise_report_and_results_are_written_where_asked(study) -> None:
    root, _, _ = study
    runs = root / f"ru ns {ODD}"
    assert len(list((runs / "mine/split0").glob("*/final.caffemodel"))) == 32
    assert (root / f"fig ures {ODD}/mine_figure2_split0.png").stat().st_size > 10_000
    page = (runs / "report-mine.html").read_text()
    assert "32 networks" in page or "30 networks" in page
    for name in CLASSES:
        assert html.escape(name) in page, name
    assert "split0&#x27;s halves" in page
    assert (root / f"res ults {ODD}/findings.md").is_file()


def test_the_figure_names_the_halves_classes_as_they_are_named(study) -> None:
    root, _, _ = study
    own.load(root / f"da ta {ODD}", "mine")
    line = halves_line("mine", ("split0",), most=1000)
    description = own.read(root / f"da ta {ODD}", "mine")
    half_a = [description["classes"][i] for i in description["halves"]["half0A"]]
    assert line.startswith("A: " + ", ".join(half_a).replace("$", "\\$") + "; B: ")
    assert "\\$HOME #1" in line  # drawn as it is, not as matplotlib's mathtext


def test_status_and_slurm_from_the_odd_checkout(study) -> None:
    root, checkout, args = study
    status = make("status", "PLAN=figure2", *args, checkout=checkout).stdout
    assert "30 finished" in status
    dry = make("slurm", "PLAN=paper", "DRY_RUN=1", *args, checkout=checkout).stdout
    assert "DATASET=mine" in dry and "mine/natman/" in dry
    assert shlex.quote(f"--chdir={root / f'ru ns {ODD}' / 'mine/split1/baseA'}") in dry


def test_a_class_folder_changed_is_described_again_and_nothing_else_made(study) -> None:
    root, checkout, args = study
    data_args = [a for a in args if not a.startswith(("ITERS=", "FIGURES="))]
    assert make("data", *data_args, checkout=checkout).stdout == ""
    built = {p: p.stat().st_mtime_ns for p in (root / f"da ta {ODD}").rglob("lmdb.done")}
    (root / f"my images {ODD}" / "red car" / "more notes.txt").write_text("still no image\n")
    out = make("data", *data_args, checkout=checkout).stdout
    assert ": 0 lists written, " in out and "images" not in out.splitlines()[-1], out
    assert {p: p.stat().st_mtime_ns for p in built} == built
    assert make("data", *data_args, checkout=checkout).stdout == ""


@pytest.mark.parametrize("var", ["IMAGES", "DATA", "RUNS", "FIGURES", "RESULTS"])
def test_a_path_with_a_line_break_is_refused_in_one_line(tmp_path: Path, var: str) -> None:
    folder = tmp_path / "two\nlines"
    proc = make("report" if var != "RESULTS" else "publish", "DATASET=mine",
                f"{var}={folder}", check=False)
    assert proc.returncode == 2
    line = (f"*** {var}={str(folder)!r} has a newline in its path, which make cannot carry into "
            "a command: rename the folder, or link it from a path without one.  Stop.")
    assert own_lines(proc.stderr) == [proc.stderr.split(" ", 1)[0] + " " + line], proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_report_file_name_make_cannot_take_is_refused(tmp_path: Path) -> None:
    proc = make("report", f"REPORT={tmp_path}/my report.html", check=False)
    assert proc.returncode == 2
    assert "its file name 'my report.html' has characters make cannot take" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_missing_input_with_a_space_is_named_as_given(tmp_path: Path) -> None:
    proc = make("data", "DATASET=mine", f"IMAGES={tmp_path}/my images", check=False)
    assert proc.returncode == 2
    assert f"*** no file or folder at IMAGES={tmp_path}/my images: check the path.  Stop." \
        in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_class_folder_with_a_line_break_is_refused(tmp_path: Path) -> None:
    images = write_real_folders(tmp_path / "images")
    (images / "red car").rename(images / "red\ncar")
    proc = make("data", "DATASET=broken", f"IMAGES={images}", "SKIP_BAD_IMAGES=1",
                f"DATA={tmp_path / 'data'}", check=False)
    assert proc.returncode == 2
    assert own_lines(proc.stderr) == [
        f"describe_images.py: error: 'red\\ncar' in IMAGES={images} has a line break in its "
        "name, which Caffe's image lists cannot hold: rename it"], proc.stderr
    assert not (tmp_path / "data/broken").exists()


def test_make_safe_spellings(tmp_path: Path) -> None:
    assert not paths.needs_link("/data/images-2024/é_x.y+z@1")
    for char in " \t:#%=$*?[];'\"|&<>\\!`{}(),":
        assert paths.needs_link(f"/data/a{char}b"), char
    out = tmp_path / "my runs"
    link = Path(paths.spell(tmp_path / "links", "RUNS", str(out)))
    assert out.is_dir() and link.resolve() == out and not paths.needs_link(str(link))
    assert paths.spell(tmp_path / "links", "RUNS", str(out)) == str(link)  # the same link again
    assert paths.link_name("RUNS", str(out)) != paths.link_name("DATA", str(out))
