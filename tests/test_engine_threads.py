"""The patched engine in the environment a user has outside make: with no thread variable set,
Caffe's layers spread over every core and libcaffe keeps OpenBLAS on one thread inside them, so
that all cores are not slower than one (OpenBLAS's own threads, as many as the cores, started
inside each of the layers' threads would fight them for the cores)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from transferability.bench.cpu import DEMO_NET, Timing, bench_folder, time_caffe
from transferability.caffe_env import caffe_home, threads_environment
from transferability.caffe_io import read_prototxt

# all cores may take this much longer than one before the test fails; threads that
# oversubscribe the cores took twice as long and more
MARGIN = 1.3
CORES = os.cpu_count() or 1


@pytest.mark.skipif(CORES < 2, reason="one core: all cores are one thread")
def test_all_cores_are_not_slower_than_one_with_no_thread_variables(tmp_path: Path) -> None:
    # Where other processes keep more threads runnable than there are cores, a thread of the
    # layers waits a time slice at every parallel region for its descheduled peer, so all cores
    # are slower than one whatever the configuration: nothing to learn about it then.
    if os.getloadavg()[0] > CORES:
        pytest.skip(f"the machine is busy (load {os.getloadavg()[0]:.1f} on {CORES} cores)")
    model = bench_folder(tmp_path, read_prototxt(DEMO_NET), 64, (1, 28, 28), caffe_home())
    every, one = Timing("patched", CORES), Timing("patched", 1)
    for _ in range(3):  # taking turns, so that a change in the machine's load hits both
        time_caffe(caffe_home(), model, 20, threads_environment(None), every)
        time_caffe(caffe_home(), model, 20, threads_environment(1), one)
    assert every.median <= MARGIN * one.median, (
        f"caffe time with no thread variables: {every.total_ms} ms a batch, slower than "
        f"OMP_NUM_THREADS=1's {one.total_ms}")
