"""Benchmark: the CPU engine side by side, in one run: Debian's stock Caffe, the project's patched
Caffe and (where a Python with torch is given) PyTorch's training step of the same net, at one
thread and at all cores; per layer for the two Caffe builds; and the paper's ImageNet CaffeNet.

Caffe is timed by `caffe time` (forward and backward of the TRAIN net, no solver update); PyTorch by
a full SGD step with momentum and weight decay, so the comparison favours PyTorch. The engines
take turns, round after round, and each figure is the median over the rounds.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from google.protobuf import text_format

from transferability import plan
from transferability.caffe_env import REPO_ROOT, tool_environment
from transferability.caffe_io import encode_raw_datum, read_prototxt
from transferability.data.lmdb_io import LmdbWriter
from transferability.plan.layout import MEAN, TRAIN_LMDB, VAL_LMDB, generated_net

DEMO_NET = generated_net(REPO_ROOT, "fashion-mnist", plan.find("split0/baseB"))
CAFFENET = generated_net(REPO_ROOT, "imagenet", plan.find("split0/baseA"))
TORCH_PEER = Path(__file__).with_name("torch_peer.py")
_TOTAL = re.compile(r"Average Forward-Backward: ([\d.]+) ms")
_LAYER = re.compile(r"\]\s+(\S+)\s+(forward|backward): ([\d.]+) ms\.")


@dataclass
class Timing:
    """One engine at one thread count: forward+backward (or step) ms, per layer where known."""
    engine: str
    threads: int
    total_ms: list[float] = field(default_factory=list)
    layers_ms: dict[str, list[float]] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.total_ms)

    def layer_median(self, key: str) -> float:
        return statistics.median(self.layers_ms[key])


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


def bench_folder(folder: Path, net: Path, batch: int, shape: tuple[int, int, int],
                 caffe_home: Path) -> Path:
    """A folder with random images in an LMDB, their mean, and `net` at this batch size."""
    spec = read_prototxt(net)
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


def engine_environment(engine: str, threads: int) -> dict[str, str]:
    """Stock Caffe's only parallelism is OpenBLAS's; the patched one spreads its own layers over
    OpenMP threads and runs OpenBLAS on one, as the project's runs do."""
    if engine == "stock":
        return tool_environment(OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    return tool_environment(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS=str(threads))


def time_caffe(caffe_home: Path, engine: str, model: Path, iterations: int, threads: int,
               into: Timing) -> None:
    proc = subprocess.run([str(caffe_home / "bin/caffe"), "time", "-model", str(model),
                           "-iterations", str(iterations)],
                          cwd=model.parent, capture_output=True, text=True,
                          env=engine_environment(engine, threads))
    if proc.returncode != 0:
        raise RuntimeError(f"caffe time ({engine}) failed:\n{proc.stderr[-2000:]}")
    into.total_ms.append(float(_TOTAL.search(proc.stderr).group(1)))
    for name, direction, ms in _LAYER.findall(proc.stderr):
        into.layers_ms.setdefault(f"{name} {direction}", []).append(float(ms))


def torch_spec(model: Path, batch: int) -> dict:
    """The net of `model` as torch_peer.py reads it."""
    net = read_prototxt(model)
    layers: list[dict] = []
    shape: list[int] = []
    for layer in net.layer:
        if layer.type == "Data":
            crop = layer.transform_param.crop_size
            shape = [0, crop, crop]
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


def time_torch(python: str, spec_path: Path, iterations: int, threads: int, into: Timing) -> str:
    proc = subprocess.run([python, str(TORCH_PEER), str(spec_path), str(threads),
                           str(iterations)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the PyTorch peer failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    into.total_ms.append(result["step_ms"])
    return result["torch"]


def run(stock: Path, patched: Path, torch_python: str | None, iterations: int = 300,
        rounds: int = 3, caffenet_iterations: int = 3) -> str:
    """The benchmark's tables as markdown."""
    cores = os.cpu_count() or 1
    thread_counts = sorted({1, cores})
    homes = {"stock": stock, "patched": patched}
    demo: dict[tuple[str, int], Timing] = {}
    caffenet: dict[tuple[str, int], Timing] = {}
    torch_version = ""
    with tempfile.TemporaryDirectory() as tmp:
        demo_net = bench_folder(Path(tmp) / "demo", DEMO_NET, 64, (1, 28, 28), patched)
        big_net = bench_folder(Path(tmp) / "caffenet", CAFFENET, 32, (3, 256, 256), patched)
        spec = Path(tmp) / "spec.json"
        spec.write_text(json.dumps(torch_spec(demo_net, 64) | {"input": [1, 28, 28]}))
        for _ in range(rounds):
            for threads in thread_counts:
                for engine, home in homes.items():
                    time_caffe(home, engine, demo_net, iterations, threads,
                               demo.setdefault((engine, threads), Timing(engine, threads)))
                if torch_python:
                    torch_version = time_torch(
                        torch_python, spec, iterations, threads,
                        demo.setdefault(("pytorch", threads), Timing("pytorch", threads)))
        for threads in thread_counts:
            for engine, home in homes.items():
                time_caffe(home, engine, big_net, caffenet_iterations, threads,
                           caffenet.setdefault((engine, threads), Timing(engine, threads)))
    return report(demo, caffenet, thread_counts, torch_version, iterations, rounds)


def _label(threads: int) -> str:
    return f"{threads} thread{'s' if threads > 1 else ''}"


def _table(rows: list[tuple[str, list[str]]], columns: list[str]) -> list[str]:
    return (["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
            + [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows])


def report(demo: dict[tuple[str, int], Timing], caffenet: dict[tuple[str, int], Timing],
           thread_counts: list[int], torch_version: str, iterations: int, rounds: int) -> str:
    names = {"stock": "Caffe, stock", "patched": "Caffe, patched",
             "pytorch": f"PyTorch {torch_version} (full SGD step)"}
    engines = [e for e in names if (e, thread_counts[0]) in demo]
    lines = [f"Demo net (split0/baseB of fashion-mnist, batch 64), ms a batch, median of {rounds} "
             f"rounds of {iterations} iterations:", ""]
    lines += _table([(names[e], [f"{demo[e, t].median:.2f}" for t in thread_counts])
                     for e in engines], ["engine"] + [_label(t) for t in thread_counts])
    lines.append("")
    for t in thread_counts:
        patched = demo["patched", t].median
        speedup = demo["stock", t].median / patched
        text = f"- {_label(t)}: patched is {speedup:.2f}x faster than stock"
        if ("pytorch", t) in demo:
            text += f", and takes {patched / demo['pytorch', t].median:.2f}x PyTorch's step time"
        lines.append(text)
    lines += ["", "Per layer (ms, forward and backward), Caffe:", ""]
    lines += _table([(key, [f"{demo[e, t].layer_median(key):.3f}" for t in thread_counts
                            for e in ("stock", "patched")])
                     for key in demo["patched", thread_counts[0]].layers_ms],
                    ["layer"] + [f"{e} {t}t" for t in thread_counts for e in ("stock", "patched")])
    lines += ["", "ImageNet CaffeNet (split0/baseA, batch 32), forward+backward ms a batch:", ""]
    lines += _table([(names[e], [f"{caffenet[e, t].median:.0f}" for t in thread_counts])
                     for e in ("stock", "patched")],
                    ["engine"] + [_label(t) for t in thread_counts])
    return "\n".join(lines) + "\n"
