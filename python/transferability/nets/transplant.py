"""Copy the first n learnable layers of a .caffemodel into a new .caffemodel for a target net.

The shapes are checked against the target net as real Caffe builds it, so a mismatch is caught
here, in one line, rather than by `caffe train -weights` deep in a run.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf.message import DecodeError

from transferability.caffe_io import blob_shape, caffe_pb2, read_caffemodel, read_prototxt
from transferability.disk import write_bytes
from transferability.errors import UserError
from transferability.nets.deploy import deploy, test_net

LEARNABLE_TYPES = ("Convolution", "InnerProduct")


def learnable_layers(net) -> list[str]:
    return [layer.name for layer in net.layer if layer.type in LEARNABLE_TYPES]


def target_channels(target, target_prototxt: Path) -> int | None:
    """The input channels of the target's data: its mean image's, where the mean file is there."""
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
    write_bytes(out, result.SerializeToString())
    return names[:n]
