"""`transferability bench-downsampled`: the time and disk plan of ImageNet at 32 and 64 pixels."""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from datetime import date
from pathlib import Path

from transferability import plan
from transferability.bench import downsampled as bench
from transferability.disk import human
from transferability.plan.datasets import DOWNSAMPLED

CORES = (2, 16, 64)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench-downsampled",
                              help="the time and disk plan of ImageNet at 32 and 64 pixels")
    p.add_argument("--images", type=int, default=1000, help="generated 500x375 JPEGs (1000)")
    p.add_argument("--iterations", type=int, default=20, help="caffe time iterations (20)")
    p.set_defaults(func=run)


def _data(images: int) -> dict[int, float]:
    print(f"data step: build_lmdb.py on {images} generated 500x375 JPEGs")
    rates: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-downsampled-") as tmp:
        for r in bench.data_rates(Path(tmp), images, (1, 2)):
            print(f"  {r.size:>3} px, {r.workers} worker(s): {r.per_second:6.0f} images/s "
                  f"(CPU {1000 * r.cpu_seconds / r.images:.2f} ms/image)")
            rates[r.size] = max(rates.get(r.size, 0.0), r.per_second)
        for record in DOWNSAMPLED:
            copy = bench.derive_rate(Path(tmp), record)
            print(f"  derive_lmdb.py at {record.image} px: {copy:.0f} records/s copied")
            rates[-record.image] = copy
    return rates


def _plan(record, rates: dict[int, float], iterations: int) -> None:
    name = record.name
    one, two = (bench.caffe_times(record, t, iterations) for t in (1, 2))
    print(f"\n{name}: caffe time, batch 64, ms an iteration (forward-backward; forward)")
    for kind in one:
        t16 = bench.amdahl(one[kind]["Forward-Backward"], two[kind]["Forward-Backward"], 16)
        a, b = one[kind], two[kind]
        print(f"  {kind:8s} 1 thread {a['Forward-Backward']:7.2f} ({a['Forward']:.2f})  "
              f"2 threads {b['Forward-Backward']:7.2f} ({b['Forward']:.2f})  "
              f"16 threads, projected {t16:7.2f}")
    durations, needs = bench.paper_durations(record, one)
    base, a5b = durations["split0/baseA"], durations["split0/A5B"]
    total = sum(durations.values())
    print(f"  one net, 1 thread: baseA {base:.1f} h, A5B {a5b:.1f} h; the 170 nets "
          f"{total:.0f} core-hours")
    durations2, _ = bench.paper_durations(record, two)
    print(f"  one net, 2 threads: baseA {durations2['split0/baseA']:.1f} h, "
          f"A5B {durations2['split0/A5B']:.1f} h")
    for cores in CORES:
        hours = bench.makespan(durations, needs, cores)
        print(f"  the 170 nets on {cores} cores, one net a core: {hours:.0f} h = {hours / 24:.1f} "
              f"days (total / cores = {total / cores:.0f} h)")
    longest = max(durations[k] for k in durations if needs[k] is None)
    after = max(durations[k] + durations[needs[k]] for k in durations if needs[k])
    print(f"  Slurm, a core for every net at once: the longest base then its longest transfer, "
          f"{max(longest, after):.1f} h")
    space = bench.lmdb_bytes(record)
    decode = (bench.TRAIN_IMAGES + bench.VALID_IMAGES) / rates[record.image]
    copies = (space["halves"] + space["reduced"]) / space["record"] / rates[-record.image]
    print(f"  data: a record {space['record']:.0f} B on disk; whole sets "
          f"{human(space['whole'])}, the ten halves {human(space['halves'])}, reduced sets at "
          f"most {human(space['reduced'])}: all {human(space['all'])}; decoding "
          f"{bench.TRAIN_IMAGES + bench.VALID_IMAGES:,} images at {rates[record.image]:.0f}/s "
          f"{decode / 3600:.1f} h, copying the halves and reductions {copies / 3600:.1f} h")


def run(args: argparse.Namespace) -> int:
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, {date.today()}, load average "
          f"{os.getloadavg()[0]:.1f} at the start; {len(plan.paper_nets())} paper nets")
    rates = _data(args.images)
    for record in DOWNSAMPLED:
        _plan(record, rates, args.iterations)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0
