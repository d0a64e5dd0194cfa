"""results, the paper's reference data, Figure 2's treatments and compare."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from statistics import mean

import pytest

from tests.conftest import write_run
from transferability import plan
from transferability.cli import main
from transferability.results import compare, paper, treatments
from transferability.results.tables import COLUMNS, scan
from transferability.training.logparse import parse_log


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_results_table(tmp_path: Path, caffe_train_run: Path, capsys) -> None:
    runs = tmp_path / "runs"
    real = runs / "fashion-mnist/split0/baseB"
    real.mkdir(parents=True)
    shutil.copy(caffe_train_run / "train.log", real / "train.log")
    shutil.copy(caffe_train_run / "solver.prototxt", real / "solver.prototxt")
    write_run(runs, "fashion-mnist", "split0/A3B+", 0.5, done=True)
    write_run(runs, "fashion-mnist", "split0/B5B", 0.25, done=False, last=400)
    write_run(runs, "imagenet", "whole/random2", None, done=False)  # folder made, not started
    (runs / "imagenet/split9/baseA").mkdir(parents=True)  # not in the plan
    assert main(["results", str(runs), "--csv", str(tmp_path / "out.csv")]) == 0
    assert "skipped" in capsys.readouterr().err
    rows = _csv(tmp_path / "out.csv")
    assert tuple(rows[0]) == COLUMNS
    assert [(r["dataset"], r["group"], r["net"]) for r in rows] == [
        ("imagenet", "whole", "random2"), ("fashion-mnist", "split0", "baseB"),
        ("fashion-mnist", "split0", "A3B+"), ("fashion-mnist", "split0", "B5B")]
    by_net = {r["net"]: r for r in rows}
    log = parse_log(real / "train.log")
    assert float(by_net["baseB"]["top1_accuracy"]) == pytest.approx(log.final_accuracy)
    assert by_net["baseB"]["iterations"] == str(log.last_iteration)
    assert by_net["baseB"]["finished"] == "no"  # no final.caffemodel
    # the mean of the tests after the last lr change (TINY_SOLVER: at 20 of 30 iterations)
    last_step = [acc for it, acc, _ in log.tests if it > 20]
    assert float(by_net["baseB"]["top1_plotted"]) == pytest.approx(mean(last_step), rel=1e-5)
    assert (by_net["A3B+"]["source_half"], by_net["A3B+"]["target_half"]) == ("A", "B")
    assert (by_net["A3B+"]["n"], by_net["A3B+"]["layers"]) == ("3", "fine-tuned")
    assert by_net["A3B+"]["paper_name"] == "transfer-ft0A0B_1_3"
    assert (by_net["A3B+"]["top1_accuracy"], by_net["A3B+"]["finished"]) == ("0.5", "yes")
    assert (by_net["B5B"]["layers"], by_net["B5B"]["iterations"]) == ("frozen", "400")
    assert (by_net["A3B+"]["top1_plotted"], by_net["B5B"]["top1_plotted"]) == ("0.5", "")
    assert (by_net["random2"]["top1_accuracy"], by_net["random2"]["iterations"]) == ("", "0")


def test_results_errors(tmp_path: Path, capsys) -> None:
    assert main(["results", str(tmp_path / "missing")]) == 2
    assert "results: error:" in capsys.readouterr().err


def test_reference_data_maps_onto_the_plan() -> None:
    published = paper.published()
    assert len(published) == 148
    paper_keys = {net.key for net in plan.paper_nets()}
    assert set(published) <= paper_keys
    for key, pub in published.items():
        assert plan.paper_name(plan.find(key)) == pub.paper_name
        assert 0.0 < pub.accuracy < 1.0
        assert pub.iteration in (450000, 200000)
    assert published["split0/A3B"].paper_name == "transfer0A0B_1_3"
    # the netbase run's last test (its released log ends with lines of an earlier restart)
    netbase = published["whole/base"]
    assert (netbase.iteration, netbase.accuracy) == (450000, 0.575179)


def test_the_papers_replicates_are_its_splits_and_directions() -> None:
    acc = paper.accuracies()
    reps = treatments.units(acc, treatments.RANDOM_GROUPS)
    assert [(u.group, u.target) for u in reps] == [
        (f"split{s}", h) for s in "0123" for h in "AB"]
    assert [u.key("BnB", 3) for u in reps[:2]] == ["split0/A3A", "split0/B3B"]
    assert [u.key("AnB+", 3) for u in reps[:2]] == ["split0/B3A+", "split0/A3B+"]
    d = treatments.derived(acc, treatments.RANDOM_GROUPS, None)
    for n in range(1, plan.LAYERS + 1):
        # the authors' selffers are AnA: target A only, each less its own baseA
        drops = [acc[f"split{s}/baseA"] - acc[f"split{s}/A{n}A"] for s in "0123"]
        assert d["co-adaptation drop"][n].mean == pytest.approx(mean(drops))
        assert d["co-adaptation drop"][n].replicates == (4,)
        specific = [acc[f"split{s}/A{n}A"] - acc[f"split{s}/B{n}A"] for s in "0123"]
        assert d["specificity drop"][n].mean == pytest.approx(mean(specific))
    # fine-tuned transfers: A0B+ at every n, A1B+ at n = 2, 3, 4 (the released logs)
    assert [d["fine-tuning gain"][n].replicates for n in (1, 2)] == [(1,), (2,)]
    assert d["fine-tuning gain"][1].low is None  # one replicate and no seed noise


def test_compare(tmp_path: Path, capsys) -> None:
    runs = tmp_path / "runs"
    acc = paper.accuracies()
    for key in ("split0/baseA", "split0/A3A", "split0/A3B", "whole/random1"):
        write_run(runs, "imagenet", key, acc[key], done=True)
    write_run(runs, "imagenet", "split0/B2B", 0.5, done=False)  # the paper has no B2B
    out = tmp_path / "cmp.csv"
    assert main(["compare", str(runs), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Yosinski et al. 2014" in text
    assert "transfer0A0B_1_3" in text and "nolearn_1_1" in text
    rows = {r["network"]: r for r in _csv(out)}
    assert list(rows) == ["split0/baseA", "split0/B2B", "split0/A3A", "split0/A3B",
                          "whole/random1"]
    assert "difference" not in _csv(out)[0]
    a3a = rows["split0/A3A"]
    assert float(a3a["ours final"]) == pytest.approx(acc["split0/A3A"])
    assert float(a3a["paper final"]) == acc["split0/A3A"]
    assert float(a3a["paper plotted"]) == paper.published()["split0/A3A"].plotted
    # our ImageNet runs get the paper's rule: the mean of the 10 highest of the fixture's 9
    # tests after iteration 0, 3 at the accuracy and 6 at half of it
    assert float(a3a["ours plotted"]) == pytest.approx(2 / 3 * acc["split0/A3A"], rel=1e-5)
    assert float(a3a["ours less its base"]) == pytest.approx(
        2 / 3 * (acc["split0/A3A"] - acc["split0/baseA"]), abs=1e-6)
    plotted = paper.accuracies(paper.PLOTTED)
    assert float(a3a["paper less its base"]) == pytest.approx(plotted["split0/A3A"]
                                                              - plotted["split0/baseA"])
    assert rows["split0/A3B"]["ours less its base"] == ""  # no baseB run
    assert rows["split0/B2B"]["paper final"] == ""
    assert float(rows["split0/B2B"]["ours plotted"]) == pytest.approx((6 * 0.25 + 3 * 0.5) / 9)
    derived = _csv(tmp_path / "cmp_derived.csv")
    assert [r["n"] for r in derived] == [str(n) for n in range(1, 8)]
    assert all(r["co-adapt paper"] for r in derived)
    # split 0's half A is our one replicate: A3A against baseA, and no seed noise to size it
    assert [r["co-adapt ours"] != "" for r in derived] == [n == 3 for n in range(1, 8)]
    assert float(derived[2]["co-adapt ours"]) == pytest.approx(compare.points(
        2 / 3 * (acc["split0/baseA"] - acc["split0/A3A"])), abs=0.011)
    assert (derived[2]["co-adapt replicates"], derived[2]["co-adapt ours low"]) == ("1", "")
    found = _csv(tmp_path / "cmp_findings.csv")
    assert [r["verdict"] for r in found] == ["no data"] * 7
    assert len(_csv(tmp_path / "cmp_controls.csv")) == 3


def test_compare_lists_every_published_net(tmp_path: Path, capsys) -> None:
    (tmp_path / "runs").mkdir()
    assert main(["compare", str(tmp_path / "runs"), "--all"]) == 0
    text = capsys.readouterr().out
    assert all(pub.paper_name in text for pub in paper.published().values())


def test_scan_filters_by_dataset(tmp_path: Path) -> None:
    write_run(tmp_path, "imagenet", "split1/baseB", 0.6)
    write_run(tmp_path, "fashion-mnist", "split1/baseB", 0.8)
    runs, unknown = scan(tmp_path, "fashion-mnist")
    assert [(r.dataset, r.net.key, r.accuracy) for r in runs] == [
        ("fashion-mnist", "split1/baseB", 0.8)]
    assert unknown == []


def test_scan_knows_the_factor_sources_and_skips_what_is_no_dataset(tmp_path: Path) -> None:
    write_run(tmp_path, "fashion-mnist", "factors/w2-d9", 0.9)
    write_run(tmp_path, "fashion-mnist", "split0/bogus", 0.5)
    write_run(tmp_path, "fashion_mnist", "split0/baseB", 0.5)  # a mistyped dataset folder
    (tmp_path / "factors-grid" / "split0" / "baseA" / "half0B").mkdir(parents=True)  # features
    runs, unknown = scan(tmp_path)
    assert [(r.net.key, r.accuracy, r.row()["paper_name"]) for r in runs] == [
        ("factors/w2-d9", 0.9, "")]
    assert unknown == [tmp_path / "fashion-mnist" / "split0" / "bogus",
                       tmp_path / "fashion_mnist" / "split0" / "baseB"]
