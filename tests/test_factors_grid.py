"""The factors grid: the digits target's writer, the grid's table from a real source, and the
verdicts of Azizpour et al.'s claims on constructed tables."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import lmdb_items, run_data_prep, write_run
from transferability import plan
from transferability.caffe_io import datum_array, decode_datum
from transferability.cli import main
from transferability.data import digits
from transferability.disk import write_csv
from transferability.errors import UserError
from transferability.factors import grid
from transferability.factors.grid_findings import (
    NOT_TESTED,
    PCA,
    RAW,
    Grid,
    best_table,
    grid_findings,
)
from transferability.factors.report import FLOATS
from transferability.results.estimate import NO_DATA, NOT_REPRODUCED, REPRODUCED, WITHIN_NOISE

REQUIRED = {"width", "depth", "target", "layer", "pca", "accuracy"}


# --- the far target: scikit-learn's digits ------------------------------------------------------
def test_digits_lmdbs_follow_the_recorded_split(tmp_path: Path) -> None:
    proc = run_data_prep("digits.py", "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    images, labels = digits.load()
    parts = digits.read_split(images, labels)
    assert digits.SPLIT_FILE.read_text() == digits.split_text(images, labels)  # the rule holds
    for part in digits.PARTS:
        items = lmdb_items(tmp_path / f"digits_{part}" / "lmdb")
        want = labels[np.asarray(parts) == part]
        assert len(items) == len(want) and len(want) > 500
        data = [decode_datum(value) for _, value in items]
        assert [d.label for d in data] == want.tolist()
        assert {datum_array(d).shape for d in data} == {(1, 28, 28)}
        assert set(want.tolist()) == set(range(10))  # stratified: every class in both parts
    first = datum_array(decode_datum(lmdb_items(tmp_path / "digits_train" / "lmdb")[0][1]))
    assert first.max() > 200 and first[0, 0, 0] == 0  # bright strokes on a dark ground
    assert sum(p == "valid" for p in parts) == 596


def test_a_changed_digits_copy_is_refused(tmp_path: Path) -> None:
    images, labels = digits.load()
    images = images.copy()
    images[0, 0, 0] += 1
    with pytest.raises(UserError, match="not the images"):
        digits.read_split(images, labels)


# --- the table, from a real (briefly trained) source on real LMDBs ------------------------------
def test_one_source_on_one_target_gives_the_schema(fm_base_run, fm_data, tmp_path) -> None:
    src = grid.Source(plan.base_net("split0", "A"),
                      fm_base_run / "fashion-mnist" / "split0" / "baseA")
    rows = grid.pair_rows(src, grid.TARGETS[0], grid.Settings(pca=16, max_train=120), fm_data,
                          tmp_path / "work")
    assert [(r["layer"], r["pca"]) for r in rows] == [
        (layer, pca) for layer in src.layers for pca in (0, 16)]
    path = write_csv(tmp_path / "grid.csv", rows, grid.COLUMNS, FLOATS)
    with open(path, newline="") as f:
        back = grid.read_rows(list(csv.DictReader(f)))
    assert REQUIRED <= set(back[0])
    assert all(r["width"] == 1.0 and r["depth"] == 8 and r["target"] == "near"
               and r["n_train"] == 120 and 0.2 <= r["accuracy"] <= 1 for r in back)


def test_missing_sources_are_one_line(fm_base_run, fm_data, tmp_path, capsys) -> None:
    assert main(["factors-grid", str(fm_base_run), str(fm_data), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "w0.5-d7/final.caffemodel is missing" in err


# --- verdicts on constructed tables -------------------------------------------------------------
WIDTHS, DEPTHS, TARGETS = (0.5, 1.0, 2.0), (7, 8, 9), ("near", "middle", "far")


def _table(acc, spread: float = 0.002, second_seed: bool = True) -> list[dict]:
    """Grid rows with accuracy acc(width, depth, target, method, position); the second seed of
    (x1, depth 8) differs by +-spread x sqrt 2, so the noise is `spread`."""
    rows = []
    for w in WIDTHS:
        for d in DEPTHS:
            for seed in (0, 1) if (w, d) == (1.0, 8) and second_seed else (0,):
                for t in TARGETS:
                    for m in (RAW, PCA):
                        for pos in range(1, d + 1):
                            a = acc(w, d, t, m, pos)
                            if seed:
                                a += (-1) ** pos * spread * np.sqrt(2)
                            rows.append({"width": w, "depth": d, "seed": seed, "target": t,
                                         "method": m, "position": pos, "accuracy": a})
    return rows


def _peak(d: int, t: str, pos: int) -> float:
    """Near targets are best at the last hidden layer, far ones at layer 2."""
    best = {"near": d - 1, "middle": d - 2, "far": 2}[t]
    return -0.02 * abs(pos - best)


def _verdicts(rows: list[dict], number: int) -> dict[str, str]:
    return {f.target: f.verdict for f in grid_findings(rows) if f.number == number}


@pytest.mark.parametrize("slope, expected", [(0.05, REPRODUCED), (-0.05, NOT_REPRODUCED),
                                             (0.001, WITHIN_NOISE)])
def test_wider(slope, expected) -> None:
    rows = _table(lambda w, d, t, m, p: 0.8 + slope * w + _peak(d, t, p))
    assert set(_verdicts(rows, 1).values()) == {expected}
    assert set(_verdicts(rows, 2).values()) == {WITHIN_NOISE}  # depth changes nothing here


@pytest.mark.parametrize("gains, deeper, saturating", [
    ((0.04, 0.01), REPRODUCED, REPRODUCED),       # deeper helps, less at the second step
    ((0.01, 0.04), REPRODUCED, NOT_REPRODUCED),   # helps more and more: no "point" in sight
    ((-0.03, -0.03), NOT_REPRODUCED, NOT_REPRODUCED),  # depth only hurts
    ((0.0, 0.001), WITHIN_NOISE, WITHIN_NOISE),
    ((0.0, -0.04), NOT_REPRODUCED, WITHIN_NOISE),  # a shrinking gain, but no gain to shrink
])
def test_deeper_up_to_a_point(gains, deeper, saturating) -> None:
    level = {7: 0.0, 8: gains[0], 9: gains[0] + gains[1]}
    rows = _table(lambda w, d, t, m, p: 0.8 + level[d] + _peak(d, t, p))
    assert set(_verdicts(rows, 2).values()) == {deeper}
    assert set(_verdicts(rows, 3).values()) == {saturating}


@pytest.mark.parametrize("far_best, expected", [
    (lambda d: 2, REPRODUCED),        # far: best low, near: best at the top
    (lambda d: d - 2, WITHIN_NOISE),  # one layer lower: not beyond one seed pair's floor
    (lambda d: d - 1, WITHIN_NOISE),  # the same layer for both
])
def test_best_layer_moves_lower(far_best, expected) -> None:
    def acc(w, d, t, m, p):
        best = far_best(d) if t == "far" else d - 1
        return 0.8 - 0.02 * abs(p - best)
    assert _verdicts(_table(acc), 4) == {"far": expected}


def test_an_equal_best_layer_is_not_a_move_whatever_the_layers_above_it_do() -> None:
    """Both targets best at layer 2; the far target's upper layers fall much further: the best
    layer has not moved: "within noise" (the old gap measure said "reproduced")."""
    def acc(w, d, t, m, p):
        return 0.8 - (0.06 if t == "far" else 0.01) * abs(p - 2)
    found = [f for f in grid_findings(_table(acc)) if f.number == 4]
    assert [(f.verdict, f.q, f.unit) for f in found] == [(WITHIN_NOISE, 0.0, "layers")]
    assert found[0].noise == 0.5  # the floor: the seed pair's best layers agree


def test_a_tie_between_layers_goes_to_the_higher_one() -> None:
    rows = _table(lambda w, d, t, m, p: 0.8 if p in (2, 5) else 0.7)
    assert Grid(rows).best(1.0, 8, "near") == (0.8, 5)


def test_best_layer_moving_higher_is_not_reproduced() -> None:
    def acc(w, d, t, m, p):
        return 0.8 - 0.02 * abs(p - (2 if t == "near" else d - 1))
    assert _verdicts(_table(acc), 4) == {"far": NOT_REPRODUCED}


@pytest.mark.parametrize("cost, expected", [(0.005, REPRODUCED), (0.03, NOT_REPRODUCED)])
def test_pca_cost_for_the_near_target(cost, expected) -> None:
    rows = _table(lambda w, d, t, m, p: 0.8 - (cost if m == PCA else 0) + _peak(d, t, p))
    assert _verdicts(rows, 5) == {"near": expected}


def test_without_a_second_seed_there_is_no_verdict_and_fine_tuning_is_not_tested() -> None:
    rows = _table(lambda w, d, t, m, p: 0.8 + 0.05 * w + _peak(d, t, p), second_seed=False)
    found = grid_findings(rows)
    assert {f.verdict for f in found if f.number < 6} == {NO_DATA}
    assert [f.verdict for f in found if f.number == 6] == [NOT_TESTED]


def test_noise_is_the_seed_spread_and_the_best_table() -> None:
    rows = _table(lambda w, d, t, m, p: 0.8 + 0.05 * w + _peak(d, t, p), spread=0.004)
    found = grid_findings(rows)
    assert {round(f.noise, 6) for f in found if f.number == 1} == {0.004}
    assert {round(f.noise, 6) for f in found if f.number == 5} == {0.004}  # PCA's own layers
    best = {r["target"]: r for r in best_table(rows)}
    assert best["near"]["CaffeNet's best layer"].startswith("7 of 8")
    assert best["far"]["CaffeNet's best layer"].startswith("2 of 8")
    assert best["near"]["best width at depth 8"].startswith("x2")


def test_redraw_from_a_csv(tmp_path, capsys) -> None:
    rows = _table(lambda w, d, t, m, p: 0.8 + 0.05 * w + _peak(d, t, p))
    for r in rows:
        r.update(layer=f"l{r['position']}", pca=64 if r["method"] == PCA else 0,
                 source=f"w{r['width']:g}-d{r['depth']}", target_set=r["target"])
    path = write_csv(tmp_path / "in.csv", rows, grid.COLUMNS, FLOATS)
    out = tmp_path / "out"
    assert main(["factors-grid", "runs", "data", "--out", str(out), "--from-csv", str(path)]) == 0
    assert (out / "grid.png").stat().st_size > 20_000
    text = (out / "findings.md").read_text()
    cells = {tuple(c.strip() for c in line.split("|")[1:4]): line.split("|")[7].strip()
             for line in text.splitlines() if line.startswith("| 1 ") or line.startswith("| 4 ")}
    assert cells[("1", "wider sources transfer better", "near")] == REPRODUCED
    assert cells[("4", "the best layer moves lower as the target moves away", "far")] == \
        REPRODUCED  # _peak: near best at the last hidden layer, far at layer 2
    assert "not tested" in capsys.readouterr().out


def test_the_classifier_layer_is_not_in_the_noise() -> None:
    """The seed pair's fc8 features differ wildly (its 5 class scores); hidden layers set noise."""
    rows = _table(lambda w, d, t, m, p: 0.8 + _peak(d, t, p), spread=0.003)
    for r in rows:
        if r["seed"] == 1 and r["position"] == r["depth"]:
            r["accuracy"] -= 0.2
    assert {round(Grid(rows).noise(t), 6) for t in TARGETS} == {0.003}


def test_only_finished_trained_runs_join_the_grid_with_their_sizes(tmp_path: Path,
                                                                   fm_data: Path) -> None:
    write_run(tmp_path, "fashion-mnist", "split0/baseB", 0.85)
    write_run(tmp_path, "fashion-mnist", "split0/A2B+", 0.86)
    write_run(tmp_path, "fashion-mnist", "split0/A3B+", 0.5, done=False)  # still training
    rows = grid.fine_tuned_rows(tmp_path, fm_data)
    assert [(r["method"], r["position"], r["accuracy"], r["n_train"], r["n_test"])
            for r in rows] == [("baseB", 0, 0.85, 256, 100), ("AnB+", 2, 0.86, 256, 100)]
    assert {r["n_train"] for r in grid.fine_tuned_rows(tmp_path, tmp_path / "none")} == {""}


def test_an_out_folder_that_cannot_be_made_is_one_line_before_any_work(tmp_path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["factors-grid", str(tmp_path / "runs"), str(tmp_path / "data"),
                 "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--out" in err and "not a writable folder" in err
    assert not (tmp_path / "runs").exists()


def test_a_mistyped_runs_makes_no_folder_in_it(tmp_path, capsys) -> None:
    assert main(["factors-grid", str(tmp_path / "rnus"), str(tmp_path / "data"),
                 "--out", str(tmp_path / "out")]) == 2
    assert "is missing" in capsys.readouterr().err
    assert not (tmp_path / "rnus").exists()


def test_a_table_that_fails_mid_write_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "grid.csv"
    with pytest.raises(ValueError):  # the second row has a column the table does not
        write_csv(path, [{"width": 1.0}, {"bogus": 2}], ("width",))
    assert list(tmp_path.iterdir()) == []
