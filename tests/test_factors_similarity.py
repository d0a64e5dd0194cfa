"""`make similarity`: CKA's properties (Kornblith et al. 2019), a hand-worked value, the claims'
rules on constructed measurements, and the command on a tiny study the real caffe trained."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_refused_unwritable
from transferability.caffe_env import REPO_ROOT
from transferability.cli import main
from transferability.factors import similarity_findings as sf
from transferability.factors.cka import cka_of, linear_gram, rbf_gram
from transferability.factors.feature_store import load
from transferability.factors.similarity import NS, SEED_PAIRS, Measured
from transferability.nets.caffenet import LEARNABLE
from transferability.results.estimate import NO_DATA, NOT_REPRODUCED, REPRODUCED, WITHIN_NOISE
from transferability.training.runs import train

KERNELS = ("linear", "rbf")
RNG = np.random.default_rng(7)
X = RNG.normal(size=(40, 6)) @ RNG.normal(size=(6, 6))  # correlated columns
COUNTS = RNG.multinomial(40, np.full(40, 1 / 40), size=5)


# --- CKA's properties ---------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", KERNELS)
def test_a_representation_is_its_own_match_on_every_replicate(kernel) -> None:
    assert np.allclose(cka_of(X, X, kernel, COUNTS), 1.0)


@pytest.mark.parametrize("kernel", KERNELS)
def test_orthogonal_transforms_and_isotropic_scaling_leave_cka_unchanged(kernel) -> None:
    y = np.tanh(X @ RNG.normal(size=(6, 4)))
    q, _ = np.linalg.qr(RNG.normal(size=(6, 6)))
    before = cka_of(X, y, kernel, COUNTS)
    assert before[0] < 0.99  # a pair that is not trivially alike
    assert np.allclose(cka_of(X @ q, y, kernel, COUNTS), before)
    assert np.allclose(cka_of(3.7 * X, y, kernel, COUNTS), before)
    assert np.allclose(cka_of(X + 5.0, y, kernel, COUNTS), before)  # the centring


@pytest.mark.parametrize("kernel", KERNELS)
def test_a_general_invertible_linear_transform_changes_cka(kernel) -> None:
    """Unlike CCA, CKA is not invariant to invertible linear transforms (the paper's point:
    such invariance would make every representation of more dimensions than images alike)."""
    a = np.diag([1.0, 1.0, 1.0, 1.0, 1.0, 40.0])  # invertible, not orthogonal times a scalar
    assert np.linalg.det(a) != 0
    assert cka_of(X, X @ a, kernel)[0] < 0.95
    y = np.tanh(X @ RNG.normal(size=(6, 4)))
    assert abs(cka_of(X @ a, y, kernel)[0] - cka_of(X, y, kernel)[0]) > 0.01


def test_linear_cka_by_hand() -> None:
    """x = (1, 2, 3, 4), y = (1, 3, 2, 4): centred (-1.5, -0.5, 0.5, 1.5) and (-1.5, 0.5, -0.5,
    1.5), x.y = 2.25 - 0.25 - 0.25 + 2.25 = 4, |x|^2 = |y|^2 = 5. For one feature linear CKA is
    (x.y)^2 / (|x|^2 |y|^2) = 16 / 25, the squared correlation; y = (0, 1, 0) against x = (0, 1,
    2) is uncorrelated: 0."""
    x, y = np.array([[1.0], [2], [3], [4]]), np.array([[1.0], [3], [2], [4]])
    assert cka_of(x, y)[0] == pytest.approx(0.64)
    assert cka_of(np.array([[0.0], [1], [2]]), np.array([[0.0], [1], [0]]))[0] == \
        pytest.approx(0.0, abs=1e-12)


def _explicit_cka(k: np.ndarray, m: np.ndarray) -> float:
    h = np.eye(len(k)) - 1 / len(k)
    kc, mc = h @ k @ h, h @ m @ h
    return float((kc * mc).sum() / np.sqrt((kc * kc).sum() * (mc * mc).sum()))


@pytest.mark.parametrize("kernel,gram", [("linear", linear_gram), ("rbf", rbf_gram)])
def test_a_replicate_is_the_cka_of_the_drawn_images_duplicates_included(kernel, gram) -> None:
    y = np.tanh(X @ RNG.normal(size=(6, 4)))
    got = cka_of(X, y, kernel, COUNTS)
    k, m = gram(X), gram(y)
    assert got[0] == pytest.approx(_explicit_cka(k, m))
    for value, counts in zip(got[1:], COUNTS, strict=True):
        idx = np.repeat(np.arange(len(X)), counts)
        # the RBF bandwidth stays that of all images: the drawn rows of the same kernel
        assert value == pytest.approx(_explicit_cka(k[np.ix_(idx, idx)], m[np.ix_(idx, idx)]))


def test_a_dead_layer_is_alike_to_nothing() -> None:
    assert cka_of(np.zeros((10, 3)), X[:10], "linear")[0] == 0.0


# --- the claims' rules on constructed measurements ----------------------------------------------
def _replicates(value: float, spread: float = 0.002) -> np.ndarray:
    return value + np.concatenate([[0.0], np.linspace(-spread, spread, 40)])


def _measured(ab: list[float], drop_from: int | None, drop: float = 0.1) -> Measured:
    """split0: baseA-baseB's CKA per layer `ab`, a seed floor of 0.8 at every layer; A{n}B
    `drop` below baseB from n = drop_from on (baseB and its seeds 0.01 apart)."""
    cka = {}
    for layer, v in zip(LEARNABLE, ab, strict=True):
        for kernel in KERNELS:
            cka[("split0", kernel, "baseA-baseB", "baseA", "baseB", layer)] = _replicates(v)
            for a, b in SEED_PAIRS:
                cka[("split0", kernel, "seed floor", a, b, layer)] = _replicates(0.8)
    acc = {"split0/baseB": 0.80, "split0/baseB-seed1": 0.81, "split0/baseB-seed2": 0.79}
    acc |= {f"split0/A{n}B": 0.80 - (drop if drop_from and n >= drop_from else 0.0) for n in NS}
    return Measured("fashion-mnist", LEARNABLE, cka, acc, ["split0"], {"split0": 40}, 40, {})


def test_claim_1_conv1_most_alike_fc7_fc8_least() -> None:
    m = _measured([0.99, 0.95, 0.9, 0.85, 0.8, 0.7, 0.5, 0.4], None)
    assert sf.claim1(m, "linear").verdict == REPRODUCED
    m = _measured([0.9, 0.95, 0.9, 0.85, 0.8, 0.7, 0.5, 0.4], None)
    assert sf.claim1(m, "linear").verdict == NOT_REPRODUCED
    m = _measured([0.95, 0.95, 0.9, 0.85, 0.8, 0.7, 0.5, 0.4], None)  # a tie at the top
    assert sf.claim1(m, "linear").verdict == WITHIN_NOISE


def test_claim_2_onsets_agree_differ_or_differ_within_noise() -> None:
    below_from_4 = [0.9, 0.9, 0.9, 0.6, 0.5, 0.4, 0.3, 0.2]
    assert sf.claim2(_measured(below_from_4, 4), "linear").verdict == REPRODUCED
    # the transfer drops at n = 6 only; at n = 4 its interval (from the seed noise) holds 0
    assert sf.claim2(_measured(below_from_4, 6, drop=0.2), "linear").verdict == WITHIN_NOISE
    # nowhere a drop: AnB - baseB holds 0 at layer 4, so the disagreement is within noise
    assert sf.claim2(_measured(below_from_4, None), "linear").verdict == WITHIN_NOISE
    # above the floor until fc8, and no drop within n = 1..7: they agree
    assert sf.claim2(_measured([0.9] * 7 + [0.5], None), "linear").verdict == REPRODUCED
    # the transfer drops at n = 2 while layer 2 is clearly above the floor
    assert sf.claim2(_measured([0.9] * 7 + [0.5], 2, drop=0.3), "linear").verdict == \
        NOT_REPRODUCED
    m = _measured(below_from_4, 4)
    del m.acc["split0/A3B"]
    assert sf.claim2(m, "linear").verdict == NO_DATA


def test_claim_3_without_fine_tuned_nets_is_no_data() -> None:
    assert sf.claim3(_measured([0.9] * 8, None), "linear").verdict == NO_DATA


# --- the command on a tiny study trained by the real caffe ---------------------------------------
TRAINED = ("baseA", "baseB", "baseB-seed1", "baseB-seed2", "A1B", "A1B+", "B1B+")


@pytest.fixture(scope="module")
def sim_runs(fm_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("sim_runs")
    for name in TRAINED:
        train(runs, fm_data, "fashion-mnist", f"split0/{name}", iters=10)
    return runs


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_the_command_on_a_tiny_study(sim_runs, fm_data, tmp_path, capsys) -> None:
    out = tmp_path / "similarity"
    argv = ["similarity", str(sim_runs), "--data", str(fm_data), "--out", str(out),
            "--images", "60", "--bootstrap", "20"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        "claims.csv", "findings.md", "similarity.csv", "similarity.pdf", "similarity.png"]
    claims = _rows(out / "claims.csv")
    assert [(r["claim"], r["kernel"]) for r in claims] == [
        (str(c), k) for c in (1, 2, 3) for k in KERNELS]
    assert {r["verdict"] for r in claims} <= {REPRODUCED, NOT_REPRODUCED, WITHIN_NOISE, NO_DATA}
    assert [r["verdict"] for r in claims if r["claim"] == "2"] == [NO_DATA] * 2  # n = 1 only
    assert all(r["verdict"] != NO_DATA for r in claims if r["claim"] != "2")
    rows = _rows(out / "similarity.csv")
    pairs = {(r["first"], r["second"]) for r in rows}
    assert pairs == {("baseA", "baseB"), ("baseB", "baseB-seed1"), ("baseB", "baseB-seed2"),
                     ("baseB", "A1B"), ("A1B+", "B1B+"), ("baseA", "A1B+")}
    assert len(rows) == len(pairs) * len(LEARNABLE) * len(KERNELS)
    for r in rows:
        assert float(r["cka_lo"]) <= float(r["cka_hi"]) and -1e-9 <= float(r["cka"]) <= 1 + 1e-9
        assert r["images"] == "60" and r["bootstrap"] == "20"
    # a value recomputed here from the nets' features files, as plain CKA of their activations
    features = sim_runs / "similarity" / "fashion-mnist" / "split0"
    x, labels_a, attrs = load(features / "baseA" / "fc6_valid.h5")
    y, labels_b, _ = load(features / "baseB" / "fc6_valid.h5")
    assert len(x) == 60 and attrs["pool"] == 0 and (labels_a == labels_b).all()
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    by_hand = (np.linalg.norm(yc.T @ xc) ** 2
               / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc)))
    row = next(r for r in rows if (r["first"], r["second"], r["layer"], r["kernel"])
               == ("baseA", "baseB", "fc6", "linear"))
    assert float(row["cka"]) == pytest.approx(by_hand, rel=1e-4)
    findings = (out / "findings.md").read_text()
    assert "Made by `make similarity`" in findings and "commit " in findings
    assert str(sim_runs) not in findings and str(fm_data) not in findings
    assert "-> no data" in printed and "wrote" in printed
    # the report shows the claims where the folder has this dataset's
    page = tmp_path / "report.html"
    assert main(["report", str(sim_runs), "--data", str(fm_data), "--out", str(page),
                 "--similarity", str(out)]) == 0
    assert "id='similarity'" in page.read_text()
    assert main(["report", str(sim_runs), "--data", str(fm_data), "--out", str(page)]) == 0
    assert "id='similarity'" not in page.read_text()


@pytest.mark.parametrize("remove,message", [
    (TRAINED, "has a finished baseA and baseB: train them first"),
    (("baseB-seed1", "baseB-seed2"), "there is no seed floor; `make noise` trains them"),
])
def test_missing_nets_are_one_line(remove, message, sim_runs, fm_data, tmp_path, capsys) -> None:
    runs = tmp_path / "runs"
    split = runs / "fashion-mnist" / "split0"
    split.mkdir(parents=True)
    for name in set(TRAINED) - set(remove):
        (split / name).symlink_to(sim_runs / "fashion-mnist" / "split0" / name)
    out = tmp_path / "out"
    assert main(["similarity", str(runs), "--data", str(fm_data), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_bad_arguments_are_one_line(tmp_path, capsys) -> None:
    assert main(["similarity", str(tmp_path), "--out", str(tmp_path / "o"), "--images", "2"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "transferability similarity: error: --images must be at least 4, not 2"]


def test_make_similarity_trains_split_0s_nets_then_measures(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    proc = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(REPO_ROOT),
                           "similarity", f"RUNS={tmp_path}", "ITERS=5"],
                          capture_output=True, text=True, env=env, check=True)
    sub = next(line for line in proc.stdout.splitlines() if "fashion-mnist/split0/baseA" in line)
    nets = {word.removeprefix("fashion-mnist/split0/") for word in sub.split()
            if word.startswith("fashion-mnist/")}
    assert nets == ({"baseA", "baseB", "baseB-seed1", "baseB-seed2"}
                    | {f"{x}{n}B{p}" for n in NS for x, p in (("A", ""), ("A", "+"), ("B", "+"))})
    assert f"similarity {tmp_path}" in proc.stdout
    assert f"--out {tmp_path}/similarity-results/fashion-mnist" in proc.stdout


def test_a_similarity_folder_that_cannot_be_written_is_one_line(tmp_path) -> None:
    assert_refused_unwritable(tmp_path, "SIMILARITY_OUT", "similarity")


def test_several_splits_pool_replicate_by_replicate() -> None:
    """A pair two splits have is their mean, replicate by replicate; one split's pair its own."""
    from transferability.factors.similarity_report import table_rows

    m = _measured([0.9] * 8, None)
    m.groups, m.images = ["split0", "split1"], {"split0": 40, "split1": 30}
    for layer in LEARNABLE:
        m.cka[("split1", "linear", "baseA-baseB", "baseA", "baseB", layer)] = _replicates(0.5)
    assert np.allclose(m.pooled("linear", "baseA-baseB", "baseA", "baseB", "fc6"),
                       (_replicates(0.9) + _replicates(0.5)) / 2)
    assert m.floor("linear", "fc6")[0] == pytest.approx(0.8)  # split 0's seeds alone
    rows = [r for r in table_rows(m) if r["kernel"] == "linear" and r["layer"] == "fc6"]
    pair = [r for r in rows if r["pair"] == "baseA-baseB"]
    assert [(r["splits"], r["images"]) for r in pair] == [
        ("split0", 40), ("split1", 30), ("mean of split0 split1", 70)]
    assert pair[-1]["cka"] == pytest.approx(0.7)
    assert [r["splits"] for r in rows if r["pair"] == "seed floor"] == ["split0", "split0"]
