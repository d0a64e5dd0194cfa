"""Where the project's Caffe lives, and a clear error when it is not there."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS = (
    "caffe", "convert_imageset", "compute_image_mean", "upgrade_net_proto_text", "extract_features",
)


class CaffeMissing(RuntimeError):
    """CAFFE_HOME holds no Caffe install."""


def caffe_home() -> Path:
    """CAFFE_HOME from the environment, else `.caffe/` in the repository."""
    return Path(os.environ.get("CAFFE_HOME") or REPO_ROOT / ".caffe").resolve()


def caffe_tool(name: str = "caffe") -> Path:
    """Path of one of Caffe's binaries, checked to exist."""
    path = caffe_home() / "bin" / name
    if not os.access(path, os.X_OK):
        raise CaffeMissing(
            f"no Caffe at CAFFE_HOME={caffe_home()} ({path} missing); run `make caffe`"
        )
    return path


def tool_environment(**extra: str) -> dict[str, str]:
    """The environment for running a Caffe binary: its full INFO log, whatever pycaffe was told."""
    env = dict(os.environ)
    env["GLOG_minloglevel"] = "0"
    env.update(extra)
    return env


_PB2_LOCK = threading.Lock()


def caffe_pb2():
    """Caffe's own `caffe_pb2` from CAFFE_HOME, without importing pycaffe's compiled module (which
    takes seconds to load): the data tools need only the message classes."""
    name = "caffe.proto.caffe_pb2"
    if name in sys.modules:  # registered only once complete
        return sys.modules[name]
    with _PB2_LOCK:  # the data tools' worker threads ask at once; protobuf loads a file only once
        if name in sys.modules:
            return sys.modules[name]
        path = caffe_home() / "lib/python3/dist-packages/caffe/proto/caffe_pb2.py"
        if not path.is_file():
            raise CaffeMissing(f"no Caffe at CAFFE_HOME={caffe_home()} ({path} missing); "
                               "run `make caffe`")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        # under its own name, so that a later `from caffe.proto import caffe_pb2` reuses it
        sys.modules[name] = module
        return module
