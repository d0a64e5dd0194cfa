"""Caffe's files as this project reads and writes them: the one place that touches `caffe_pb2`.

- `caffe_pb2`: Caffe's own message classes, loaded from CAFFE_HOME on first use, without
  pycaffe's compiled module (which takes seconds to load);
- .caffemodel and prototxt reading, BlobProto (means) and Datum (LMDB records) encoding;
- a net's TEST phase and its Data layer.

Written whole or not at all by disk.py; the deploy cut is nets/deploy.py's, a log's error line
training/logparse.py's.

Serialized by protobuf, a Datum holds its fields in field-number order, as Caffe's C++ tools write
them; `CVMatToDatum` sets `encoded = false` explicitly, so a raw Datum carries that field too, and
the bytes equal `convert_imageset`'s.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path

import numpy as np
from google.protobuf import text_format
from google.protobuf.message import DecodeError

from transferability.caffe_env import CaffeMissing, caffe_home
from transferability.disk import write_bytes
from transferability.errors import UserError

# --- caffe_pb2 ---------------------------------------------------------------------------------
_PB2 = "caffe.proto.caffe_pb2"
_PB2_LOCK = threading.Lock()


def load_caffe_pb2():
    """Caffe's own `caffe_pb2` module from CAFFE_HOME (CaffeMissing when it is not there)."""
    if _PB2 in sys.modules:  # registered only once complete
        return sys.modules[_PB2]
    with _PB2_LOCK:  # the data tools' worker threads ask at once; protobuf loads a file only once
        if _PB2 in sys.modules:
            return sys.modules[_PB2]
        path = caffe_home() / "lib/python3/dist-packages/caffe/proto/caffe_pb2.py"
        if not path.is_file():
            raise CaffeMissing(f"no Caffe at CAFFE_HOME={caffe_home()} ({path} missing); "
                               "run `make caffe`")
        spec = importlib.util.spec_from_file_location(_PB2, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        # under its own name, so that pycaffe's later `from .proto.caffe_pb2 import ...` reuses it
        sys.modules[_PB2] = module
        return module


class _LazyModule:
    """`caffe_pb2.Datum` etc., with the module loaded on the first attribute asked for: importing
    this module needs no Caffe, and a missing one is an error where a message is first built."""

    def __getattr__(self, name: str):
        return getattr(load_caffe_pb2(), name)


caffe_pb2 = _LazyModule()


# --- nets and models ---------------------------------------------------------------------------
def read_caffemodel(path: Path):
    """A NetParameter from a binary .caffemodel; a user error for a missing or non-Caffe file."""
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
    """A NetParameter from a net prototxt; a user error for a missing or unparsable file."""
    if not Path(path).is_file():
        raise UserError(f"no such prototxt: {path}")
    net = caffe_pb2.NetParameter()
    try:
        text_format.Parse(Path(path).read_text(), net)
    except text_format.ParseError as err:
        raise UserError(f"{path} is not a net prototxt: {err}") from None
    return net


def read_solver(path: Path):
    """A SolverParameter from a solver prototxt."""
    return text_format.Parse(Path(path).read_text(), caffe_pb2.SolverParameter())


def blob_shape(blob) -> tuple[int, ...]:
    if blob.HasField("shape"):
        return tuple(blob.shape.dim)
    legacy = (blob.num, blob.channels, blob.height, blob.width)
    return tuple(d for d in legacy if d)  # old 4-d blobs: shapes compare by their non-zero dims


# --- phases ------------------------------------------------------------------------------------
def in_test(layer) -> bool:
    """Whether the layer is part of the TEST-phase net."""
    test = caffe_pb2.TEST
    if any(r.HasField("phase") and r.phase == test for r in layer.exclude):
        return False
    phases = [r.phase for r in layer.include if r.HasField("phase")]
    return not phases or test in phases


def data_layer(net):
    """The net's TEST-phase Data layer, or None for a deploy net."""
    return next((layer for layer in net.layer if layer.type == "Data" and in_test(layer)), None)


# --- Datum and BlobProto -------------------------------------------------------------------------
def encode_raw_datum(data: bytes | memoryview, label: int, channels: int, height: int,
                     width: int) -> bytes:
    """A raw uint8 Datum (CHW pixels) as `CVMatToDatum` then `set_label` make it."""
    return caffe_pb2.Datum(channels=channels, height=height, width=width, data=bytes(data),
                           label=label, encoded=False).SerializeToString()


def encode_encoded_datum(data: bytes, label: int) -> bytes:
    """An encoded-image Datum (the file's JPEG or PNG bytes), as `ReadFileToDatum` makes it."""
    return caffe_pb2.Datum(data=data, label=label, encoded=True).SerializeToString()


def decode_datum(buf: bytes | memoryview):
    """The `caffe_pb2.Datum` of serialized bytes."""
    return caffe_pb2.Datum.FromString(bytes(buf))


def relabel_datum(buf: bytes | memoryview, label: int) -> bytes:
    """The same Datum with its label replaced."""
    datum = decode_datum(buf)
    datum.label = label
    return datum.SerializeToString()


def datum_array(datum) -> np.ndarray:
    """(channels, height, width) pixels of a raw, encoded or float Datum."""
    if datum.encoded:
        import cv2  # only encoded records need OpenCV, which is slow to load

        image = cv2.imdecode(np.frombuffer(datum.data, np.uint8), cv2.IMREAD_ANYCOLOR)  # as Caffe
        if image is None:
            raise UserError("a record holds an image OpenCV cannot decode")
        return image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
    shape = (datum.channels, datum.height, datum.width)
    if datum.data:
        return np.frombuffer(datum.data, np.uint8).reshape(shape)
    return np.asarray(datum.float_data, np.float32).reshape(shape)


def encode_blobproto(array: np.ndarray) -> bytes:
    """A 4-D float32 blob with the deprecated num/channels/height/width, as compute_image_mean
    writes it."""
    num, channels, height, width = array.shape
    blob = caffe_pb2.BlobProto(num=num, channels=channels, height=height, width=width)
    blob.data.extend(np.asarray(array, np.float32).ravel().tolist())
    return blob.SerializeToString()


def read_mean(path: Path) -> np.ndarray:
    """The float32 mean image of a .binaryproto (as compute_image_mean writes it), in the blob's
    own shape: (1, C, H, W) for Caffe's means."""
    if not Path(path).is_file():
        raise UserError(f"no mean file at {path} (pass --mean MEAN.binaryproto)")
    try:
        blob = caffe_pb2.BlobProto.FromString(Path(path).read_bytes())
    except DecodeError:
        raise UserError(f"{path} is not a .binaryproto mean") from None
    shape = blob_shape(blob)
    data = np.asarray(blob.data, np.float32)
    if not shape or data.size != int(np.prod(shape)):
        raise UserError(f"{path} is not a .binaryproto mean")
    return data.reshape(shape)


def write_mean(path: Path, mean: np.ndarray) -> Path:
    """Write a mean image whole or not at all."""
    return write_bytes(path, encode_blobproto(mean))
