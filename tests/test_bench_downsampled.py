"""The arithmetic of ImageNet downsampled's time plan (bench/downsampled.py): Amdahl's law through
two measured points, and the list schedule of nets on P cores, bases before their transfers."""

from __future__ import annotations

import pytest

from transferability.bench.downsampled import amdahl, makespan


@pytest.mark.parametrize(("one", "two", "sixteen"), [
    (10.0, 5.0, 10 / 16),    # all of it parallel
    (10.0, 7.5, 10 * (0.5 + 0.5 / 16)),
    (10.0, 10.0, 10.0),      # nothing parallel
    (10.0, 20.0, 10.0),      # slower at 2 threads (a loaded machine): no gain, not a loss
])
def test_amdahl_through_one_and_two_threads(one: float, two: float, sixteen: float) -> None:
    assert amdahl(one, two, 16) == pytest.approx(sixteen)


def test_a_transfer_waits_for_its_base_and_the_longest_ready_net_goes_first() -> None:
    durations = {"baseA": 2.0, "whole": 1.0, "A1B": 3.0, "A2B": 0.5}
    needs = {"baseA": None, "whole": None, "A1B": "baseA", "A2B": "baseA"}
    assert makespan(durations, needs, 1) == 6.5  # everything in a row
    # core 0: baseA 0-2, then A2B 2-2.5; core 1: whole 0-1, then A1B from baseA's end, 2-5
    assert makespan(durations, needs, 2) == 5.0
    assert makespan(durations, needs, 64) == 5.0  # the critical path: baseA, then A1B
