"""Nets built in Python: a deploy cut of a train_val net, and a pycaffe net from a NetParameter
(pycaffe reads nets only from files)."""

from __future__ import annotations

import os
import tempfile

from google.protobuf import text_format

from transferability.errors import UserError

SKIPPED_TYPES = ("Data", "Input", "Accuracy", "SoftmaxWithLoss", "HDF5Data", "ImageData")


def test_net(param):
    """caffe.Net in the TEST phase for `param`, with the fillers' weights."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    import caffe

    with tempfile.NamedTemporaryFile("w", suffix=".prototxt", delete=False) as tmp:
        tmp.write(text_format.MessageToString(param))
    try:
        return caffe.Net(tmp.name, caffe.TEST)
    finally:
        os.unlink(tmp.name)


def _in_test(layer) -> bool:
    from caffe.proto import caffe_pb2

    test = caffe_pb2.TEST
    if any(r.HasField("phase") and r.phase == test for r in layer.exclude):
        return False
    phases = [r.phase for r in layer.include if r.HasField("phase")]
    return not phases or test in phases


def data_layer(net):
    """The net's TEST-phase Data layer, or None for a deploy net."""
    return next((layer for layer in net.layer if layer.type == "Data" and _in_test(layer)), None)


def blob_names(net) -> list[str]:
    """Every blob a feature can be read from, in the order the net computes them."""
    names: list[str] = []
    for layer in net.layer:
        if layer.type in SKIPPED_TYPES or not _in_test(layer):
            continue
        names += [top for top in layer.top if top not in names]
    return names


def deploy(net, blobs: list[str], shape: tuple[int, ...]):
    """An Input-layer net of the layers computing `blobs` (their in-place layers included)."""
    from caffe.proto import caffe_pb2

    valid = blob_names(net)
    unknown = [b for b in blobs if b not in valid]
    if unknown:
        raise UserError(f"no layer named {', '.join(unknown)} in the net; valid names: "
                        f"{', '.join(valid)}")
    layers = [layer for layer in net.layer if layer.type not in SKIPPED_TYPES and _in_test(layer)]
    last = max(i for i, layer in enumerate(layers) if set(layer.top) & set(blobs))
    out = caffe_pb2.NetParameter(name=net.name)
    inp = out.layer.add(name="data", type="Input", top=["data"])
    inp.input_param.shape.add(dim=list(shape))
    for layer in layers[:last + 1]:
        out.layer.add().CopyFrom(layer)
        del out.layer[-1].include[:]
        del out.layer[-1].exclude[:]
    return out
