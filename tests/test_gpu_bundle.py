"""make gpu-bundle's script and the bundle's gpu-check.sh, on the CPU build of CAFFE_HOME.

The real bundle is made from the CUDA build (make gpu-bundle, then make gpu-bundle-check); the
script is the same for both, so the CPU build's bundle shows what it copies and how its libraries
resolve, and gpu-check.sh's --cpu switch runs every step of the check but device_query.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from transferability.caffe_env import REPO_ROOT, caffe_home
from transferability.caffe_io import read_prototxt

NAME = "caffe-cuda-bundle"
SYSTEM = re.compile(r"^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|lib(c|m|dl|rt|pthread|resolv|util"
                    r"|mvec)\.so\.\d+|libstdc\+\+\.so\.6|libgcc_s\.so\.1)$")
CUDA = re.compile(r"^lib(cuda|cudart|cublas|cublasLt|curand|cudnn\w*|nvidia-ml)\.so(\.\d+)*$")


@pytest.fixture(scope="module")
def bundle(fm_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tarball gpu_bundle.sh makes from the CPU build and the tests' small split-0 sets."""
    out = tmp_path_factory.mktemp("dist") / f"{NAME}.tar.gz"
    env = dict(os.environ, TRANSFERABILITY=str(Path(sys.executable).parent / "transferability"),
               PYTHON=sys.executable, BUNDLE_ITERS="20", BUNDLE_TRAIN_IMAGES="256",
               BUNDLE_VALID_IMAGES="100", BUNDLE_GZIP_LEVEL="1",
               # the CPU build links OpenCV and HDF5, which the CUDA 12/13 build leaves out
               BUNDLE_LIMIT_MIB="200")
    proc = subprocess.run(["bash", str(REPO_ROOT / "caffe_build/gpu_bundle.sh"), str(caffe_home()),
                           str(fm_data), str(out)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def unpacked(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(bundle) as tar:
        # extraction filters came with Python 3.11.4; Debian 12's 3.11.2 has none
        safe = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
        tar.extractall(root, **safe)
    return root / NAME


def dynamic(path: Path, tag: str) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    return re.findall(rf"\({tag}\).*\[(.*)\]", out)


def elf_files(root: Path) -> list[Path]:
    return [p for p in sorted((root / "bin").iterdir()) + sorted((root / "lib").iterdir())
            if p.is_file() and not p.is_symlink() and p.read_bytes()[:4] == b"\x7fELF"]


def test_every_needed_library_is_in_the_bundle_or_allowed(unpacked: Path) -> None:
    files = elf_files(unpacked)
    assert {"caffe", "compute_image_mean", "upgrade_net_proto_text"} <= {p.name for p in files}
    assert any(p.name.startswith("libcaffe.so") for p in files)
    for path in files:
        want = "$ORIGIN/../lib" if path.parent.name == "bin" else "$ORIGIN"
        assert dynamic(path, "RUNPATH") == [want], path
        for lib in dynamic(path, "NEEDED"):
            assert (unpacked / "lib" / lib).exists() or SYSTEM.match(lib) or CUDA.match(lib), \
                f"{path.name} needs {lib}"


def test_loader_finds_everything_inside_with_no_library_path(unpacked: Path,
                                                               tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    ldd = subprocess.run(["ldd", str(unpacked / "bin/caffe")], capture_output=True, text=True,
                         env=env).stdout
    for name, path in re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M):
        assert path != "not" or CUDA.match(name), f"{name} not found"
        assert path.startswith(str(unpacked)) or SYSTEM.match(name) or CUDA.match(name), \
            f"{name} from {path}"
    version = subprocess.run([str(unpacked / "bin/caffe"), "--version"], cwd=tmp_path, env=env,
                             capture_output=True, text=True)
    assert version.returncode == 0 and "1.0.0" in version.stdout + version.stderr


def test_closure_check_passes_and_names_a_missing_library(unpacked: Path, tmp_path: Path) -> None:
    check = unpacked / "check/closure.sh"
    ok = subprocess.run(["bash", str(check), str(unpacked)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    broken = tmp_path / NAME
    shutil.copytree(unpacked, broken, symlinks=True)
    (broken / "lib/libglog.so.1").unlink()
    bad = subprocess.run(["bash", str(check), str(broken)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "needs libglog.so.1, which is neither in lib/" in bad.stdout


def test_bundle_nets_are_the_generated_ones_shortened(unpacked: Path) -> None:
    assert (unpacked / "nets/A3B/frozen.txt").read_text().split() == ["conv1", "conv2", "conv3"]
    generated = read_prototxt(REPO_ROOT / "prototxt/fashion-mnist/split0/A3B.prototxt")
    assert read_prototxt(unpacked / "nets/A3B/train_val.prototxt") == generated
    timing = read_prototxt(unpacked / "nets/caffenet/time-b256.prototxt")
    assert timing.layer[0].type == "DummyData"
    assert list(timing.layer[0].dummy_data_param.shape[0].dim) == [256, 3, 227, 227]
    links = dict(line.split() for line in (unpacked / "nets/A3B/data.txt").read_text().splitlines())
    assert links["train_lmdb"] == "data/half0B_train/lmdb"
    assert all((unpacked / target).exists() for target in links.values())


def run_check(unpacked: Path, *args: str | Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    return subprocess.run([str(unpacked / "gpu-check.sh"), *map(str, args)], capture_output=True,
                          text=True, env=env)


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None or Path("/proc/driver/nvidia").exists(),
                    reason="this machine has an NVIDIA driver")
def test_gpu_check_without_a_gpu_says_so_in_one_line(unpacked: Path, tmp_path: Path) -> None:
    proc = run_check(unpacked, tmp_path / "out")
    assert proc.returncode == 3
    assert len(proc.stdout.splitlines()) == 1 and "no NVIDIA GPU" in proc.stdout
    assert not proc.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    ((), "name the folder"),
    (("--gpu", "one", "OUT"), "--gpu takes a device number"),
    (("--tolerance", "x", "OUT"), "--tolerance takes accuracy points"),
    (("--frobnicate", "OUT"), "unknown option --frobnicate"),
])
def test_gpu_check_bad_arguments_are_one_line(unpacked: Path, args, message: str) -> None:
    proc = run_check(unpacked, *args)
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and message in proc.stderr


def test_gpu_check_refuses_a_folder_with_files(unpacked: Path, tmp_path: Path) -> None:
    (tmp_path / "old.log").write_text("x")
    proc = run_check(unpacked, "--cpu", tmp_path)
    assert proc.returncode == 2 and "is not empty" in proc.stderr


def test_gpu_check_on_the_cpu_runs_every_check(unpacked: Path, tmp_path: Path) -> None:
    out = tmp_path / "check"
    proc = run_check(unpacked, "--cpu", "--time-iters", "1", out)
    summary = (out / "summary.txt").read_text()
    assert proc.returncode == 0, summary
    assert re.search(r"caffe time +CaffeNet, batch 8, 1 iterations: forward [\d.]+ ms, "
                     r"backward [\d.]+ ms, forward-backward [\d.]+ ms, \d+ images/s", summary)
    assert "device-cpu A3B: conv1 conv2 conv3 bit-identical to the init after 20 iterations" \
        in summary
    assert re.search(r"accuracy +baseA: CPU \(--cpu\) [\d.]+% .*tolerance 5: PASS", summary)
    assert "baseA stopped at iteration 10 and resumed: weights bit-identical" in summary
    assert summary.rstrip().endswith(f"PASS (logs in {out})")
    for run in ("device-cpu/baseA", "device-cpu/A3B", "cpu/baseA", "device-cpu/baseA-resumed"):
        assert (out / run / "train.log").stat().st_size > 0
