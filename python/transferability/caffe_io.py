"""Caffe's files as this project reads and writes them: the one place that touches `caffe_pb2`.

- `caffe_pb2`: Caffe's own message classes, loaded from CAFFE_HOME on first use, without
  pycaffe's compiled module (which takes seconds to load);
- .caffemodel and prototxt reading, BlobProto (means) and Datum (LMDB records) encoding;
- the deploy cut of a net (an Input layer, then the layers up to the requested blobs) and the
  pycaffe TEST net built from it;
- files written whole or not at all (a temporary sibling, renamed when complete);
- the error line of a Caffe log (glog's E and F lines, `Check failed`, `error:` lines).

Serialized by protobuf, a Datum holds its fields in field-number order, as Caffe's C++ tools write
them; `CVMatToDatum` sets `encoded = false` explicitly, so a raw Datum carries that field too, and
the bytes equal `convert_imageset`'s.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from google.protobuf import text_format
from google.protobuf.message import DecodeError

from transferability.caffe_env import CaffeMissing, caffe_home
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


# --- the deploy cut and pycaffe ------------------------------------------------------------------
SKIPPED_TYPES = ("Data", "Input", "Accuracy", "SoftmaxWithLoss", "HDF5Data", "ImageData")


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


def datum_label(buf: bytes | memoryview) -> int:
    return decode_datum(buf).label


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


def decode_blobproto(buf: bytes) -> np.ndarray:
    """The blob's data shaped by `shape` when present, else by num/channels/height/width."""
    blob = caffe_pb2.BlobProto.FromString(bytes(buf))
    return np.asarray(blob.data, np.float32).reshape(blob_shape(blob))


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
    return write_bytes(path, encode_blobproto(mean))


# --- files written whole or not at all ---------------------------------------------------------
_TMP_OWNER = re.compile(r"^(?P<host>.+)-(?P<pid>\d+)-\d+$")


def temporary_sibling(path: Path) -> Path:
    """Where a file or folder is written before it is renamed to `path` (same file system).
    Such leftovers of dead processes of this machine (a SIGKILL mid-write; up to hundreds of GB
    for an ImageNet LMDB) are removed first, each with one line."""
    path = Path(path)
    host = socket.gethostname()
    _remove_dead_siblings(path, host)
    return path.with_name(f".{path.name}.tmp-{host}-{os.getpid()}-{threading.get_ident()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_dead_siblings(path: Path, host: str) -> None:
    prefix = f".{path.name}.tmp-"
    try:
        entries = [e for e in path.parent.iterdir() if e.name.startswith(prefix)]
    except FileNotFoundError:
        return
    for entry in entries:
        owner = _TMP_OWNER.match(entry.name[len(prefix):])
        # another machine's (a shared file system) or a live process's: not ours to remove
        if not owner or owner["host"] != host or _alive(int(owner["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        print(f"removed {entry}, left by a process ({owner['pid']}) that died while writing it",
              file=sys.stderr)


FILE_MODE = 0o644  # every file the project writes: readable by all, whatever the umask


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """`with replacing(path) as tmp:` write tmp; it becomes `path` (mode 0644) on success, else
    is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename is None:  # write(2)'s error names none
            error.filename = str(path)
        raise


def write_bytes(path: Path, data: bytes) -> Path:
    """Write a file whole or not at all."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def copy_file(source: Path, path: Path) -> Path:
    """Copy a file whole or not at all."""
    with replacing(path) as tmp:
        shutil.copyfile(source, tmp)
    return Path(path)


# --- a Caffe log's error line ------------------------------------------------------------------
_GLOG_SEVERE = re.compile(r"^[EF]\d{4}")  # glog's E/F lines: E1123 07:01:02 or E20261123 07:01:02
_ERROR = re.compile(r"^(?:[\w./+-]+: )?(?:error|Error|ERROR)\b|Check failed")


def is_error_line(line: str) -> bool:
    """A glog E or F line, a `Check failed`, or an `error:`-style line (a shell's, a loader's);
    never the prototxt Caffe echoes (`mirror: false` is no error)."""
    return bool(_GLOG_SEVERE.match(line) or _ERROR.search(line))


def last_error(text: str) -> str | None:
    """The last error line of a log (see is_error_line), without glog's prefix."""
    for line in reversed(text.splitlines()):
        if is_error_line(line):
            return (line.split("] ", 1)[-1] if _GLOG_SEVERE.match(line) else line).strip()
    return None
