"""Caffe weight files for gpu-check.sh, on a GPU host that has no venv of this project.

    weights.py transplant SOURCE.caffemodel OUT.caffemodel LAYER...
        OUT holds the named layers of SOURCE only (the init of a transfer: `caffe train -weights`
        copies those and leaves the others to their fillers)
    weights.py compare A.caffemodel B.caffemodel [LAYER...]
        per layer (all with learned blobs, or the named ones): bit-identical, or how many values
        differ and by how much at most; exit status 1 when any differs

It needs only Python 3.8+ and what the bundle carries: caffe_pb2 and protobuf's pure-Python
implementation (python/). The project's own reader, transferability.caffe_io, needs its venv and
numpy, which a cluster node need not have.
"""

from __future__ import annotations

import importlib.util
import os
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = HERE.parent / "python"


def load_caffe_pb2():
    """caffe_pb2 by file (pycaffe's package would import its compiled module, not carried)."""
    os.environ["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"
    sys.path.insert(0, str(PYTHON))
    spec = importlib.util.spec_from_file_location(
        "caffe_pb2", PYTHON / "caffe" / "proto" / "caffe_pb2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_net(caffe_pb2, path: str):
    net = caffe_pb2.NetParameter()
    with open(path, "rb") as f:
        net.ParseFromString(f.read())
    return net


def learned(net) -> dict:
    """name -> list of blobs, for the layers that hold any (V2 `layer` or V1 `layers`)."""
    return {layer.name: list(layer.blobs) for layer in list(net.layer) + list(net.layers)
            if layer.blobs}


def blob_bits(blob) -> bytes:
    """The blob's values as float32 bytes (Caffe writes `data`; `double_data` when it is empty)."""
    if blob.data:
        return struct.pack(f"<{len(blob.data)}f", *blob.data)
    return struct.pack(f"<{len(blob.double_data)}f", *blob.double_data)


def compare_blobs(a, b) -> str | None:
    """None when bit-identical, else what differs."""
    bits_a, bits_b = blob_bits(a), blob_bits(b)
    if bits_a == bits_b:
        return None
    if len(bits_a) != len(bits_b):
        return f"{len(bits_a) // 4} values against {len(bits_b) // 4}"
    n = len(bits_a) // 4
    values_a, values_b = struct.unpack(f"<{n}f", bits_a), struct.unpack(f"<{n}f", bits_b)
    diffs = [abs(values_a[i] - values_b[i]) for i in range(n)
             if bits_a[4 * i:4 * i + 4] != bits_b[4 * i:4 * i + 4]]
    return f"{len(diffs)} of {n} values differ, max |a-b| = {max(diffs):.3g}"


def compare(caffe_pb2, path_a: str, path_b: str, names: list[str]) -> int:
    a, b = learned(read_net(caffe_pb2, path_a)), learned(read_net(caffe_pb2, path_b))
    names = names or list(a)
    status = 0
    for name in names:
        if name not in a or name not in b:
            print(f"{name}: missing from {path_a if name not in a else path_b}")
            status = 1
            continue
        if len(a[name]) != len(b[name]):
            print(f"{name}: {len(a[name])} blobs against {len(b[name])}")
            status = 1
            continue
        found = [compare_blobs(a[name][i], b[name][i]) for i in range(len(a[name]))]
        diffs = [f"blob {i}: {d}" for i, d in enumerate(found) if d]
        print(f"{name}: " + ("; ".join(diffs) if diffs else "bit-identical"))
        status |= bool(diffs)
    return status


def transplant(caffe_pb2, source: str, out: str, names: list[str]) -> int:
    net = read_net(caffe_pb2, source)
    layers = {layer.name: layer for layer in net.layer if layer.blobs}
    missing = [n for n in names if n not in layers]
    if missing:
        print(f"weights.py: error: {source} has no learned layer {', '.join(missing)}",
              file=sys.stderr)
        return 2
    result = caffe_pb2.NetParameter(name=net.name)
    for name in names:
        result.layer.add(name=name, type=layers[name].type).blobs.extend(layers[name].blobs)
    tmp = f"{out}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(result.SerializeToString())
    os.replace(tmp, out)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] in ("compare", "transplant"):
        caffe_pb2 = load_caffe_pb2()
        if argv[0] == "compare":
            return compare(caffe_pb2, argv[1], argv[2], argv[3:])
        if len(argv) >= 4:
            return transplant(caffe_pb2, argv[1], argv[2], argv[3:])
    print("usage: weights.py compare A B [LAYER...] | transplant SOURCE OUT LAYER...",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
