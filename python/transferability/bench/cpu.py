"""Benchmark: the CPU engine side by side, in one run: Debian's stock Caffe, the project's patched
Caffe and (where a Python with torch is given) PyTorch's training step of the same net, at one
thread and at all cores, on three nets: the demo's (28 x 28 grey, batch 64), the net fitted to a
user's 64 x 64 colour images (batch 64) and the paper's ImageNet CaffeNet (227 crop, batch 256).
Beside each time, the run's peak resident memory; the patched CaffeNet's memory also at 16
threads, which must not grow with the thread count.

Caffe is timed by `caffe time` (forward and backward of the TRAIN net, no solver update); PyTorch by
a full SGD step with momentum and weight decay, so the comparison favours PyTorch. Each Caffe runs
in the environment a user has outside make: at all cores no thread variable at all, at one thread
OMP_NUM_THREADS=1 (and OPENBLAS_NUM_THREADS=1 for the stock build, whose only threads are
OpenBLAS's). The engines take turns, round after round, and each figure is the median over the
rounds.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from google.protobuf import text_format

from transferability import plan
from transferability.caffe_env import REPO_ROOT, threads_environment
from transferability.caffe_io import caffe_pb2, encode_raw_datum, read_prototxt
from transferability.data.lmdb_io import LmdbWriter
from transferability.nets import caffenet
from transferability.plan.datasets import DATASETS, Images
from transferability.plan.layout import MEAN, TRAIN_LMDB, VAL_LMDB, generated_net

DEMO_NET = generated_net(REPO_ROOT, "fashion-mnist", plan.find("split0/baseB"))
CAFFENET = generated_net(REPO_ROOT, "imagenet", plan.find("split0/baseA"))
TORCH_PEER = Path(__file__).with_name("torch_peer.py")
MEMORY_THREADS = (2, 16)  # the patched CaffeNet's peak memory at these thread counts
_TOTAL = re.compile(r"Average Forward-Backward: ([\d.]+) ms")
_LAYER = re.compile(r"\]\s+(\S+)\s+(forward|backward): ([\d.]+) ms\.")


@dataclass(frozen=True)
class BenchNet:
    """One net of the benchmark: its train_val, batch, stored image shape and how long to time."""
    title: str
    spec: caffe_pb2.NetParameter
    batch: int
    shape: tuple[int, int, int]
    iterations: int
    rounds: int


@dataclass
class Timing:
    """One engine at one thread count: forward+backward (or step) ms, per layer where known, and
    each run's peak resident memory in MiB."""
    engine: str
    threads: int
    total_ms: list[float] = field(default_factory=list)
    layers_ms: dict[str, list[float]] = field(default_factory=dict)
    peak_mib: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.total_ms)

    @property
    def peak(self) -> float:
        return max(self.peak_mib)

    def layer_median(self, key: str) -> float:
        return statistics.median(self.layers_ms[key])


def colour_net() -> caffe_pb2.NetParameter:
    """The net a user's own 64 x 64 colour images of 8 classes get (`make data IMAGES=..`, SIZE 64,
    WIDTH 1): the scaled CaffeNet fitted to their size (conv1 11x11 stride 5, no pool5)."""
    images = Images(root="", halves_file="", class_names=tuple(f"c{i}" for i in range(8)),
                    train=(300,) * 8, valid=(75,) * 8, halves=(), width=1.0, epochs=16.0,
                    statements=())
    record = replace(DATASETS["fashion-mnist"], name="colour64", classes=8, image=64, crop=64,
                     channels=3, profile=caffenet.FITTED, images=images)
    return caffenet.train_val(caffenet.for_images(record), "colour64")


def bench_nets(iterations: int, rounds: int, caffenet_iterations: int) -> list[BenchNet]:
    return [
        BenchNet("demo net (split0/baseB of fashion-mnist, 28x28 grey, batch 64)",
                 read_prototxt(DEMO_NET), 64, (1, 28, 28), iterations, rounds),
        BenchNet("own 64x64 colour images, 8 classes (the fitted net, batch 64)",
                 colour_net(), 64, (3, 64, 64), max(1, iterations // 2), rounds),
        BenchNet("ImageNet CaffeNet (split0/baseA, 227 crop of 256, batch 256)",
                 read_prototxt(CAFFENET), 256, (3, 256, 256), caffenet_iterations, 1),
    ]


def classes_of(net) -> int:  # a caffe_pb2.NetParameter
    """The output count of the last InnerProduct layer: the classes the labels must lie below."""
    return [layer for layer in net.layer if layer.type == "InnerProduct"][-1] \
        .inner_product_param.num_output


def random_lmdb(path: Path, images: int, shape: tuple[int, int, int], classes: int) -> None:
    rng = np.random.default_rng(0)
    with LmdbWriter(path) as db:
        for i in range(images):
            pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
            db.put(f"{i:08d}".encode(), encode_raw_datum(pixels.tobytes(), i % classes, *shape))


def bench_folder(folder: Path, spec: caffe_pb2.NetParameter, batch: int,
                 shape: tuple[int, int, int], caffe_home: Path) -> Path:
    """A folder with random images in an LMDB, their mean, and the net at this batch size."""
    spec = caffe_pb2.NetParameter.FromString(spec.SerializeToString())
    folder.mkdir(parents=True, exist_ok=True)
    random_lmdb(folder / TRAIN_LMDB, batch, shape, classes_of(spec))
    (folder / VAL_LMDB).symlink_to(folder / TRAIN_LMDB)
    subprocess.run([str(caffe_home / "bin/compute_image_mean"), TRAIN_LMDB, MEAN],
                   cwd=folder, check=True, capture_output=True)
    for layer in spec.layer:
        if layer.type == "Data":
            layer.data_param.batch_size = batch
    path = folder / "net.prototxt"
    path.write_text(text_format.MessageToString(spec))
    return path


def engine_environment(engine: str, threads: int, cores: int) -> dict[str, str]:
    """What a user's shell has: at all cores no thread variable; at one thread OMP_NUM_THREADS=1,
    and for the stock build, whose only threads are OpenBLAS's, OPENBLAS_NUM_THREADS=1 too."""
    if threads == cores:
        return threads_environment(None)
    if engine == "stock":
        return threads_environment(threads, OPENBLAS_NUM_THREADS=str(threads))
    return threads_environment(threads)


def measured(command: list[str], env: dict[str, str], cwd: Path | None = None
             ) -> tuple[str, str, float]:
    """stdout, stderr and the peak resident memory (MiB) of one command, which must succeed."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} failed:\n{stderr[-2000:]}")
    return stdout, stderr, usage.ru_maxrss / 1024


def time_caffe(caffe_home: Path, model: Path, iterations: int, env: dict[str, str],
               into: Timing) -> None:
    _, log, peak = measured([str(caffe_home / "bin/caffe"), "time", "-model", str(model),
                             "-iterations", str(iterations)], env, cwd=model.parent)
    into.total_ms.append(float(_TOTAL.search(log).group(1)))
    into.peak_mib.append(peak)
    for name, direction, ms in _LAYER.findall(log):
        into.layers_ms.setdefault(f"{name} {direction}", []).append(float(ms))


def torch_spec(model: Path, batch: int, channels: int) -> dict:
    """The net of `model`, for images of `channels` channels, as torch_peer.py reads it."""
    net = read_prototxt(model)
    layers: list[dict] = []
    shape: list[int] = []
    for layer in net.layer:
        if layer.type == "Data":
            crop = layer.transform_param.crop_size
            shape = [channels, crop, crop]
        elif layer.type == "Convolution":
            p = layer.convolution_param
            layers.append(dict(type="Convolution", num_output=p.num_output,
                               kernel=p.kernel_size[0], stride=p.stride[0] if p.stride else 1,
                               pad=p.pad[0] if p.pad else 0, group=p.group))
        elif layer.type == "Pooling":
            p = layer.pooling_param
            layers.append(dict(type="Pooling", pool=p.PoolMethod.Name(p.pool),
                               kernel=p.kernel_size, stride=p.stride, pad=p.pad))
        elif layer.type == "LRN":
            p = layer.lrn_param
            layers.append(dict(type="LRN", local_size=p.local_size, alpha=p.alpha, beta=p.beta,
                               k=p.k))
        elif layer.type == "InnerProduct":
            layers.append(dict(type="InnerProduct",
                               num_output=layer.inner_product_param.num_output))
        elif layer.type == "Dropout":
            layers.append(dict(type="Dropout", ratio=layer.dropout_param.dropout_ratio))
        elif layer.type == "ReLU":
            layers.append(dict(type="ReLU"))
    return dict(batch=batch, input=shape, classes=classes_of(net), momentum=0.9,
                weight_decay=0.0005, layers=layers)


def time_torch(python: str, spec_path: Path, iterations: int, threads: int,
               into: Timing) -> str:
    stdout, _, peak = measured([python, str(TORCH_PEER), str(spec_path), str(threads),
                                str(iterations)], dict(os.environ))
    result = json.loads(stdout.strip().splitlines()[-1])
    into.total_ms.append(result["step_ms"])
    into.peak_mib.append(peak)
    return result["torch"]


Results = dict[tuple[str, int], Timing]


def bench_one(net: BenchNet, folder: Path, homes: dict[str, Path], torch_python: str | None,
              thread_counts: list[int], cores: int) -> tuple[Results, str]:
    model = bench_folder(folder, net.spec, net.batch, net.shape, homes["patched"])
    spec = folder / "spec.json"
    spec.write_text(json.dumps(torch_spec(model, net.batch, net.shape[0])))
    results: Results = {}
    version = ""
    for _ in range(net.rounds):
        for threads in thread_counts:
            for engine, home in homes.items():
                time_caffe(home, model, net.iterations,
                           engine_environment(engine, threads, cores),
                           results.setdefault((engine, threads), Timing(engine, threads)))
            if torch_python:
                version = time_torch(
                    torch_python, spec, net.iterations, threads,
                    results.setdefault(("pytorch", threads), Timing("pytorch", threads)))
    return results, version


def caffenet_memory(folder: Path, patched: Path) -> dict[int, float]:
    """The patched CaffeNet's peak memory (MiB) in one iteration at each of MEMORY_THREADS."""
    model = folder / "net.prototxt"
    peaks = {}
    for threads in MEMORY_THREADS:
        timing = Timing("patched", threads)
        time_caffe(patched, model, 1, threads_environment(threads), timing)
        peaks[threads] = timing.peak
    return peaks


def run(stock: Path, patched: Path, torch_python: str | None, iterations: int = 200,
        rounds: int = 3, caffenet_iterations: int = 2) -> str:
    """The benchmark's tables as markdown."""
    cores = os.cpu_count() or 1
    thread_counts = sorted({1, cores})
    homes = {"stock": stock, "patched": patched}
    nets = bench_nets(iterations, rounds, caffenet_iterations)
    results = []
    version = ""
    with tempfile.TemporaryDirectory() as tmp:
        for i, net in enumerate(nets):
            timings, version = bench_one(net, Path(tmp) / f"net{i}", homes, torch_python,
                                         thread_counts, cores)
            results.append(timings)
        memory = caffenet_memory(Path(tmp) / f"net{len(nets) - 1}", patched)
    return report(nets, results, memory, thread_counts, cores, version)


def _label(threads: int) -> str:
    return f"{threads} thread{'s' if threads > 1 else ''}"


def _table(rows: list[tuple[str, list[str]]], columns: list[str]) -> list[str]:
    return (["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
            + [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows])


def report(nets: list[BenchNet], results: list[Results], memory: dict[int, float],
           thread_counts: list[int], cores: int, torch_version: str) -> str:
    names = {"stock": "Caffe, stock", "patched": "Caffe, patched",
             "pytorch": f"PyTorch {torch_version} (full SGD step)"}
    lines = [f"ms a batch (median over the rounds) and peak resident memory (MiB) of the run; "
             f"\"/ PyTorch\": the time over PyTorch's at the same threads. All cores = {cores}, "
             "with no thread variable set.", ""]
    columns = ["net", "engine"]
    for t in thread_counts:
        columns += [f"{_label(t)} ms", "MiB", "/ PyTorch"]
    rows = []
    for net, timings in zip(nets, results, strict=True):
        for engine in names:
            if (engine, thread_counts[0]) not in timings:
                continue
            cells = [names[engine]]
            for t in thread_counts:
                timing = timings[engine, t]
                ratio = (f"{timing.median / timings['pytorch', t].median:.2f}"
                         if ("pytorch", t) in timings else "")
                cells += [f"{timing.median:.2f}", f"{timing.peak:.0f}", ratio]
            rows.append((f"{net.title}, {net.iterations} iterations x {net.rounds}", cells))
    lines += _table(rows, columns)
    lines += ["", "The patched CaffeNet's peak memory in one iteration, by OMP_NUM_THREADS "
              "(the column buffers must not grow with the threads):", ""]
    lines += _table([("MiB", [f"{memory[t]:.0f}" for t in MEMORY_THREADS])],
                    ["threads"] + [str(t) for t in MEMORY_THREADS])
    low, high = min(memory.values()), max(memory.values())
    lines += ["", f"- {MEMORY_THREADS[-1]} threads over {MEMORY_THREADS[0]}: "
              f"{high / low:.3f}x ({'within' if high <= 1.1 * low else 'beyond'} 10%)"]
    demo = results[0]
    lines += ["", f"Per layer of the {nets[0].title} (ms, forward and backward), Caffe:", ""]
    lines += _table([(key, [f"{demo[e, t].layer_median(key):.3f}" for t in thread_counts
                            for e in ("stock", "patched")])
                     for key in demo["patched", thread_counts[0]].layers_ms],
                    ["layer"] + [f"{e} {t}t" for t in thread_counts for e in ("stock", "patched")])
    return "\n".join(lines) + "\n"
