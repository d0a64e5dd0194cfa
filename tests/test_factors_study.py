"""`transferability factors`: every layer of a real baseA as features for half B, beside AnB."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.conftest import write_run
from transferability.cli import main
from transferability.nets.caffenet import LEARNABLE

ANB = {n: 0.5 + n / 100 for n in range(1, 8)}  # A{n}B's final accuracies in their train.log
ARGS = ("--max-train", "120", "--max-test", "60", "--pca", "16")


@pytest.fixture
def runs(fm_base_run: Path, tmp_path: Path) -> Path:
    """The real baseA beside logs of A1B..A7B and baseB, as `transferability train` leaves them."""
    root = tmp_path / "runs"
    split = root / "fashion-mnist" / "split0"
    split.mkdir(parents=True)
    (split / "baseA").symlink_to(fm_base_run / "fashion-mnist" / "split0" / "baseA")
    for n, acc in ANB.items():
        write_run(root, "fashion-mnist", f"split0/A{n}B", acc)
    write_run(root, "fashion-mnist", "split0/baseB", 0.75)
    return root


def _rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_factors_table_and_figure(runs, fm_data, tmp_path, capsys):
    out = tmp_path / "factors"
    argv = ["factors", str(runs), str(fm_data), "--dataset", "fashion-mnist", "--split", "0",
            "--out", str(out), *ARGS]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    stem = out / "factors-fashion-mnist-split0"
    rows = _rows(stem.with_suffix(".csv"))
    svm = [r for r in rows if r["method"].startswith("svm")]
    assert [(r["layer"], r["method"]) for r in svm] == [
        (layer, method) for layer in LEARNABLE for method in ("svm raw", "svm pca16+l2")]
    assert all(r["target"] == "half0B" and r["n_train"] == "120" and r["n_test"] == "60"
               for r in svm)
    assert all(0.2 <= float(r["top1_accuracy"]) <= 1 for r in svm)  # 5 classes: chance is 0.2
    assert max(float(r["top1_accuracy"]) for r in svm) > 0.9  # the images are separable
    anb = {int(r["n"]): float(r["top1_accuracy"]) for r in rows if r["method"] == "AnB"}
    assert anb == pytest.approx(ANB)
    assert [r["top1_accuracy"] for r in rows if r["method"] == "baseB"] == ["0.75"]
    assert "note: natman skipped" in printed and "svm pca16+l2" in printed
    for suffix in (".png", ".pdf"):
        assert stem.with_suffix(suffix).stat().st_size > 10_000

    assert main([*argv, "--layers", "fc7,fc8", "--variants", "l2"]) == 0  # features reused
    printed = capsys.readouterr().out
    assert "features of" not in printed and "svm l2" in printed


@pytest.mark.parametrize("extra, message", [
    (("--split", "1"), "fashion-mnist/split1: "),
    (("--layers", "conv9"), "unknown layer conv9: expected some of conv1, conv2"),
    (("--variants", "pca+l1"), "unknown variant 'pca+l1'"),
])
def test_factors_errors_are_one_line(extra, message, runs, fm_data, tmp_path, capsys):
    assert main(["factors", str(runs), str(fm_data), "--out", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err
