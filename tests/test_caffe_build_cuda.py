"""caffe_build/build.sh's CUDA 12/13 flavour: a CUDA_HOME that is not such a toolkit is refused in
one line, before anything is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from transferability.caffe_env import REPO_ROOT


def fake_toolkit(root: Path, release: str | None, runtime_header: bool) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "include").mkdir()
    if release is not None:
        nvcc = root / "bin/nvcc"
        nvcc.write_text("#!/bin/sh\n"
                        f"echo 'Cuda compilation tools, release {release}, V{release}.1'\n")
        nvcc.chmod(0o755)
    if runtime_header:
        (root / "include/cuda_runtime.h").write_text("")
    return root


@pytest.mark.parametrize("release, header, message", [
    (None, False, "no nvcc at"),
    ("11.2", True, "CUDA 11.2 at"),
    ("13.0", False, "no cuda_runtime.h in"),
])
def test_a_cuda_home_that_is_no_cuda_12_or_13_toolkit_is_one_line(
        tmp_path: Path, release: str | None, header: bool, message: str) -> None:
    toolkit = fake_toolkit(tmp_path / "cuda", release, header)
    home = tmp_path / "caffe"
    proc = subprocess.run(["bash", str(REPO_ROOT / "caffe_build/build.sh"), str(home),
                           sys.executable, "cuda"], capture_output=True, text=True,
                          env=dict(os.environ, CUDA_HOME=str(toolkit)))
    assert proc.returncode != 0
    assert len(proc.stderr.splitlines()) == 1 and message in proc.stderr, proc.stderr
    assert not home.exists()


def test_debians_toolkit_not_yet_installed_gets_the_whole_architecture_list(tmp_path) -> None:
    """Flavour cuda with Debian's 11.8 to come (install_cuda.sh runs later in build.sh): the
    architectures cannot be asked of an nvcc that is not there yet, and that is no failure (the
    CUDA image's build stopped at exactly this on 2026-12-03)."""
    if Path("/usr/bin/nvcc").exists():
        pytest.skip("Debian's nvcc is installed here")
    env = {k: v for k, v in os.environ.items() if k not in ("CUDA_HOME", "CUDA_ARCHS")}
    env.update(CAFFE_BUILD_PLAN="1", PATH="/usr/bin:/bin")
    proc = subprocess.run(["bash", str(REPO_ROOT / "caffe_build/build.sh"),
                           str(tmp_path / "caffe"), sys.executable, "cuda"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "nvcc=/usr/bin/nvcc archs=70,80,86,89,90" in proc.stdout
    assert not (tmp_path / "caffe").exists()
