"""Caffe's Datum and BlobProto, written and read with Caffe's own `caffe_pb2`.

Serialized by protobuf, a Datum holds its fields in field-number order, as Caffe's C++ tools write
them; `CVMatToDatum` sets `encoded = false` explicitly, so a raw Datum carries that field too, and
the bytes equal `convert_imageset`'s.
"""

from __future__ import annotations

import numpy as np

from transferability.caffe_env import caffe_pb2


def encode_raw_datum(data: bytes | memoryview, label: int, channels: int, height: int,
                     width: int) -> bytes:
    """A raw uint8 Datum (CHW pixels) as `CVMatToDatum` then `set_label` make it."""
    return caffe_pb2().Datum(channels=channels, height=height, width=width, data=bytes(data),
                             label=label, encoded=False).SerializeToString()


def encode_encoded_datum(data: bytes, label: int) -> bytes:
    """An encoded-image Datum (the file's JPEG or PNG bytes), as `ReadFileToDatum` makes it."""
    return caffe_pb2().Datum(data=data, label=label, encoded=True).SerializeToString()


def decode_datum(buf: bytes | memoryview):
    """The `caffe_pb2.Datum` of serialized bytes."""
    return caffe_pb2().Datum.FromString(bytes(buf))


def datum_label(buf: bytes | memoryview) -> int:
    return decode_datum(buf).label


def relabel_datum(buf: bytes | memoryview, label: int) -> bytes:
    """The same Datum with its label replaced."""
    datum = decode_datum(buf)
    datum.label = label
    return datum.SerializeToString()


def encode_blobproto(array: np.ndarray) -> bytes:
    """A 4-D float32 blob with the deprecated num/channels/height/width, as compute_image_mean
    writes it."""
    num, channels, height, width = array.shape
    blob = caffe_pb2().BlobProto(num=num, channels=channels, height=height, width=width)
    blob.data.extend(np.asarray(array, np.float32).ravel().tolist())
    return blob.SerializeToString()


def decode_blobproto(buf: bytes) -> np.ndarray:
    """The blob's data shaped by `shape` when present, else by num/channels/height/width."""
    blob = caffe_pb2().BlobProto.FromString(bytes(buf))
    shape = list(blob.shape.dim) if blob.HasField("shape") else [
        blob.num, blob.channels, blob.height, blob.width]
    return np.asarray(blob.data, np.float32).reshape(shape)
