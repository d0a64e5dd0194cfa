"""The replicates, their intervals and the verdicts, on constructed accuracy tables: the study's
selffers AnA alone, the demo's BnB alone, and both."""

from __future__ import annotations

from statistics import fmean, stdev

import pytest

from transferability.results import compare, findings, paper, treatments
from transferability.results.estimate import NO_DATA, NOT_REPRODUCED, REPRODUCED, WITHIN_NOISE
from transferability.results.findings import MET, NOT_MET

LAYERS = range(1, 8)
T95 = {3: 3.182446}  # Student's t(0.975, 3)
# the paper's pattern, each treatment less its base, per n = 1..7
PATTERN = {
    "AnB": (0.0, 0.0, -0.01, -0.02, -0.05, -0.10, -0.15),
    "BnB": (0.0, 0.0, -0.03, -0.04, -0.03, 0.0, 0.0),
    "BnB+": (0.001,) * 7,
    "AnB+": (0.02,) * 7,
}
BASES = {"A": 0.95, "B": 0.85}


def _jitter(i: int, name: str, n: int) -> float:
    """A spread of up to 2 tenths of a point, different for every net."""
    return 0.001 * ((3 * i + 7 * len(name) + n) % 5 - 2)


def table(splits: tuple[int, ...] = (0, 1, 2, 3), selffers: tuple[str, ...] = ("A",),
          fine_tuned_splits: tuple[int, ...] = (0, 1), seeds: tuple[float, ...] = (),
          pattern: dict[str, tuple[float, ...]] = PATTERN, natman: bool = True,
          random: bool = True) -> dict[str, float]:
    """Random splits' nets in both directions, selffers on the `selffers` target halves, the
    fine-tuned nets on `fine_tuned_splits`, split 0's baseB seed replicates (`seeds`, added to
    its accuracy), and optionally natman and whole/random."""
    acc: dict[str, float] = {}
    for i, s in enumerate(splits):
        for target, source in (("A", "B"), ("B", "A")):
            base = BASES[target] + 0.001 * i
            acc[f"split{s}/base{target}"] = base
            for n in LAYERS:
                for name in ("AnB", "BnB", "AnB+", "BnB+"):
                    if name.startswith("BnB") and target not in selffers:
                        continue
                    if name.endswith("+") and s not in fine_tuned_splits:
                        continue
                    src = target if name.startswith("BnB") else source
                    key = f"split{s}/{src}{n}{target}{'+' if name.endswith('+') else ''}"
                    acc[key] = base + pattern[name][n - 1] + _jitter(i, name + target, n)
    acc |= {f"split0/baseB-seed{k}": acc["split0/baseB"] + d for k, d in enumerate(seeds, 1)}
    if natman:
        acc |= {"natman/baseA": 0.9, "natman/baseB": 0.8}
        acc |= {f"natman/A{n}B": 0.8 - (0.25 if n >= 6 else 0.0) - 0.001 * n for n in LAYERS}
        acc |= {f"natman/B{n}A": 0.9 - (0.26 if n >= 6 else 0.0) for n in LAYERS}
    if random:
        acc |= {"whole/base": 0.8} | {f"whole/random{n}": 0.5 for n in LAYERS}
    return acc


def demo(seeds: tuple[float, ...] = (0.001, -0.001), **kw) -> dict[str, float]:
    """The demo's nets: split 0, target half B only (BnB selffers), baseA as the source."""
    acc = table(splits=(0,), selffers=("B",), fine_tuned_splits=(0,), seeds=seeds,
                natman=False, random=False, **kw)
    return {k: v for k, v in acc.items() if k.endswith("B") or k.endswith("B+")
            or "seed" in k or k == "split0/baseA"}


def analyse(acc: dict[str, float]) -> findings.Analysis:
    return findings.analyse(acc, paper.PLOTTED)


# --- the findings on the three kinds of table ----------------------------------------------------
def _by_number(analysis: findings.Analysis) -> dict[int, findings.Finding]:
    return {f.number: f for f in analysis.findings}


def test_the_studys_selffers_ana_count_against_their_own_base() -> None:
    acc = table(seeds=(0.001, -0.001))
    found = _by_number(analyse(acc))
    assert [found[i].ours.count for i in range(1, 8)] == [
        "8", "4", "2", "4", "4", "8 and 2", "8 and 1"]
    assert [f.verdict for f in found.values()] == [REPRODUCED] * 7
    # finding 2 on split s: baseA less the mean of AsA at n = 3, 4, 5
    per_split = [fmean(acc[f"split{s}/baseA"] - acc[f"split{s}/A{n}A"] for n in (3, 4, 5))
                 for s in "0123"]
    assert found[2].ours.mean == pytest.approx(fmean(per_split))
    assert found[2].ours.high - found[2].ours.mean == pytest.approx(
        T95[3] * stdev(per_split) / 2)
    assert found[2].ours.how == "t-interval over 4 replicates"
    controls = analyse(acc).controls
    assert [c.ours.count for c in controls] == ["4", "2", "2"]
    assert controls[0].ours.mean == pytest.approx(fmean(
        acc[f"split{s}/A1A"] - acc[f"split{s}/baseA"] for s in "0123"))


def test_the_demos_selffers_bnb_have_one_replicate_sized_by_the_seed_noise() -> None:
    acc = demo()
    analysis = analyse(acc)
    found = _by_number(analysis)
    assert [found[i].ours.count for i in range(1, 6)] == ["1"] * 5
    assert found[6].verdict == found[7].verdict == NO_DATA  # no natman, no whole/random
    assert [found[i].verdict for i in range(1, 6)] == [REPRODUCED] * 5
    base = fmean([acc["split0/baseB"], acc["split0/baseB-seed1"], acc["split0/baseB-seed2"]])
    assert found[2].ours.mean == pytest.approx(
        base - fmean(acc[f"split0/B{n}B"] for n in (3, 4, 5)))
    # three selffers at 1/3 and the base's three runs at -1/3: sum of squares 6/9
    assert found[2].ours.se == pytest.approx(analysis.noise.sd * (6 / 9) ** 0.5)
    assert found[2].ours.how.startswith("one replicate: the seed noise")
    assert [c.status for c in analysis.controls] == [MET] * 3
    without_seeds = analyse(demo(seeds=()))
    assert {f.verdict for f in without_seeds.findings} == {NO_DATA}
    assert without_seeds.findings[1].ours.mean == pytest.approx(found[2].ours.mean, abs=0.002)


def test_selffers_of_both_halves_pool() -> None:
    found = _by_number(analyse(table(selffers=("A", "B"), seeds=(0.001, -0.001))))
    assert [found[i].ours.count for i in (2, 3, 4)] == ["8", "4", "8"]
    assert found[2].verdict == REPRODUCED


def test_opposite_effects_are_not_reproduced_and_small_ones_within_noise() -> None:
    opposite = {"AnB": (-0.05,) * 5 + (0.0, 0.0), "BnB": (0.03,) * 7, "BnB+": (0.05,) * 7,
                "AnB+": (-0.05,) * 7}
    found = _by_number(analyse(table(pattern=opposite, seeds=(0.001, -0.001))))
    assert [found[i].verdict for i in range(1, 6)] == [NOT_REPRODUCED] * 5
    found = _by_number(analyse(demo(pattern=opposite)))  # one replicate, sized by the seeds
    assert [(found[i].ours.count, found[i].verdict) for i in range(1, 6)] == [
        ("1", NOT_REPRODUCED)] * 5
    flat = {name: (0.0,) * 7 for name in PATTERN}
    found = _by_number(analyse(table(pattern=flat, seeds=(0.001, -0.001))))
    assert found[1].verdict == found[3].verdict == REPRODUCED  # the no-effect claims hold
    assert [found[i].verdict for i in (2, 4, 5)] == [WITHIN_NOISE] * 3


def test_controls_met_not_met_and_within_noise() -> None:
    off = dict(PATTERN, **{"BnB+": (0.03,) * 7})
    assert [c.status for c in analyse(table(pattern=off)).controls] == [MET, NOT_MET, NOT_MET]
    noisy = demo(seeds=(0.01, -0.012))  # a wide seed noise: one replicate cannot tell
    assert [c.status for c in analyse(noisy).controls] == [WITHIN_NOISE] * 3
    assert [c.status for c in analyse({}).controls] == [NO_DATA] * 3


def test_the_papers_side_is_the_same_computation_on_its_nets() -> None:
    analysis = analyse(table())
    published = paper.accuracies(paper.PLOTTED)
    by_hand = fmean(fmean(published[f"split{s}/baseA"] - published[f"split{s}/A{n}A"]
                          for n in (3, 4, 5)) for s in "0123")
    assert analysis.findings[1].paper.mean == pytest.approx(by_hand)
    assert analysis.findings[1].paper.count == "4"
    final = findings.analyse(table(), paper.FINAL)
    assert final.findings[1].paper.mean != pytest.approx(by_hand, abs=1e-6)


def test_derived_rows_and_findings_are_one_computation() -> None:
    acc = table(seeds=(0.001, -0.001))
    analysis = analyse(acc)
    rows = compare.derived_rows(analysis)
    coadapt = [analysis.derived["co-adaptation drop"][n][0].mean for n in (3, 4, 5)]
    assert analysis.findings[1].ours.mean == pytest.approx(fmean(coadapt))
    assert [r["co-adapt ours"] for r in rows] == [
        compare.points(analysis.derived["co-adaptation drop"][n][0].mean) for n in LAYERS]
    assert all(r[f"{q} replicates"] == "4" for r in rows for q in ("co-adapt", "specificity"))
    assert {r["fine-tune replicates"] for r in rows} == {"4"}


def test_relative_takes_each_net_from_its_own_base() -> None:
    acc = {"split0/baseA": 0.95, "split0/baseB": 0.84, "split0/baseB-seed1": 0.86,
           "split0/A3A": 0.90, "split0/A3B": 0.80, "split1/A3B": 0.5, "whole/base": 0.7,
           "whole/random2": 0.4, "reduced/reduced0010": 0.3}
    got = {key: treatments.relative(acc, key) for key in acc}
    assert got == pytest.approx({
        "split0/baseA": 0.0, "split0/baseB": -0.01, "split0/baseB-seed1": 0.01,
        "split0/A3A": -0.05, "split0/A3B": -0.05, "split1/A3B": None, "whole/base": 0.0,
        "whole/random2": -0.3, "reduced/reduced0010": -0.4})
