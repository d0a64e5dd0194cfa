"""caffe_build/mirror.sh: Debian's mirror from each layout apt's sources come in; apt_install.sh:
one line when a Debian package cannot be installed."""

from __future__ import annotations

import os
import subprocess
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
