"""What the GPU bundle carries besides Caffe: the nets gpu-check.sh trains and times, their data.

- `nets/<name>/`: a generated Fashion-MNIST split-0 net (baseA, and the frozen transfer A3B), its
  solver shortened to a few hundred iterations, a second solver that stops halfway (the resume
  check), and `data.txt`: the run-folder links, as layout.data_paths names them, to bundle paths;
  A3B also gets `frozen.txt`, the layers its init copies from baseA and must keep bit-identical;
- `nets/caffenet/`: the paper's ImageNet CaffeNet as generated, and the same net fed by a
  DummyData layer of constant images (no LMDB to carry, no filler cost inside the timed
  forward pass) at batch 256 and at a small batch for CPU runs of the check;
- `data/<set>/`: the first images of each set those nets read (an LMDB copied record by record),
  and the full set's mean image, the one the project's runs subtract.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf import text_format

from transferability import plan
from transferability.caffe_env import REPO_ROOT
from transferability.caffe_io import caffe_pb2, read_prototxt, read_solver
from transferability.data.lmdb_io import LmdbWriter, iter_values
from transferability.disk import copy_file, write_text
from transferability.errors import UserError
from transferability.nets.solver import shorten
from transferability.nets.transplant import learnable_layers
from transferability.plan import layout
from transferability.plan.datasets import IMAGENET

DATASET = "fashion-mnist"
BASE, TRANSFER = "split0/baseA", "split0/A3B"
CAFFENET = "whole/base"
TIME_BATCHES = (256, 8)  # the paper's batch; a small one for the check's CPU runs


def copy_first(source: Path, out: Path, count: int) -> int:
    """An LMDB of the first `count` records of `source` (keys renumbered %08d); how many."""
    n = 0
    with LmdbWriter(out, force=True) as db:
        for value in iter_values(source):
            if n == count:
                break
            db.put(f"{n:08d}".encode(), bytes(value))
            n += 1
    return n


def _bundle_data(net: plan.Net, data: Path, out: Path, images: dict[str, int]) -> dict[str, str]:
    """Copy the net's data into out/data; its run-folder links, as bundle-relative paths."""
    links = {}
    for link, source in layout.data_paths(data, DATASET, net).items():
        if not source.exists():
            raise UserError(f"{source} missing: make the Fashion-MNIST data first "
                            f"(make data DATASET={DATASET} SPLIT=0, or DATA=...)")
        target = out / "data" / source.relative_to(layout.data_root(data, DATASET))
        if link == layout.MEAN:
            if not target.exists():
                copy_file(source, target)
        elif not target.exists():
            part = "train" if link == layout.TRAIN_LMDB else "valid"
            got = copy_first(source, target, images[part])
            if got < images[part]:
                raise UserError(f"{source} has {got} images, fewer than the {images[part]} "
                                f"asked for")
        links[link] = str(target.relative_to(out))
    return links


def _test_batch(net) -> int:
    return next(layer.data_param.batch_size for layer in net.layer
                if layer.type == "Data" and any(r.phase == caffe_pb2.TEST for r in layer.include))


def _write_net(key: str, out: Path, data: Path, iters: int, images: dict[str, int]) -> None:
    net = plan.find(key)
    folder = out / "nets" / net.name
    train_val = read_prototxt(layout.generated_net(REPO_ROOT, DATASET, net))
    solver = shorten(read_solver(layout.generated_solver(REPO_ROOT, DATASET, net)), iters)
    # the whole (small) validation set at each test, once
    solver.test_iter[:] = [images["valid"] // _test_batch(train_val)]
    stop = caffe_pb2.SolverParameter()
    stop.CopyFrom(solver)
    stop.max_iter = iters // 2
    write_text(folder / layout.TRAIN_VAL, text_format.MessageToString(train_val))
    write_text(folder / layout.SOLVER, text_format.MessageToString(solver))
    write_text(folder / "solver-stop.prototxt", text_format.MessageToString(stop))
    links = _bundle_data(net, data, out, images)
    write_text(folder / "data.txt", "".join(f"{k} {v}\n" for k, v in links.items()))
    if net.source is not None:
        write_text(folder / "frozen.txt", " ".join(learnable_layers(train_val)[:net.n]) + "\n")


def timing_net(net, batch: int):
    """The net with its Data layers replaced by one DummyData layer of constant images and
    labels (TRAIN phase: `caffe time` builds that one)."""
    out = caffe_pb2.NetParameter(name=f"{net.name}-time-b{batch}")
    dummy = out.layer.add(name="data", type="DummyData", top=["data", "label"])
    crop, channels = IMAGENET.crop, IMAGENET.channels
    dummy.dummy_data_param.shape.add(dim=[batch, channels, crop, crop])
    dummy.dummy_data_param.shape.add(dim=[batch])
    for _ in range(2):
        dummy.dummy_data_param.data_filler.add(type="constant", value=0)
    for layer in net.layer:
        if layer.type != "Data":
            out.layer.add().CopyFrom(layer)
    return out


def _write_caffenet(out: Path) -> None:
    folder = out / "nets" / "caffenet"
    net = read_prototxt(layout.generated_net(REPO_ROOT, IMAGENET.name, plan.find(CAFFENET)))
    write_text(folder / layout.TRAIN_VAL, text_format.MessageToString(net))
    for batch in TIME_BATCHES:
        write_text(folder / f"time-b{batch}.prototxt",
                   text_format.MessageToString(timing_net(net, batch)))


def write_bundle_files(out: Path, data: Path, iters: int, train_images: int,
                       valid_images: int) -> list[str]:
    """Write nets/ and data/ into `out`; the nets written."""
    if iters < 2:
        raise UserError(f"--iters must be at least 2 (the resume check stops halfway), not {iters}")
    images = {"train": train_images, "valid": valid_images}
    for key in (BASE, TRANSFER):
        _write_net(key, Path(out), Path(data), iters, images)
    _write_caffenet(Path(out))
    return [BASE, TRANSFER, CAFFENET]
