"""Every table, figure and report is written whole or not at all: a failing write keeps the old
file, and leaves no temporary one beside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

from transferability.disk import csv_text, replacing, write_csv, write_text
from transferability.results.figures import save


def test_a_table_whose_row_fails_leaves_the_old_table(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "t.csv", [{"a": 1.5, "b": None}], ("a", "b"))
    assert path.read_text() == "a,b\n1.5,\n"
    with pytest.raises(ValueError):  # a column the table does not have
        write_csv(path, [{"a": 2.0}, {"c": 3}], ("a", "b"))
    assert path.read_text() == "a,b\n1.5,\n" and list(tmp_path.iterdir()) == [path]


def test_a_write_cut_off_midway_leaves_the_old_file(tmp_path: Path) -> None:
    path = write_text(tmp_path / "findings.md", "old\n")
    with pytest.raises(OSError), replacing(path) as tmp:
        tmp.write_text("half of the new")
        raise OSError(28, "No space left on device")
    assert path.read_text() == "old\n" and list(tmp_path.iterdir()) == [path]


def test_a_figure_that_cannot_be_drawn_leaves_the_old_one(tmp_path: Path) -> None:
    fig = Figure()
    fig.subplots().plot([0, 1], [0, 1])
    png, pdf = save(fig, tmp_path, "f")
    before = png.read_bytes()
    broken = Figure()
    broken.subplots().set_yscale("log")
    broken.axes[0].plot([0, 1], [float("nan"), float("inf")])
    broken.text(0, 0, "$\\notacommand$")  # mathtext fails while the PNG is written
    with pytest.raises(ValueError):
        save(broken, tmp_path, "f")
    assert png.read_bytes() == before and sorted(tmp_path.iterdir()) == [pdf, png]


def test_floats_are_written_as_asked() -> None:
    rows = [{"x": 0.123456789, "n": 3}]
    assert csv_text(rows, ("x", "n"), ".6g") == "x,n\n0.123457,3\n"
    assert csv_text(rows, ("x", "n")) == "x,n\n0.123456789,3\n"
