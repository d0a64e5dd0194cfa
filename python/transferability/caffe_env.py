"""Where the project's Caffe lives, and a clear error when it is not there."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


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


# The variables that set a thread count of OpenMP or OpenBLAS (OPENBLAS_CORETYPE, a kernel set, is
# none of them).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS",
                    "MKL_NUM_THREADS")


def threads_environment(threads: int | None, **extra: str) -> dict[str, str]:
    """tool_environment with no thread count set but OMP_NUM_THREADS=threads where given: what a
    user who runs `caffe` outside make has (threads None: nothing set, every core)."""
    env = {k: v for k, v in tool_environment().items()
           if k not in THREAD_VARIABLES and not k.startswith("OMP_")}
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    env.update(extra)
    return env
