"""`make estimators`: the verdicts on constructed measurements, one real source on real
features (no estimator reads a validation label), and the command's one-line errors."""

from __future__ import annotations

import csv

import h5py
import numpy as np
import pytest

from tests.conftest import assert_refused_unwritable
from transferability import plan
from transferability.cli import main
from transferability.errors import UserError
from transferability.factors import estimator_findings as ef
from transferability.factors import estimator_report as er
from transferability.factors import estimators as est
from transferability.factors import grid
from transferability.factors.estimator_grid import (
    LayerScores,
    Measurements,
    Settings,
    check_svm,
    pair_scores,
)
from transferability.results.estimate import NOT_REPRODUCED, REPRODUCED, WITHIN_NOISE

# --- verdicts on constructed measurements ---------------------------------------------------------
SOURCES = ("split0/baseA", "factors/w2-d8", "factors/w0.5-d8", "factors/w1-d9")
B = 60


def _measurements(score_of, spread: float = 0.001, noise: float = 0.002) -> Measurements:
    """Sources of 8 layers on the three targets: accuracy peaks at layer 3 (near), 2 (middle),
    1 (far), each source a little apart; its replicates vary by `spread`. The estimators score
    score_of(accuracy), their replicates alike."""
    rng = np.random.default_rng(4)
    layers, acc_of = [], {"near": 0.9, "middle": 0.8, "far": 0.7}
    for k, source in enumerate(SOURCES):
        for target, top in zip(acc_of, (3, 2, 1), strict=True):
            for p in range(1, 9):
                acc = acc_of[target] - 0.02 * abs(p - top) + 0.005 * k
                svm = acc + spread * np.r_[0, rng.normal(size=B)]
                f = LayerScores(source, target, f"l{p}", p, p == 8, 100, 100, 4)
                f.svm = svm
                value = score_of(svm)
                f.scores = {name: value for name in est.PER_LAYER + (est.HEAD_ONLY if p == 8
                                                                      else ())}
                layers.append(f)
    nets = {key: plan.find(key) if key.startswith("split") else
            plan.factor_source(*((2.0, 8), (0.5, 8), (1.0, 9))[SOURCES.index(key) - 1])
            for key in SOURCES}
    anb = {n: 0.9 - 0.01 * n + spread * np.r_[0, rng.normal(size=B)] for n in range(1, 8)}
    return Measurements(layers, nets, anb, {}, dict.fromkeys(acc_of, noise), noise, B,
                        dict.fromkeys(acc_of, (100, 100)))


def _verdicts(m: Measurements, number: int) -> dict[tuple[str, str, str], str]:
    found = ef.estimator_findings(m, ef.correlations(m))
    return {(f.estimator, f.measured, f.target): f.verdict for f in found if f.number == number}


def test_an_estimator_that_is_the_accuracy_reproduces_the_layer_claims() -> None:
    m = _measurements(lambda acc: acc)
    best = _verdicts(m, 1)
    assert {v for (_, which, _), v in best.items() if which == ef.SVM} == {REPRODUCED}
    assert best[("H-score", ef.ANB, "near")] == NOT_REPRODUCED  # AnB's best is n = 1, 2 points up
    layers = _verdicts(m, 2)
    assert {v for (_, which, _), v in layers.items() if which == ef.SVM} == {REPRODUCED}
    # AnB falls with n, the SVM peaks at layer 3: above it the two agree, which outweighs below
    assert layers[("LogME", ef.ANB, "near")] == REPRODUCED
    assert set(_verdicts(m, 3).values()) == {REPRODUCED}
    assert set(_verdicts(m, 4).values()) == {REPRODUCED}  # near 0.9 > middle 0.8 > far 0.7


def test_a_reversed_estimator_is_not_reproduced() -> None:
    m = _measurements(lambda acc: -acc)
    assert set(_verdicts(m, 1).values()) - {WITHIN_NOISE} == {NOT_REPRODUCED}
    assert {v for (_, w, _), v in _verdicts(m, 2).items() if w == ef.SVM} == {NOT_REPRODUCED}
    assert set(_verdicts(m, 4).values()) == {NOT_REPRODUCED, REPRODUCED}  # the measured row


def test_an_estimator_of_noise_is_within_noise() -> None:
    rng = np.random.default_rng(5)
    m = _measurements(lambda acc: rng.normal(size=acc.shape), noise=0.05)
    verdicts = _verdicts(m, 2)
    assert {v for (_, w, _), v in verdicts.items() if w == ef.SVM} <= {WITHIN_NOISE,
                                                                      NOT_REPRODUCED}
    assert WITHIN_NOISE in set(verdicts.values())
    assert set(_verdicts(m, 1).values()) <= {WITHIN_NOISE, REPRODUCED, NOT_REPRODUCED}


def test_a_best_layer_one_off_within_the_noise_is_within_noise() -> None:
    # the estimators prefer the layer above the best one, 2 points worse: within 2 x 1.5 points
    m = _measurements(lambda acc: acc, noise=0.015)
    above = {"near": 4, "middle": 3, "far": 2}
    for f in m.layers:
        if f.position == above[f.target]:
            f.scores = {name: v + 0.05 for name, v in f.scores.items()}
    found = [f for f in ef.estimator_findings(m, ef.correlations(m))
             if f.number == 1 and f.measured == ef.SVM]
    assert {f.verdict for f in found} == {WITHIN_NOISE}
    assert all(f.q == pytest.approx(0.02) and "0 of 4 sources" in f.numbers for f in found)


# --- one real source on real features -------------------------------------------------------------
def test_one_real_source_never_reads_validation_labels(fm_base_run, fm_data, tmp_path) -> None:
    src = grid.Source(plan.base_net("split0", "A"),
                      fm_base_run / "fashion-mnist" / "split0" / "baseA")
    s = grid.Settings(variants=("raw",), max_train=60)
    rows = grid.pair_rows(src, grid.TARGETS[0], s, fm_data, tmp_path / "work")
    chosen = {r["layer"]: r["C"] for r in rows}
    settings = Settings(s, bootstrap=3)
    first = pair_scores(src, grid.TARGETS[0], 0, chosen, settings, fm_data, tmp_path / "work")
    assert [f.layer for f in first] == list(src.layers) and first[-1].head
    assert set(first[-1].scores) == set(est.ESTIMATORS) and set(first[0].scores) == set(
        est.PER_LAYER)
    assert all(v.shape == (4,) and np.isfinite(v).all() for f in first for v in f.scores.values())
    # the refitted SVMs score what the grid wrote
    assert check_svm(first, rows, tmp_path / "work") == (0, 0.0)
    # the validation labels shuffled in place: every estimator the same, the SVMs' check fails
    for path in (tmp_path / "work").rglob("*_test.h5"):
        with h5py.File(path, "r+") as f:
            f["labels"][...] = np.random.default_rng(6).permutation(f["labels"][...])
    again = pair_scores(src, grid.TARGETS[0], 0, chosen, settings, fm_data, tmp_path / "work")
    for a, b in zip(first, again, strict=True):
        assert all(np.array_equal(a.scores[k], b.scores[k]) for k in a.scores)
    with pytest.raises(UserError, match="features changed since the grid ran"):
        check_svm(again, rows, tmp_path / "work")


def test_a_missing_grid_table_is_one_line(tmp_path, capsys) -> None:
    code = main(["estimators", str(tmp_path), str(tmp_path), "--grid",
                 str(tmp_path / "grid.csv"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "no grid table" in err
    assert main(["estimators", str(tmp_path), str(tmp_path), "--grid", "x", "--out",
                 str(tmp_path), "--bootstrap", "0"]) == 2


def test_an_estimators_folder_that_cannot_be_written_is_one_line(tmp_path) -> None:
    assert_refused_unwritable(tmp_path, "ESTIMATORS_OUT", "estimators")


def test_publish_writes_the_table_correlations_figure_and_findings(tmp_path) -> None:
    m = _measurements(lambda acc: acc)
    for f in m.layers:
        f.seconds = dict.fromkeys(f.scores, 0.01)
    m.anb_training = {n: (80.0 + n, 7500) for n in range(1, 8)}
    found, cost, written = er.publish(m, tmp_path, "make estimators", (60.0, 100.0))
    assert [p.name for p in written] == ["estimators.csv", "correlations.csv", "estimators.png",
                                         "estimators.pdf", "findings.md"]
    with open(tmp_path / "estimators.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * 3 * (8 * 2 + 2)  # sources x targets x (layers x 2 + the head's 2)
    assert {r["anb_accuracy"] != "" for r in rows if r["source"] == ef.BASE_A
            and r["target"] == "near" and int(r["position"]) <= 7} == {True}
    text = (tmp_path / "findings.md").read_text()
    assert "### 1. predicts the best layer" in text and "commit " in text
    assert text.count("| reproduced |") == sum(f.verdict == REPRODUCED for f in found)
    assert any(c["what"].startswith("AnB training") and c["total"] == "9.8 min" for c in cost)
