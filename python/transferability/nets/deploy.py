"""The deploy cut of a net (an Input layer, then the layers up to the requested blobs) and the
pycaffe TEST net built from it: how features are read (factors/features.py) and how a transplant's
shapes are checked (nets/transplant.py)."""

from __future__ import annotations

import os
import tempfile

from google.protobuf import text_format

from transferability.caffe_io import caffe_pb2, in_test
from transferability.errors import UserError

SKIPPED_TYPES = ("Data", "Input", "Accuracy", "SoftmaxWithLoss", "HDF5Data", "ImageData")


def blob_names(net) -> list[str]:
    """Every blob a feature can be read from, in the order the net computes them."""
    names: list[str] = []
    for layer in net.layer:
        if layer.type in SKIPPED_TYPES or not in_test(layer):
            continue
        names += [top for top in layer.top if top not in names]
    return names


def deploy(net, blobs: list[str], shape: tuple[int, ...]):
    """An Input-layer net of the layers computing `blobs` (their in-place layers included)."""
    valid = blob_names(net)
    unknown = [b for b in blobs if b not in valid]
    if unknown:
        raise UserError(f"no layer named {', '.join(unknown)} in the net; valid names: "
                        f"{', '.join(valid)}")
    layers = [layer for layer in net.layer if layer.type not in SKIPPED_TYPES and in_test(layer)]
    last = max(i for i, layer in enumerate(layers) if set(layer.top) & set(blobs))
    out = caffe_pb2.NetParameter(name=net.name)
    inp = out.layer.add(name="data", type="Input", top=["data"])
    inp.input_param.shape.add(dim=list(shape))
    for layer in layers[:last + 1]:
        out.layer.add().CopyFrom(layer)
        del out.layer[-1].include[:]
        del out.layer[-1].exclude[:]
    return out


def test_net(param):
    """pycaffe's caffe.Net in the TEST phase for a NetParameter (pycaffe reads nets only from
    files), with the fillers' weights."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    import caffe  # pycaffe's compiled module takes seconds to load: only where a net is built

    with tempfile.NamedTemporaryFile("w", suffix=".prototxt", delete=False) as tmp:
        tmp.write(text_format.MessageToString(param))
    try:
        return caffe.Net(tmp.name, caffe.TEST)
    finally:
        os.unlink(tmp.name)
