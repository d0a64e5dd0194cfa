"""The progress line `make demo` shows: nets finished, where each running net is, time left."""

from __future__ import annotations

import io
from pathlib import Path

from transferability import plan
from transferability.plan.layout import run_dir
from transferability.training.progress import Rate, line, net_progress, watch

DATASET = "fashion-mnist"
CAFFE_LINE = "I1204 10:00:00.000000  1 solver.cpp:218] Iteration {}, loss = 0.5\n"


def _run_folder(runs: Path, net: plan.Net, max_iter: int, reached: int | None,
                finished: bool = False) -> None:
    folder = run_dir(runs, DATASET, net)
    folder.mkdir(parents=True)
    (folder / "solver.prototxt").write_text(f'net: "train_val.prototxt"\nmax_iter: {max_iter}\n')
    if reached is not None:
        (folder / "train.log").write_text("".join(CAFFE_LINE.format(i)
                                                  for i in range(0, reached + 1, 20)))
    if finished:
        (folder / "final.caffemodel").write_bytes(b"")


def test_the_line_counts_finished_nets_and_shows_the_running_ones(tmp_path: Path) -> None:
    base_a, base_b, a3b, b3b = (plan.find(f"split0/{k}") for k in ("baseA", "baseB", "A3B", "B3B"))
    _run_folder(tmp_path, base_a, 100, 100, finished=True)
    _run_folder(tmp_path, base_b, 100, 100, finished=True)
    _run_folder(tmp_path, a3b, 100, 40)
    rows = [net_progress(tmp_path, DATASET, net) for net in (base_a, base_b, a3b, b3b)]
    assert [row.done for row in rows] == [100, 100, 40, 0]
    assert rows[3].total is None
    text = line(rows, Rate(0.0, 200), now=10.0)
    # b3b has no folder yet: its iterations are taken to be the others' (100)
    assert text == ("2 of 4 nets finished; running: split0/A3B 40/100; 60% of the iterations; "
                    "time left: measuring")


def test_time_left_is_the_work_left_at_the_rate_measured_since_the_first_look() -> None:
    rate = Rate(start_time=0.0, start_done=100)
    assert rate.left(now=60.0, done=160, total=400) == 240.0  # 1 iteration a second
    assert rate.left(now=5.0, done=160, total=400) is None  # too soon to tell
    assert rate.left(now=60.0, done=100, total=400) is None  # nothing gained yet


def test_in_a_log_it_prints_lines_and_stops_when_all_are_finished(tmp_path: Path) -> None:
    net = plan.find("split0/baseA")
    _run_folder(tmp_path, net, 60, 60, finished=True)
    out = io.StringIO()
    watch(tmp_path, DATASET, [net], out=out, every=0.01)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].endswith("1 of 1 nets finished; 100% of the iterations; "
                                                 "time left: measuring")
