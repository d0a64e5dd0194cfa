"""Off-the-shelf features: one layer's activations of a frozen net for every image of an LMDB.

The images go through the same transform as Caffe's TEST-phase Data layer (centre crop, the
source net's mean, its scale), then batched forward passes of pycaffe through the net cut after
the requested blobs. A blob's values are those Caffe's `extract_features` reads after a full
forward pass: in-place layers (ReLU, Dropout) that follow the layer are kept. Convolutional maps
can be max-pooled to a fixed g x g grid (Azizpour et al. 2014). Features and labels stream to
HDF5 in chunks, so sets of any size fit.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from transferability.caffe_env import caffe_tool, tool_environment
from transferability.caffe_io import (
    blob_shape,
    data_layer,
    datum_array,
    decode_datum,
    read_caffemodel,
    read_mean,
    read_prototxt,
)
from transferability.data.lmdb_io import entry_count, iter_values
from transferability.errors import UserError
from transferability.factors.feature_store import FeatureWriter
from transferability.nets.deploy import deploy, test_net
from transferability.training.logparse import last_error_line


@dataclass(frozen=True)
class Transform:
    """What Caffe's DataTransformer does to a Datum in the TEST phase (mirror is never applied)."""

    crop: int = 0
    scale: float = 1.0
    mean: np.ndarray | None = None        # (C, H, W) mean image, subtracted before the crop
    mean_values: tuple[float, ...] = ()   # or one value per channel (or one for all)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """float32 (C, crop, crop) input of one uint8 or float (C, H, W) image."""
        x = image.astype(np.float32)
        if self.mean is not None:
            if self.mean.shape != x.shape:
                raise UserError(f"the mean is {self.mean.shape}, the images {x.shape}")
            x = x - self.mean
        elif self.mean_values:
            x = x - np.asarray(self.mean_values, np.float32).reshape(-1, 1, 1)
        if self.crop:
            _, h, w = x.shape
            top, left = (h - self.crop) // 2, (w - self.crop) // 2
            x = x[:, top:top + self.crop, left:left + self.crop]
        return x * np.float32(self.scale)


# --- reading: the net's data layer, its mean, the LMDB ----------------------------------------
def _image_mean(path: Path) -> np.ndarray:
    """(C, H, W) float32 mean image of a .binaryproto written by compute_image_mean."""
    mean = read_mean(path)
    return mean.reshape(mean.shape[-3:] if mean.ndim >= 3 else (1, *mean.shape))


def transform_of(net, prototxt: Path, mean: Path | None) -> tuple[Transform, Path | None]:
    """The net's TEST transform; the mean from `mean`, else the one its data layer names."""
    layer = data_layer(net)
    tp = layer.transform_param if layer is not None else None
    if mean is None and tp is not None and tp.HasField("mean_file"):
        mean = Path(prototxt).parent / tp.mean_file
    return Transform(
        crop=tp.crop_size if tp is not None else 0,
        scale=tp.scale if tp is not None and tp.HasField("scale") else 1.0,
        mean=_image_mean(mean) if mean is not None else None,
        mean_values=tuple(tp.mean_value) if tp is not None and mean is None else (),
    ), mean


def resolve_lmdb(path: Path) -> Path:
    """An LMDB folder (data.mdb inside), or a dataset folder whose `lmdb/` is one."""
    path = Path(path)
    for candidate in (path, path / "lmdb"):
        if (candidate / "data.mdb").is_file():
            return candidate
    raise UserError(f"no LMDB at {path} (no data.mdb there or in {path / 'lmdb'})")


def chosen(count: int, limit: int | None) -> np.ndarray:
    """Indices of the records kept: all, or `limit` spread evenly over the set (class-sorted
    sets keep every class)."""
    if limit is None or limit >= count:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, max(limit, 1)).round().astype(np.int64))


def records(path: Path, keep: np.ndarray) -> Iterator[tuple[np.ndarray, int]]:
    """The kept records of the LMDB, in key order."""
    wanted = iter(keep.tolist())
    nxt = next(wanted, None)
    for i, value in enumerate(iter_values(path, readahead=False)):
        if i == nxt:
            datum = decode_datum(value)
            yield datum_array(datum), datum.label
            nxt = next(wanted, None)
            if nxt is None:
                return


# --- the net: cut after the requested blobs (nets/deploy.py), weights checked, pycaffe -------
def check_weights(model: Path, weights, net) -> None:
    """Every layer of the cut net with parameters is in the model with the same shapes."""
    by_name = {layer.name: layer for layer in weights.layer if layer.blobs}
    for name, params in net.params.items():
        if name not in by_name:
            raise UserError(f"{model} has no weights for layer {name}")
        got = [blob_shape(b) for b in by_name[name].blobs]
        need = [tuple(p.data.shape) for p in params]
        if got != need:
            raise UserError(f"shape mismatch in {name}: {model} has {got}, the net needs {need}")


def use_gpu(gpu: int | None) -> None:
    """CPU mode, or GPU `gpu` once `caffe device_query` shows that this Caffe can use it."""
    import caffe  # pycaffe's compiled module takes seconds to load: only for an extraction

    if gpu is None:
        caffe.set_mode_cpu()
        return
    proc = subprocess.run([str(caffe_tool("caffe")), "device_query", "-gpu", str(gpu)],
                          capture_output=True, text=True, env=tool_environment())
    if proc.returncode != 0:
        raise UserError(f"GPU {gpu} is not usable: "
                        f"{last_error_line(proc.stderr) or 'device_query failed'}")
    caffe.set_mode_gpu()
    caffe.set_device(gpu)


def load_net(model: Path, net, blobs: list[str], shape: tuple[int, ...]):
    """The pycaffe TEST net that computes `blobs` for a batch of `shape`, with model's weights."""

    weights = read_caffemodel(model)
    pynet = test_net(deploy(net, blobs, shape))
    check_weights(model, weights, pynet)
    pynet.copy_from(str(model))
    return pynet


# --- pooling and the forward pass ---------------------------------------------------------------
def grid_max_pool(maps: np.ndarray, grid: int) -> np.ndarray:
    """(N, C, H, W) -> (N, C, grid, grid): the max of each cell of a grid x grid partition."""
    _, _, h, w = maps.shape
    rows = [(i * h // grid, -(-(i + 1) * h // grid)) for i in range(grid)]
    cols = [(j * w // grid, -(-(j + 1) * w // grid)) for j in range(grid)]
    cells = [[maps[:, :, r0:r1, c0:c1].max(axis=(2, 3)) for c0, c1 in cols] for r0, r1 in rows]
    return np.stack([np.stack(row, axis=-1) for row in cells], axis=-2)


def flatten(blob: np.ndarray, pool: int | None) -> np.ndarray:
    """One row per image; 4-d blobs max-pooled to a pool x pool grid first when asked."""
    if pool and blob.ndim == 4:
        blob = grid_max_pool(blob, pool)
    return blob.reshape(len(blob), -1).astype(np.float32, copy=False)


def batches(items: Iterator[tuple[np.ndarray, int]], transform: Transform, size: int):
    """(inputs (B, C, crop, crop), labels (B,)) batches; the last may be short."""
    xs, ys = [], []
    for image, label in items:
        xs.append(transform(image))
        ys.append(label)
        if len(xs) == size:
            yield np.stack(xs), np.asarray(ys, np.int64)
            xs, ys = [], []
    if xs:
        yield np.stack(xs), np.asarray(ys, np.int64)


def forward(pynet, inputs: np.ndarray, blobs: list[str]) -> dict[str, np.ndarray]:
    data = pynet.blobs["data"]
    if data.data.shape[0] != len(inputs):
        data.reshape(*inputs.shape)
        pynet.reshape()
    data.data[...] = inputs
    pynet.forward()
    return {name: pynet.blobs[name].data.copy() for name in blobs}


# --- the whole extraction -------------------------------------------------------------------------
def extract(model: Path, prototxt: Path, db: Path, outs: dict[str, Path], mean: Path | None = None,
            pool: int | None = None, batch: int | None = None, limit: int | None = None,
            gpu: int | None = None, progress: bool = True) -> dict[str, Path]:
    """Write one features file per blob of `outs` (blob name -> .h5) for the LMDB's images."""


    net = read_prototxt(prototxt)
    read_caffemodel(model)  # a clear error for a missing or broken model, before any work
    db = resolve_lmdb(db)
    transform, mean = transform_of(net, prototxt, mean)
    keep = chosen(entry_count(db), limit)
    if not len(keep):
        raise UserError(f"the LMDB at {db} is empty")
    image, _ = next(records(db, keep[:1]))
    size = batch or _data_batch(net) or 64
    use_gpu(gpu)
    pynet = load_net(model, net, list(outs), (size, *transform(image).shape))
    attrs = {"model": str(model), "prototxt": str(prototxt), "lmdb": str(db),
             "mean": str(mean) if mean else None, "pool": pool or 0, "limit": limit or 0}
    writers = {name: FeatureWriter(path, {**attrs, "layer": name,
                                         "blob_shape": pynet.blobs[name].data.shape[1:]})
               for name, path in outs.items()}
    try:
        bar = tqdm(total=len(keep), unit="img", desc=f"features {db.parent.name or db.name}",
                   disable=None if progress else True, leave=False)
        for inputs, labels in batches(records(db, keep), transform, size):
            for name, blob in forward(pynet, inputs, list(outs)).items():
                writers[name].append(flatten(blob, pool), labels)
            bar.update(len(labels))
        bar.close()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    return {name: writer.close() for name, writer in writers.items()}


def _data_batch(net) -> int | None:
    layer = data_layer(net)
    return layer.data_param.batch_size if layer is not None else None
