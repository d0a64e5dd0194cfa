"""build_lmdb.py against Caffe's convert_imageset on the same generated JPEGs, end to end.

Both are timed as whole commands (process start included), alternately, several rounds; the
median of each is reported, and the two databases are checked to hold the same records.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import lmdb
import numpy as np
from google.protobuf import text_format

from transferability.caffe_env import caffe_tool
from transferability.caffe_io import caffe_pb2, decode_datum
from transferability.data.lists import write_list
from transferability.data.lmdb_io import entry_count
from transferability.data.synthetic import write_jpegs
from transferability.errors import UserError
from transferability.plan.datasets import IMAGENET

SCRIPT = Path(__file__).resolve().parents[3] / "data_prep" / "build_lmdb.py"


@dataclass
class BenchResult:
    images: int
    caffe_s: float
    ours_s: float
    workers: int
    max_pixel_diff: int
    caffe_cpu_s: float = 0.0
    ours_cpu_s: float = 0.0

    @property
    def ratio(self) -> float:
        return self.caffe_s / self.ours_s

    def lines(self) -> list[str]:
        n = self.images
        return [
            f"convert_imageset:           {n} images in {self.caffe_s:.2f} s "
            f"({n / self.caffe_s:.0f} images/s; CPU {1000 * self.caffe_cpu_s / n:.2f} ms/image)",
            f"build_lmdb.py --workers {self.workers}: {n} images in {self.ours_s:.2f} s "
            f"({n / self.ours_s:.0f} images/s; CPU {1000 * self.ours_cpu_s / n:.2f} ms/image)",
            f"ratio: {self.ratio:.2f}x (median of each; largest pixel difference "
            f"{self.max_pixel_diff})",
        ]


def _timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, all threads) of one command."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", GLOG_minloglevel="2")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise UserError(f"{Path(command[0]).name} failed: {proc.stderr.strip()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def largest_difference(db_a: Path, db_b: Path) -> int:
    """Largest pixel difference between two LMDBs that must hold the same keys and labels."""
    worst = 0
    with lmdb.open(str(db_a), readonly=True, lock=False) as env_a, \
            lmdb.open(str(db_b), readonly=True, lock=False) as env_b:
        rows_a = list(env_a.begin().cursor())
        rows_b = list(env_b.begin().cursor())
    if [k for k, _ in rows_a] != [k for k, _ in rows_b]:
        raise UserError(f"'{db_a}' and '{db_b}' hold different keys")
    for (_, a), (_, b) in zip(rows_a, rows_b, strict=True):
        da, db = decode_datum(a), decode_datum(b)
        if (da.label, da.channels, da.height, da.width) != (db.label, db.channels, db.height,
                                                            db.width):
            raise UserError("the two databases differ in a label or a shape")
        diff = np.abs(np.frombuffer(da.data, np.uint8).astype(np.int16)
                      - np.frombuffer(db.data, np.uint8))
        worst = max(worst, int(diff.max(initial=0)))
    return worst


def run_bench(folder: Path, images: int = 1000, rounds: int = 3, workers: int = 2,
              resize: int = 256) -> BenchResult:
    names = write_jpegs(folder / "img", images)
    write_list(folder / "list.txt", [(name, i % 1000) for i, name in enumerate(names)])
    db_c, db_p = folder / "convert_imageset_db", folder / "build_lmdb_db"
    caffe = [str(caffe_tool("convert_imageset")), f"--resize_height={resize}",
             f"--resize_width={resize}", f"{folder / 'img'}/", str(folder / "list.txt"), str(db_c)]
    ours = [sys.executable, str(SCRIPT), str(folder / "img"), str(folder / "list.txt"), str(db_p),
            f"--resize={resize}", f"--workers={workers}", "--quiet"]
    caffe_runs, ours_runs = [], []
    for _ in range(rounds):
        shutil.rmtree(db_c, ignore_errors=True)
        caffe_runs.append(_timed(caffe))
        shutil.rmtree(db_p, ignore_errors=True)
        ours_runs.append(_timed(ours))
    caffe_s, caffe_cpu = (statistics.median(x) for x in zip(*caffe_runs, strict=True))
    ours_s, ours_cpu = (statistics.median(x) for x in zip(*ours_runs, strict=True))
    return BenchResult(images, caffe_s, ours_s, workers, largest_difference(db_c, db_p),
                       caffe_cpu, ours_cpu)


# --- raw against encoded records (make data ENCODED=1) -----------------------------------------
DATA_LAYER_BATCH = 256  # the paper's training batch, cropped and mirrored as in training


@dataclass
class FormatResult:
    name: str
    images: int
    record_bytes: float
    build_s: float
    peak_rss_kb: int
    layer_ms: float  # caffe time: one batch out of the Data layer

    def line(self) -> str:
        rate, rss = self.images / self.build_s, self.peak_rss_kb / 1024
        return (f"{self.name:8s} {self.record_bytes:10,.0f} B a record; built at {rate:5.0f} "
                f"images/s (peak RSS {rss:.0f} MiB); Caffe's Data layer: "
                f"{DATA_LAYER_BATCH / self.layer_ms * 1000:5.0f} images/s "
                f"({self.layer_ms:.0f} ms a batch of {DATA_LAYER_BATCH})")


def _peak(command: list[str], env: dict | None = None) -> tuple[float, int]:
    """Wall seconds and peak resident set (kB) of one command, from its own rusage."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env={**os.environ, "OPENBLAS_NUM_THREADS": "1",
                                          **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise UserError(f"{Path(command[1]).name} failed: {proc.stderr.read().decode()[-500:]}")
    return elapsed, usage.ru_maxrss


def data_layer_ms(db: Path, mean: Path, folder: Path, iterations: int = 40) -> float:
    """`caffe time` of a net that is only the paper's TRAIN Data layer (and a Silence layer)."""
    net = caffe_pb2.NetParameter(name="data_only")
    data = net.layer.add(name="data", type="Data", top=["data", "label"])
    data.transform_param.mirror, data.transform_param.crop_size = True, IMAGENET.crop
    data.transform_param.mean_file = str(mean)
    data.data_param.source, data.data_param.batch_size = str(db), DATA_LAYER_BATCH
    data.data_param.backend = caffe_pb2.DataParameter.LMDB
    net.layer.add(name="silence", type="Silence", bottom=["data", "label"])
    path = folder / f"{db.name}.prototxt"
    path.write_text(text_format.MessageToString(net))
    proc = subprocess.run([str(caffe_tool("caffe")), "time", "-model", str(path),
                           "-iterations", str(iterations)], capture_output=True, text=True,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    found = re.search(r"Average Forward pass: ([\d.]+) ms", proc.stderr)
    if proc.returncode != 0 or not found:
        raise UserError(f"caffe time failed: {proc.stderr.strip()[-500:]}")
    return float(found[1])


def run_format_bench(folder: Path, images: int = 2000, workers: int = 2) -> list[FormatResult]:
    """Raw and encoded builds of the same generated 500x375 JPEGs at 256x256, each read back
    by Caffe's Data layer; and the raw build again with one mapping for the whole LMDB (the
    builder's resident memory before REOPEN_BYTES)."""
    names = write_jpegs(folder / "img", images)
    write_list(folder / "list.txt", [(name, i % 1000) for i, name in enumerate(names)])
    results = []
    for name, flags, env in (("raw", [], None), ("encoded", ["--encoded"], None),
                             ("raw, one mapping", [], {"LMDB_REOPEN_BYTES": str(1 << 50)})):
        db = folder / name.split(",")[0].replace(" ", "_")
        shutil.rmtree(db, ignore_errors=True)
        mean = folder / f"{db.name}.mean"
        seconds, rss = _peak([sys.executable, str(SCRIPT), str(folder / "img"),
                              str(folder / "list.txt"), str(db), "--resize=256",
                              f"--workers={workers}", "--quiet", "--mean", str(mean), *flags], env)
        record = (db / "data.mdb").stat().st_size / entry_count(db)
        layer = data_layer_ms(db, mean, folder) if env is None else float("nan")
        results.append(FormatResult(name, images, record, seconds, rss, layer))
    return results
