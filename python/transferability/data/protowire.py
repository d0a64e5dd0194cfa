"""Caffe's Datum and BlobProto in protobuf wire format, written exactly as Caffe's C++ tools do.

Field numbers are those of caffe.proto (BVLC Caffe 1.0). C++ protobuf serializes the fields that
were set, in field-number order; `CVMatToDatum` sets `encoded = false` explicitly, so a raw Datum
ends with that field too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


def varint(value: int) -> bytes:
    """Protobuf base-128 varint; negative int32 values take ten bytes, as in C++."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def _read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _int32(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def iter_fields(buf: bytes | memoryview) -> Iterator[tuple[int, int, object, int, int]]:
    """Yield (number, wire type, value, start, end) per field; LENGTH values are memoryviews."""
    view = memoryview(buf)
    pos = 0
    while pos < len(view):
        start = pos
        key, pos = _read_varint(view, pos)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = _read_varint(view, pos)
        elif wire == LENGTH:
            size, pos = _read_varint(view, pos)
            value, pos = view[pos:pos + size], pos + size
        elif wire in (FIXED32, FIXED64):
            size = 4 if wire == FIXED32 else 8
            value, pos = view[pos:pos + size], pos + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if pos > len(view):
            raise ValueError("truncated protobuf message")
        yield number, wire, value, start, pos


@dataclass
class Datum:
    """caffe.Datum: uint8 `data` in CHW order, or an encoded image, or `float_data`."""

    channels: int = 0
    height: int = 0
    width: int = 0
    data: bytes = b""
    label: int = 0
    float_data: list[float] = field(default_factory=list)
    encoded: bool = False


_DATUM_INTS = {1: "channels", 2: "height", 3: "width", 5: "label"}


def encode_raw_datum(data: bytes | memoryview, label: int, channels: int, height: int,
                     width: int) -> bytes:
    """A raw uint8 Datum as `CVMatToDatum` then `set_label` serialize it."""
    return b"".join((
        _tag(1, VARINT), varint(channels), _tag(2, VARINT), varint(height),
        _tag(3, VARINT), varint(width), _tag(4, LENGTH), varint(memoryview(data).nbytes), data,
        _tag(5, VARINT), varint(label), _tag(7, VARINT), b"\x00",
    ))


def encode_encoded_datum(data: bytes, label: int) -> bytes:
    """An encoded-image Datum as `ReadFileToDatum` or Caffe's re-encoding path serialize it."""
    return b"".join((
        _tag(4, LENGTH), varint(len(data)), data, _tag(5, VARINT), varint(label),
        _tag(7, VARINT), b"\x01",
    ))


def decode_datum(buf: bytes | memoryview) -> Datum:
    datum = Datum()
    floats: list[float] = []
    for number, wire, value, _, _ in iter_fields(buf):
        if number in _DATUM_INTS and wire == VARINT:
            setattr(datum, _DATUM_INTS[number], _int32(value))
        elif number == 4 and wire == LENGTH:
            datum.data = bytes(value)
        elif number == 6:
            floats.extend(_floats(wire, value))
        elif number == 7 and wire == VARINT:
            datum.encoded = bool(value)
    datum.float_data = floats
    return datum


def _floats(wire: int, value: memoryview) -> list[float]:
    if wire not in (FIXED32, LENGTH):
        raise ValueError("float field with a non-float wire type")
    return list(np.frombuffer(value, dtype="<f4").astype(float))


def datum_label(buf: bytes | memoryview) -> int:
    label = 0
    for number, wire, value, _, _ in iter_fields(buf):
        if number == 5 and wire == VARINT:
            label = _int32(value)
    return label


def relabel_datum(buf: bytes, label: int) -> bytes:
    """The same Datum bytes with its label replaced (field order and every other byte kept)."""
    parts: list[bytes | memoryview] = []
    view, last, done = memoryview(buf), 0, False
    for number, _, _, start, end in iter_fields(view):
        if number == 5:
            parts += [view[last:start], _tag(5, VARINT), varint(label)]
            last, done = end, True
    parts.append(view[last:])
    if not done:
        parts += [_tag(5, VARINT), varint(label)]
    return b"".join(parts)


def encode_blobproto(array: np.ndarray) -> bytes:
    """A 4-D float32 blob with the deprecated num/channels/height/width, as compute_image_mean."""
    num, channels, height, width = array.shape
    data = np.ascontiguousarray(array, dtype="<f4").tobytes()
    return b"".join((
        _tag(1, VARINT), varint(num), _tag(2, VARINT), varint(channels),
        _tag(3, VARINT), varint(height), _tag(4, VARINT), varint(width),
        _tag(5, LENGTH), varint(len(data)), data,
    ))


def decode_blobproto(buf: bytes) -> np.ndarray:
    """The blob's data shaped by `shape` when present, else by num/channels/height/width."""
    dims4 = [0, 0, 0, 0]
    shape: list[int] = []
    chunks: list[np.ndarray] = []
    for number, wire, value, _, _ in iter_fields(buf):
        if 1 <= number <= 4 and wire == VARINT:
            dims4[number - 1] = _int32(value)
        elif number == 5:
            chunks.append(np.frombuffer(value, dtype="<f4"))
        elif number == 7 and wire == LENGTH:
            shape = _blob_shape(value)
    data = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return data.astype(np.float32).reshape(shape or dims4)


def _blob_shape(buf: memoryview) -> list[int]:
    dims: list[int] = []
    for number, wire, value, _, _ in iter_fields(buf):
        if number != 1:
            continue
        if wire == VARINT:
            dims.append(_int32(value))
        else:
            view, pos = memoryview(value), 0
            while pos < len(view):
                dim, pos = _read_varint(view, pos)
                dims.append(dim)
    return dims
