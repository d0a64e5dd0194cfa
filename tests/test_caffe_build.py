"""caffe_build/mirror.sh: Debian's mirror from each layout apt's sources come in; apt_install.sh:
one line when a Debian package cannot be installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from transferability.caffe_env import REPO_ROOT

DEB822 = """Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
"""
CLASSIC = """# the classic one-line form, security first
deb http://security.example/debian-security bookworm-security main
deb [arch=amd64 signed-by=/usr/share/keyrings/d.gpg] http://classic.example/debian bookworm main
"""


def mirror(etc: Path) -> subprocess.CompletedProcess:
    script = f'set -euo pipefail; . "{REPO_ROOT}/caffe_build/mirror.sh"; debian_mirror "{etc}"'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True)


@pytest.mark.parametrize("files, expected", [
    ({"sources.list.d/debian.sources": DEB822}, "http://mirror.example/debian"),
    ({"sources.list": CLASSIC}, "http://classic.example/debian"),
    ({"sources.list": CLASSIC, "sources.list.d/debian.sources": DEB822},
     "http://mirror.example/debian"),
    ({"sources.list.d/extra.list": CLASSIC}, "http://classic.example/debian"),
    ({}, ""),
    ({"sources.list": "# nothing but a comment\n"}, ""),
])
def test_mirror_from_every_apt_layout(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    (tmp_path / "sources.list.d").mkdir()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    proc = mirror(tmp_path)
    assert proc.returncode == 0, proc.stderr  # never a silent stop under set -e
    assert proc.stdout.strip() == expected


def test_build_without_a_mirror_stops_with_one_line(tmp_path: Path) -> None:
    """build.sh itself, on a machine whose apt names no mirror: one error line, not a silent
    `make: *** Error 2`. (Caffe's build dependencies are installed by the time tests run.)"""
    (tmp_path / "etc" / "sources.list.d").mkdir(parents=True)
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "caffe_build/build.sh"), str(tmp_path / "home"), "python3", "cpu"],
        capture_output=True, text=True, env={**os.environ, "APT_ETC": str(tmp_path / "etc")})
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "set DEBIAN_MIRROR" in errors[0], proc.stderr


def apt_install(*packages: str) -> subprocess.CompletedProcess:
    script = REPO_ROOT / "caffe_build/apt_install.sh"
    return subprocess.run(["bash", str(script), "make x", *packages],
                          capture_output=True, text=True)


def test_apt_install_does_nothing_when_the_packages_are_there() -> None:
    proc = apt_install("bash", "make")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_apt_install_of_an_unknown_package_is_one_line() -> None:
    """The real apt: the first try fails quietly, the lists are refreshed, and the second try's
    failure is one line naming the package and apt's reason (never apt's E: lines as they come)."""
    proc = apt_install("bash", "transferability-no-such-package")
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: make x"), proc.stderr
    if os.geteuid() == 0:
        assert proc.returncode == 1
        assert "could not install transferability-no-such-package" in lines[0]
        assert "Unable to locate package transferability-no-such-package" in lines[0]
    else:  # without root: the one line says what to run as root (sudo, when present, may ask)
        assert proc.returncode in (1, 2)
        assert "transferability-no-such-package" in lines[0]
    assert "bash" not in lines[0]  # only what is missing is named


# --- set-up failures name the lever of the place they run in -------------------------------------
IMAGE_LEVER = ('(behind a TLS-inspecting proxy: build the image with --build-arg '
               'EXTRA_CA_CERTS="$(cat proxy-ca.crt)", or make docker-test EXTRA_CA=proxy-ca.crt)')


def test_apt_failing_in_the_image_build_names_the_build_argument() -> None:
    if os.geteuid() != 0:
        pytest.skip("apt-get itself runs only as root (without root the line says to run it so)")
    proc = subprocess.run(["bash", str(REPO_ROOT / "caffe_build/apt_install.sh"), "make x",
                           "transferability-no-such-package"], capture_output=True, text=True,
                          env={**os.environ, "TRANSFERABILITY_IMAGE": "build"})
    [line] = proc.stderr.splitlines()
    assert line.startswith("error: make x: ") and line.endswith(
        f" {IMAGE_LEVER}, then docker build again"), line
    assert "PIP_CERT" not in line


def test_the_caffe_source_unreachable_in_the_image_names_the_build_argument(
        tmp_path: Path) -> None:
    """build.sh with a mirror nothing answers at: one line (Caffe's build dependencies are
    installed by the time tests run)."""
    env = {**os.environ, "TRANSFERABILITY_IMAGE": "build",
           "DEBIAN_MIRROR": "http://127.0.0.1:9/debian"}
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "caffe_build/build.sh"), str(tmp_path / "home"), "python3", "cpu"],
        capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: could not fetch caffe's source package from http://127.0.0.1:9/debian (bullseye "
        "deb-src); check the network, or set DEBIAN_MIRROR to a Debian mirror that has bullseye "
        f"{IMAGE_LEVER}, then docker build again"], proc.stderr


def test_pip_failing_names_pip_cert_here_and_the_build_argument_in_the_image(
        tmp_path: Path) -> None:
    """`make setup` of a copy of the project, with PyPI unreachable: PIP_CERT on a machine, the
    image's build argument in its build."""
    for name in ("Makefile", "pyproject.toml", "data_prep/data.mk"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    shutil.copytree(REPO_ROOT / "caffe_build", tmp_path / "caffe_build")
    shutil.copytree(REPO_ROOT / "python", tmp_path / "python",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "MAKE"))}
    env |= {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
            "PIP_RETRIES": "0", "PIP_DEFAULT_TIMEOUT": "5", "PIP_NO_CACHE_DIR": "1",
            "CAFFE_HOME": str(tmp_path / "no-caffe")}
    for image, lever, retry in (("", "(behind a TLS-inspecting proxy: PIP_CERT=/path/to/ca.crt)",
                                 "make setup"),
                                ("build", IMAGE_LEVER, "docker build again")):
        proc = subprocess.run(["make", "-s", "-C", str(tmp_path), "setup", "PYTHON3=python3"],
                              capture_output=True, text=True,
                              env={**env, "TRANSFERABILITY_IMAGE": image})
        assert proc.returncode != 0
        ours = [line for line in proc.stderr.splitlines() if line.startswith("error: pip could")]
        assert ours == [f"error: pip could not install the package into {tmp_path}/.venv (its "
                        f"error is above); check the network to PyPI {lever}, then {retry}"], (
            proc.stderr)
        assert image or "EXTRA_CA" not in proc.stderr
        assert not image or "PIP_CERT" not in proc.stderr


def test_the_stock_engine_is_not_rebuilt_for_the_projects_cpu_patches(tmp_path: Path) -> None:
    """`make bench-cpu`'s stock Caffe applies none of the CPU patches, so editing one must not
    change its recipe (and rebuild it), while the patched engine's recipe must change."""
    scripts = tmp_path / "caffe_build"
    shutil.copytree(REPO_ROOT / "caffe_build", scripts)

    def plan(stock: bool) -> str:
        env = dict(os.environ, CAFFE_BUILD_PLAN="1", CAFFE_STOCK="1" if stock else "")
        proc = subprocess.run(["bash", str(scripts / "build.sh"), str(tmp_path / "caffe"),
                               sys.executable, "cpu"], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    stock, patched = plan(True), plan(False)
    convolution = scripts / "patches/cpu/3-convolution.patch"
    convolution.write_text(convolution.read_text() + "\n")
    assert plan(True) == stock
    assert plan(False) != patched
