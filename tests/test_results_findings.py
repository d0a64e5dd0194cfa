"""The findings' verdicts and the noise, on constructed accuracy tables."""

from __future__ import annotations

import pytest

from transferability.results import findings
from transferability.results.findings import NO_DATA, NOT_REPRODUCED, REPRODUCED, WITHIN_NOISE

LAYERS = range(1, 8)


def table(base: float = 0.85, seeds: tuple[float, ...] = (0.851, 0.849),
          anb=(0.85,) * 7, bnb=(0.85,) * 7, bnb_plus=(0.85,) * 7, anb_plus=(0.85,) * 7,
          natman: bool = True, random: bool = True) -> dict[str, float]:
    """split0's half-B nets (and optionally natman and whole/random) with the given accuracies."""
    acc = {"split0/baseB": base}
    acc |= {f"split0/baseB-seed{i}": v for i, v in enumerate(seeds, 1)}
    for n, a, b, bp, ap in zip(LAYERS, anb, bnb, bnb_plus, anb_plus, strict=True):
        acc |= {f"split0/A{n}B": a, f"split0/B{n}B": b, f"split0/B{n}B+": bp, f"split0/A{n}B+": ap}
    if natman:
        acc |= {"natman/baseA": 0.9, "natman/baseB": 0.8}
        acc |= {f"natman/A{n}B": 0.8 - (0.25 if n >= 6 else 0.0) for n in LAYERS}
        acc |= {f"natman/B{n}A": 0.9 - (0.25 if n >= 6 else 0.0) for n in LAYERS}
    if random:
        acc |= {"whole/base": 0.8} | {f"whole/random{n}": 0.5 for n in LAYERS}
    return acc


def verdicts(acc: dict[str, float]) -> list[str]:
    return [f.verdict for f in findings.findings(acc, findings.noise(acc))]


def test_noise_is_the_sample_spread_of_the_base_and_its_seeds() -> None:
    assert findings.noise(table(0.85, (0.86, 0.84))) == pytest.approx(0.01)
    assert findings.noise(table(0.85, (0.86,))) == pytest.approx(0.0070710678)
    assert findings.noise(table(0.85, ())) is None


@pytest.mark.parametrize("q, effect, spread, expected", [
    (0.05, True, 0.01, REPRODUCED),
    (-0.05, True, 0.01, NOT_REPRODUCED),
    (0.015, True, 0.01, WITHIN_NOISE),
    (-0.015, True, 0.01, WITHIN_NOISE),
    (0.009, False, 0.001, REPRODUCED),       # within the 1-point floor
    (0.015, False, 0.001, NOT_REPRODUCED),
    (0.015, False, 0.01, REPRODUCED),        # within 2 x noise, above the floor
    (None, True, 0.01, NO_DATA),
    (0.05, True, None, NO_DATA),
])
def test_verdict_rule(q, effect, spread, expected) -> None:
    assert findings.verdict(q, effect, spread) == expected


def test_the_papers_pattern_reproduces_every_finding() -> None:
    acc = table(anb=(0.85, 0.85, 0.84, 0.83, 0.80, 0.75, 0.70),
                bnb=(0.85, 0.85, 0.82, 0.81, 0.82, 0.85, 0.85), anb_plus=(0.86,) * 7)
    found = findings.findings(acc, findings.noise(acc))
    assert [f.verdict for f in found] == [REPRODUCED] * 7
    assert found[1].ours == pytest.approx(0.85 - (0.82 + 0.81 + 0.82) / 3)
    assert found[3].ours == pytest.approx((0.10 + 0.15) / 2)
    assert found[5].ours == pytest.approx(-0.125 + 0.25)
    # the same quantities from the paper's published accuracies, every one computable
    assert all(f.paper is not None for f in found)
    assert found[3].paper > 0.05 and found[5].paper > 0


def test_no_effects_are_within_noise_and_null_claims_hold() -> None:
    acc = table(seeds=(0.86, 0.84), natman=True, random=True)
    for key in [k for k in acc if k.startswith("whole/random")]:
        acc[key] = 0.8
    for key in [k for k in acc if k.startswith("natman/") and not k.startswith("natman/base")]:
        acc[key] = acc["natman/baseB"] if key.endswith("B") else acc["natman/baseA"]
    assert verdicts(acc) == [REPRODUCED, WITHIN_NOISE, REPRODUCED, WITHIN_NOISE,
                             WITHIN_NOISE, WITHIN_NOISE, WITHIN_NOISE]


def test_opposite_effects_are_not_reproduced() -> None:
    acc = table(anb=(0.80,) * 7, bnb_plus=(0.90,) * 7, anb_plus=(0.80,) * 7,
                bnb=(0.88,) * 7)
    got = verdicts(acc)
    assert got[0] == NOT_REPRODUCED   # AnB 5 points below baseB at n = 1, 2
    assert got[1] == NOT_REPRODUCED   # BnB above baseB
    assert got[2] == NOT_REPRODUCED   # BnB+ 5 points above baseB
    assert got[4] == NOT_REPRODUCED   # AnB+ below baseB


def test_missing_runs_and_missing_noise_give_no_data() -> None:
    acc = table(natman=False, random=False)
    got = verdicts(acc)
    assert got[5] == got[6] == NO_DATA and got[0] == REPRODUCED
    assert set(verdicts(table(seeds=()))) == {NO_DATA}


def test_convergence_controls() -> None:
    met = findings.controls(table(bnb=(0.855,) + (0.85,) * 6,
                                  bnb_plus=(0.85, 0.86, 0.864, 0.85, 0.85, 0.85, 0.85)))
    assert [c.met for c in met] == [True, True, True]
    assert met[0].value == pytest.approx(0.005) and met[2].value == pytest.approx(0.014)
    failed = findings.controls(table(bnb=(0.87,) * 7, bnb_plus=(0.85,) * 6 + (0.866,)))
    assert [c.met for c in failed] == [False, True, False]
    assert [c.met for c in findings.controls({})] == [None, None, None]


def test_relative_takes_each_net_from_its_own_target_halfs_base() -> None:
    acc = {"split0/baseA": 0.95, "split0/baseB": 0.84, "split0/baseB-seed1": 0.86,
           "split0/A3A": 0.90, "split0/A3B": 0.80, "split1/A3B": 0.5, "whole/base": 0.7}
    rel = findings.relative(acc)
    assert rel == pytest.approx({"split0/baseA": 0.0, "split0/baseB": -0.01,
                                 "split0/baseB-seed1": 0.01, "split0/A3A": -0.05,
                                 "split0/A3B": -0.05})
