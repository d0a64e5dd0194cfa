"""The time and disk plan of ImageNet downsampled (imagenet32, imagenet64), measured and projected.

Measured here: build_lmdb.py's images a second on generated 500 x 375 JPEGs (the data step's
decode, at 256 as full-size ImageNet and at each SIZE with --short-side), the bytes LMDB stores a
record, and `caffe time` of each kind of net (a base, and the frozen transfer of each n, whose
backward stops at layer n + 1) at 1 and 2 OpenMP threads, one OpenBLAS thread, as the Makefile
runs them. Projected, with the arithmetic printed: 16 threads by Amdahl's law through the 1- and
2-thread times; the 170 networks' total on P cores one net a core, bases before their transfers
(a list schedule, longest first); the disks of every LMDB make data writes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from transferability import plan
from transferability.bench.data import SCRIPT, _timed
from transferability.bench.frozen import _AVERAGE, _random_lmdb
from transferability.caffe_env import caffe_tool, tool_environment
from transferability.caffe_io import encode_raw_datum
from transferability.data.disk_plan import raw_record_bytes
from transferability.data.lists import write_list
from transferability.data.lmdb_io import LmdbWriter
from transferability.data.synthetic import write_jpegs
from transferability.nets import generate, solver
from transferability.plan import Net, layout
from transferability.plan.datasets import DOWNSAMPLED, Dataset

TRAIN_IMAGES, VALID_IMAGES = 1_281_167, 50_000  # ILSVRC-2012
FULL_SIZE = 256  # the full-size data step's records, for the side-by-side rate
DERIVE = Path(SCRIPT).with_name("derive_lmdb.py")


@dataclass(frozen=True)
class DataRate:
    size: int
    workers: int
    seconds: float
    cpu_seconds: float
    images: int

    @property
    def per_second(self) -> float:
        return self.images / self.seconds


def data_rates(folder: Path, images: int, workers: tuple[int, ...]) -> list[DataRate]:
    """build_lmdb.py over the same generated JPEGs at 256 (full size) and each SIZE."""
    names = write_jpegs(folder / "img", images)
    write_list(folder / "list.txt", [(name, i % 1000) for i, name in enumerate(names)])
    rates = []
    for size in (FULL_SIZE, *(d.image for d in DOWNSAMPLED)):
        for w in workers:
            db = folder / f"db{size}"
            shutil.rmtree(db, ignore_errors=True)
            cmd = [sys.executable, str(SCRIPT), str(folder / "img"), str(folder / "list.txt"),
                   str(db), f"--resize={size}", f"--workers={w}", "--quiet"]
            seconds, cpu = _timed(cmd + ([] if size == FULL_SIZE else ["--short-side"]))
            rates.append(DataRate(size, w, seconds, cpu, images))
    return rates


def derive_rate(folder: Path, record: Dataset, records: int = 20_000) -> float:
    """Records a second derive_lmdb.py copies out of a whole set of `records` raw records of the
    dataset's size into a half of them with its mean, as make data copies every half."""
    shape = (record.channels, record.image, record.image)
    entries = [(f"n{i % 1000:08d}/img_{i:06d}.JPEG", i % 1000) for i in range(records)]
    whole, half = folder / f"whole{record.image}.txt", folder / f"half{record.image}.txt"
    write_list(whole, entries)
    write_list(half, entries[::2])
    pixels = bytes(range(256)) * (shape[0] * shape[1] * shape[2] // 256)
    with LmdbWriter(folder / f"whole{record.image}") as db:
        for n, (path, label) in enumerate(entries):
            db.put(f"{n:08d}_{path}".encode(), encode_raw_datum(pixels, label, *shape))
    seconds, _ = _timed([sys.executable, str(DERIVE), "--force", "--quiet", str(whole),
                         str(folder / f"whole{record.image}"), str(half),
                         str(folder / f"half{record.image}"), "--mean",
                         str(folder / f"mean{record.image}.binaryproto")])
    return len(entries[::2]) / seconds


def kinds() -> dict[str, Net]:
    """One net of each cost an iteration: a base (every layer learns, as fine-tuned transfers,
    whole, reduced), and the frozen transfer of each n (as randomN)."""
    return {"base": plan.find("split0/baseA"),
            **{f"frozen{n}": plan.find(f"split0/A{n}B") for n in range(1, plan.LAYERS + 1)}}


def kind_of(net: Net) -> str:
    return f"frozen{net.n}" if net.frozen and net.n else "base"


def caffe_times(record: Dataset, threads: int, iterations: int) -> dict[str, dict[str, float]]:
    """caffe time (ms an iteration, batch 64) of each kind of net at `threads` OpenMP threads."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        profile = generate.profile(record.name, kinds()["base"])
        shape = (record.channels, record.image, record.image)
        _random_lmdb(folder / layout.TRAIN_LMDB, profile.train_batch, shape)
        (folder / layout.VAL_LMDB).symlink_to(folder / layout.TRAIN_LMDB)
        subprocess.run([str(caffe_tool("compute_image_mean")), layout.TRAIN_LMDB, layout.MEAN],
                       cwd=folder, check=True, capture_output=True)
        for kind, net in kinds().items():
            model = folder / f"{kind}.prototxt"
            model.write_text(generate.texts(record.name, net)[0])
            proc = subprocess.run(
                [str(caffe_tool("caffe")), "time", "-model", str(model), "-iterations",
                 str(iterations)], cwd=folder, capture_output=True, text=True, check=True,
                env=tool_environment(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1"))
            out[kind] = {k: float(ms) for k, ms in _AVERAGE.findall(proc.stderr)}
    return out


def amdahl(one: float, two: float, threads: int) -> float:
    """The time at `threads` by Amdahl's law through the times at 1 and 2 threads."""
    parallel = min(1.0, max(0.0, 2 * (1 - two / one)))
    return one * ((1 - parallel) + parallel / threads)


def net_hours(record: Dataset, net: Net, ms: dict[str, dict[str, float]]) -> float:
    """A net's training time: its iterations at its kind's forward-backward, and its tests (one
    pass over its validation set every test_interval) at the base's forward."""
    schedule = solver.schedule_for(record.name, net)
    test_iter = generate.solver_param(record.name, net).test_iter[0]
    profile = generate.profile(record.name, net)
    forward = ms["base"]["Forward"] * profile.val_batch / profile.train_batch
    tests = schedule.max_iter // schedule.test_interval
    total = schedule.max_iter * ms[kind_of(net)]["Forward-Backward"] + tests * test_iter * forward
    return total / 3.6e6


def makespan(durations: dict[str, float], needs: dict[str, str | None], cores: int) -> float:
    """Hours until every net is done, one net a core, a transfer only after its base, the
    longest ready net first."""
    free = [0.0] * cores
    done: dict[str, float] = {}
    waiting = sorted(durations, key=lambda k: (needs[k] is not None, -durations[k]))
    while waiting:
        ready = [k for k in waiting if needs[k] is None or needs[k] in done]
        key = min(ready, key=lambda k: (done.get(needs[k], 0.0) if needs[k] else 0.0,
                                        -durations[k]))
        core = min(range(cores), key=free.__getitem__)
        start = max(free[core], done.get(needs[key], 0.0) if needs[key] else 0.0)
        done[key] = free[core] = start + durations[key]
        waiting.remove(key)
    return max(done.values())


def paper_durations(record: Dataset, ms: dict[str, dict[str, float]]
                    ) -> tuple[dict[str, float], dict[str, str | None]]:
    nets = plan.paper_nets()
    return ({n.key: net_hours(record, n, ms) for n in nets},
            {n.key: n.source_key for n in nets})


def lmdb_bytes(record: Dataset) -> dict[str, float]:
    """Bytes of the LMDBs make data writes (ILSVRC-2012's counts; reduced N at most 1000 N)."""
    per = raw_record_bytes(record.image, record.channels)
    halves = len(plan.HALF_SETS) // 2 * (TRAIN_IMAGES + VALID_IMAGES)
    reduced = sum(1000 * n for n in plan.REDUCED_PER_CLASS if n < 1300)
    return {"record": per, "whole": per * (TRAIN_IMAGES + VALID_IMAGES), "halves": per * halves,
            "reduced": per * reduced,
            "all": per * (TRAIN_IMAGES + VALID_IMAGES + halves + reduced)}
