"""A user's own images through the same commands as the built-in datasets: Fashion-MNIST as class
folders trains to the built-in path's accuracies, and a colour dataset goes from its folders to
Figure 2 and the report with `make figure2 report`, its runs guarded as the built-in ones are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.own_images import make, own_lines, write_colour_folders
from tests.test_data_own_images import fm_both  # noqa: F401 (the fixture)
from tests.test_training_makefile import weights

ITERS = 2
TEST_LINE = re.compile(r"Test net output #0: accuracy = (\S+)")


def test_fashion_mnist_as_class_folders_trains_to_the_built_in_accuracies(
        fm_both: Path, tmp_path: Path) -> None:  # noqa: F811
    logs = {}
    for dataset in ("fashion-mnist", "fm-folder"):
        make("base-A", f"DATASET={dataset}", f"DATA={fm_both}", f"RUNS={tmp_path}", "ITERS=20")
        folder = tmp_path / dataset / "split0/baseA"
        logs[dataset] = TEST_LINE.findall((folder / "train.log").read_text())
        net = (folder / "train_val.prototxt").read_text()
        assert net.count(f'name: "{dataset}-split0-baseA"') == 1
        logs[dataset].append(net.replace(f"{dataset}-split0-baseA", "NAME"))
        logs[dataset].append(weights(folder / "final.caffemodel"))
    assert len(logs["fm-folder"]) == 2 + 2  # two tests (middle, end: none at 0), net, weights
    assert logs["fm-folder"] == logs["fashion-mnist"]


@pytest.fixture(scope="module")
def figure2(tmp_path_factory) -> tuple[Path, list[str], str]:
    """4 colour classes of 9, 6, 12 and 7 images of 16 x 16 to 18, JPEG and PNG, one greyscale,
    stored at 12 x 12 (SIZE: small maps, quick nets): Figure 2's nets through make -j2, then the
    report; the root, the make arguments and figure2's output."""
    root = tmp_path_factory.mktemp("colours")
    images = write_colour_folders(root / "images", (9, 6, 12, 7))
    args = ["DATASET=colours", f"DATA={root / 'data'}", f"RUNS={root / 'runs'}", f"ITERS={ITERS}"]
    made = make("-j2", "figure2", f"IMAGES={images}", "SIZE=12", *args)
    make("report", *args)
    return root, args, made.stdout


def test_figure2_and_the_report_of_a_colour_dataset(figure2) -> None:
    root, _, out = figure2
    runs = root / "runs"
    assert len(list(runs.glob("colours/split0/*/final.caffemodel"))) == 30
    assert (runs / "figures/colours_figure2_split0.png").stat().st_size > 10_000
    assert f"figure 2: {runs}/figures/colours_figure2_split0.png" in out
    page = (runs / "report-colours.html").read_text()
    assert "30 networks with a plotted accuracy" in page
    for said in ("4 classes, 29 training and 5 validation images",
                 "1 greyscale and 33 colour images", "no natman nets",
                 "fitted to 12 x 12 x 3: conv1 3x3 stride 1, pooling after conv1, conv2, widths",
                 "; EPOCHS = 16", "Convergence controls"):
        assert said in page, said


def test_finished_runs_stay_and_settings_are_checked(figure2) -> None:
    root, args, _ = figure2
    final = root / "runs/colours/split0/A3B/final.caffemodel"
    before = final.stat().st_mtime_ns
    make("transfer", "N=3", *args)
    assert final.stat().st_mtime_ns == before
    other = [arg for arg in args if not arg.startswith("ITERS=")]
    proc = make("transfer", "N=3", *other, "ITERS=5", check=False)
    assert proc.returncode == 2
    assert own_lines(proc.stderr) == [
        f"transferability train: error: {root / 'runs/colours/split0/A3B'} was started with "
        f"ITERS={ITERS}, not ITERS=5; remove it or choose another RUNS"], proc.stderr


def test_a_split_the_images_lack_is_one_line(figure2) -> None:
    _, args, _ = figure2
    proc = make("base-A", "SPLIT=natman", *args, check=False)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [proc.stderr.split(" ", 1)[0] + " *** colours has no "
                                        "natman split: there is no WordNet for your classes, so "
                                        "give make data a HALVES=file naming the classes of half "
                                        "A.  Stop."], proc.stderr


def test_status_and_slurm_name_the_datasets_nets(figure2) -> None:
    _, args, _ = figure2
    status = make("status", "PLAN=figure2", *args).stdout
    assert "colours/split0/A7B+" in status and "30 finished" in status
    dry = make("slurm", "PLAN=paper", "DRY_RUN=1", *args).stdout
    assert "DATASET=colours" in dry and "colours/whole/random3" in dry
    assert "colours/natman/" not in dry
