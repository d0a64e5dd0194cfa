"""Copy the first n learnable layers of a .caffemodel into a new .caffemodel for a target net.

The shapes are checked against the target net as real Caffe builds it, so a mismatch is caught
here, in one line, rather than by `caffe train -weights` deep in a run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from google.protobuf import text_format
from google.protobuf.message import DecodeError

from transferability.errors import UserError
from transferability.pynet import deploy, test_net

LEARNABLE_TYPES = ("Convolution", "InnerProduct")


def read_caffemodel(path: Path):
    """A NetParameter from a binary .caffemodel; a user error for a missing or non-Caffe file."""
    from caffe.proto import caffe_pb2

    if not Path(path).is_file():
        raise UserError(f"no such .caffemodel: {path}")
    net = caffe_pb2.NetParameter()
    try:
        net.ParseFromString(Path(path).read_bytes())
    except DecodeError as err:
        raise UserError(f"{path} is not a Caffe model (truncated or corrupt: {err})") from None
    if not any(layer.blobs for layer in net.layer):
        raise UserError(f"{path} is not a Caffe model: it holds no layer with weights")
    return net


def read_prototxt(path: Path):
    from caffe.proto import caffe_pb2

    if not Path(path).is_file():
        raise UserError(f"no such prototxt: {path}")
    net = caffe_pb2.NetParameter()
    try:
        text_format.Parse(Path(path).read_text(), net)
    except text_format.ParseError as err:
        raise UserError(f"{path} is not a net prototxt: {err}") from None
    return net


def learnable_layers(net) -> list[str]:
    return [layer.name for layer in net.layer if layer.type in LEARNABLE_TYPES]


def blob_shape(blob) -> tuple[int, ...]:
    if blob.HasField("shape"):
        return tuple(blob.shape.dim)
    legacy = (blob.num, blob.channels, blob.height, blob.width)
    return tuple(d for d in legacy if d)  # old 4-d blobs: shapes compare by their non-zero dims


def target_channels(target, target_prototxt: Path) -> int | None:
    """The input channels of the target's data: its mean image's, where the mean file is there."""
    from caffe.proto import caffe_pb2

    mean = next((layer.transform_param.mean_file for layer in target.layer
                 if layer.type == "Data" and layer.transform_param.mean_file), "")
    path = Path(target_prototxt).parent / mean
    if not mean or not path.is_file():
        return None
    blob = caffe_pb2.BlobProto()
    try:
        blob.ParseFromString(path.read_bytes())
    except DecodeError:
        return None
    dims = list(blob.shape.dim) or [blob.num, blob.channels, blob.height, blob.width]
    return int(dims[-3]) if len(dims) >= 3 else None


def target_shapes(target, in_channels: int) -> dict[str, list[tuple[int, ...]]]:
    """Blob shapes of every learnable layer, from Caffe itself building the net for one image."""
    crop = next(layer.transform_param.crop_size for layer in target.layer if layer.type == "Data")
    net = test_net(deploy(target, learnable_layers(target)[-1:], (1, in_channels, crop, crop)))
    return {name: [tuple(b.data.shape) for b in blobs] for name, blobs in net.params.items()}


def transplant(source_model: Path, target_prototxt: Path, n: int, out: Path) -> list[str]:
    """Write `out` with the first n learnable layers of the source model; return their names."""
    from caffe.proto import caffe_pb2

    target = read_prototxt(target_prototxt)
    names = learnable_layers(target)
    if not 1 <= n <= len(names) - 1:
        raise UserError(f"N must be from 1 to {len(names) - 1}, not {n}")
    source = read_caffemodel(source_model)
    by_name = {layer.name: layer for layer in source.layer if layer.blobs}
    missing = [name for name in names[:n] if name not in by_name]
    if missing:
        raise UserError(f"{source_model} has no layer named {', '.join(missing)}")
    first = by_name[names[0]]
    group = next(layer.convolution_param.group for layer in target.layer if layer.name == names[0])
    channels = target_channels(target, target_prototxt)
    if channels is None:  # no mean image beside the prototxt: take the source's input channels
        channels = blob_shape(first.blobs[0])[1] * max(group, 1)
    shapes = target_shapes(target, channels)
    result = caffe_pb2.NetParameter(name=target.name)
    for name in names[:n]:
        layer = by_name[name]
        got = [blob_shape(b) for b in layer.blobs]
        if got != shapes[name]:
            raise UserError(f"shape mismatch in {name}: {source_model} has {got}, "
                            f"{target_prototxt} needs {shapes[name]}")
        result.layer.add(name=name, type=layer.type).blobs.extend(layer.blobs)
    _write_atomically(out, result.SerializeToString())
    return names[:n]


def _write_atomically(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
