#!/usr/bin/env bash
# The container, built and run by a real Docker engine (Debian's docker.io): `make docker-test`.
#
#   caffe_build/docker_test.sh REPO [cpu|cuda]
#
# As root: installs Debian's docker.io when dockerd is missing, starts dockerd when no engine answers
# (and stops it at the end), makes the base image debian:bookworm with debootstrap and `docker
# import` when the engine has none and cannot pull one, then runs the docker commands of README.md's
# "GPU and container" section as they are written there, with this test's folders for $PWD/data
# and $PWD/runs, as an unprivileged member of the docker group: SUDO_UID:SUDO_GID (the caller of
# sudo), else DOCKER_TEST_USER (4242:4242), so that files the container writes show whose they are.
#   cpu:  builds transferability:cpu, trains baseA and the frozen A3B with ITERS=40 in the mounted
#         volumes, and checks on the host that both runs exist, that every file in the volumes
#         belongs to that user, that A3B's conv1-3 are bit-identical to baseA's, and the image size.
#   cuda: builds transferability (Debian's CUDA 11.8) and checks what needs no GPU: caffe
#         --version, pycaffe, and the CUDA architectures compiled into libcaffe (cuobjdump, from
#         the build stage). The README's `docker run --gpus all` lines need a GPU: skipped.
# EXTRA_CA: a PEM file whose certificates every build trusts (--build-arg EXTRA_CA_CERTS).
set -euo pipefail

REPO=$(realpath "${1:?usage: docker_test.sh REPO [cpu|cuda]}")
FLAVOUR=${2:-cpu}
HERE=$(cd "$(dirname "$0")" && pwd)
MAX_MB=${DOCKER_TEST_MAX_MB:-1536}
say() { printf '[docker-test] %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
trap 'die "caffe_build/docker_test.sh, line $LINENO: \"$BASH_COMMAND\" failed (exit $?)"' ERR
case "$FLAVOUR" in cpu|cuda) ;; *) echo "error: FLAVOUR must be cpu or cuda, not '$FLAVOUR'" >&2; exit 2;; esac
[ "$(id -u)" = 0 ] || { echo "error: make docker-test needs root (it may install docker.io, start dockerd and import a base image); run: sudo make docker-test" >&2; exit 2; }
if [ -n "${EXTRA_CA:-}" ] && [ ! -s "$EXTRA_CA" ]; then
  echo "error: EXTRA_CA=$EXTRA_CA is not a file of PEM certificates" >&2; exit 2
fi
START=$(date +%s)
T=$(mktemp -d /var/tmp/transferability-docker-test.XXXXXX)
chmod 755 "$T"

# --- the engine ------------------------------------------------------------------------------
command -v dockerd >/dev/null || bash "$HERE/apt_install.sh" "make docker-test" docker.io || exit
DOCKERD=
stop_engine() {
  if [ -n "$DOCKERD" ]; then
    say "stopping the dockerd it started (pid $DOCKERD)"
    kill "$DOCKERD" 2>/dev/null || true
    wait "$DOCKERD" 2>/dev/null || true
  fi
}
trap stop_engine EXIT
if ! docker info >/dev/null 2>&1; then
  say "no Docker engine answers: starting dockerd (log: $T/dockerd.log)"
  nice -n 10 dockerd > "$T/dockerd.log" 2>&1 &
  DOCKERD=$!
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$DOCKERD" 2>/dev/null || { DOCKERD=; die "dockerd stopped at once: $(tail -n1 "$T/dockerd.log")"; }
    sleep 1
  done
  docker info >/dev/null 2>&1 || die "dockerd did not answer within 60 s; see $T/dockerd.log"
fi
say "engine $(docker version -f '{{.Server.Version}}'), client $(command -v docker) $(docker version -f '{{.Client.Version}}'), $(docker info -f '{{.Driver}}')"

# --- the base image --------------------------------------------------------------------------
if ! docker image inspect debian:bookworm >/dev/null 2>&1 \
   && ! timeout 120 docker pull -q debian:bookworm >/dev/null 2>&1; then
  say "no debian:bookworm and no registry: debootstrap bookworm, then docker import"
  command -v debootstrap >/dev/null || bash "$HERE/apt_install.sh" "make docker-test" debootstrap || exit
  # shellcheck source=caffe_build/mirror.sh
  . "$HERE/mirror.sh"
  mirror=${DEBIAN_MIRROR:-$(debian_mirror /etc/apt)}
  [ -n "$mirror" ] || die "no Debian mirror in /etc/apt; set DEBIAN_MIRROR to one (the URL apt would use)"
  root="$T/bookworm"
  nice -n 10 debootstrap --variant=minbase bookworm "$root" "$mirror" > "$T/debootstrap.log" 2>&1 \
    || die "debootstrap bookworm from $mirror failed: $(tail -n1 "$T/debootstrap.log") (log: $T/debootstrap.log)"
  # as Debian's own image: deb822 sources with the main component, no daemons started by apt
  rm -f "$root/etc/apt/sources.list"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: %s\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" "${mirror%/debian}/debian-security" > "$root/etc/apt/sources.list.d/debian.sources"
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d" && chmod 755 "$root/usr/sbin/policy-rc.d"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" -c . | docker import - debian:bookworm >/dev/null
  rm -rf "$root"
fi

# --- the user the README's commands run as ---------------------------------------------------
user=${SUDO_UID:+$SUDO_UID:$SUDO_GID}
user=${user:-${DOCKER_TEST_USER:-4242:4242}}
uid=${user%:*} gid=${user#*:}
[ "$uid" != 0 ] || die "DOCKER_TEST_USER must not be root (the check is that files are not root's)"
docker_gid=$(stat -c %g /var/run/docker.sock)
mkdir -p "$T/data" "$T/runs" "$T/home"
chown "$uid:$gid" "$T/data" "$T/runs" "$T/home"
as_user() {
  setpriv --reuid="$uid" --regid="$gid" --groups="$docker_gid" \
    env HOME="$T/home" PATH="$PATH" bash -c "$1" < /dev/null
}

# --- the README's commands -------------------------------------------------------------------
# "GPU and container": its sh blocks' lines, continuation lines joined, that start with "docker"
readme_commands() {
  cd "$REPO" && awk '/^## GPU and container/ {on = 1; next} /^## / {on = 0}
       on && /^```/ {block = !block; next}
       on && block {line = line $0; if (sub(/\\$/, "", line)) next; print line; line = ""}' \
    README.md | sed -E 's/[[:space:]]+/ /g' | grep '^docker ' || true
}
# the extra certificates reach each `docker build` as a build argument, from the environment
extra=()
if [ -n "${EXTRA_CA:-}" ]; then
  EXTRA_CA_CERTS=$(cat "$EXTRA_CA")
  export EXTRA_CA_CERTS
  extra=(--build-arg EXTRA_CA_CERTS)
fi
n=0
while read -r cmd; do
  case "$cmd" in
    "docker build "*) if [[ "$cmd" == *CAFFE_FLAVOUR=cpu* ]]; then f=cpu; else f=cuda; fi ;;
    "docker run "*) if [[ "$cmd" == *" transferability:cpu "* ]]; then f=cpu; else f=cuda; fi ;;
    *) continue ;;
  esac
  [ "$f" = "$FLAVOUR" ] || continue
  if [[ "$cmd" == *"--gpus"* ]]; then say "skipped (needs a GPU and the NVIDIA Container Toolkit): $cmd"; continue; fi
  cmd=${cmd//\$PWD\/data/$T/data}
  cmd=${cmd//\$PWD\/runs/$T/runs}
  n=$((n + 1))
  log="$T/readme-$n.log"
  say "as $uid:$gid: $cmd (log: $log)"
  t=$(date +%s)
  if [[ "$cmd" == "docker build "* ]] && [ ${#extra[@]} -gt 0 ]; then
    cmd="docker build --build-arg EXTRA_CA_CERTS ${cmd#docker build }"
  fi
  (cd "$REPO" && as_user "$cmd") > "$log" 2>&1 \
    || { tail -n 25 "$log" >&2; die "the README's command failed: $cmd (log: $log)"; }
  say "  done in $(( $(date +%s) - t )) s"
done < <(readme_commands)
[ "$n" -gt 0 ] || die "no docker commands for the $FLAVOUR image in README.md's \"GPU and container\" section"

image=$([ "$FLAVOUR" = cpu ] && echo transferability:cpu || echo transferability:latest)
docker image inspect "$image" >/dev/null 2>&1 || die "the README's commands built no $image"
size_mb=$(( $(docker image inspect -f '{{.Size}}' "$image") / 1000000 ))
say "$image: $size_mb MB"

# --- checks ----------------------------------------------------------------------------------
if [ "$FLAVOUR" = cpu ]; then
  runs="$T/runs/iters40/fashion-mnist/split0"
  for net in baseA A3B; do
    [ -s "$runs/$net/final.caffemodel" ] || die "no $runs/$net/final.caffemodel: the README's runs did not train $net"
  done
  foreign=$(find "$T/data" "$T/runs" \( \! -uid "$uid" -o \! -gid "$gid" \) -printf '%u:%g %p\n' | head -n 5)
  [ -z "$foreign" ] || die "files in the volumes that are not $uid:$gid's: $foreign"
  # the host's files, read with Caffe's own caffe_pb2 (the image's venv), the volume read-only
  docker run --rm -i -v "$runs:/check:ro" "$image" .venv/bin/python - <<'EOF' || die "A3B's frozen layers differ from baseA's (see above)"
from pathlib import Path

import numpy as np

from transferability.caffe_io import read_caffemodel

def blobs(name):
    net = read_caffemodel(Path("/check") / name / "final.caffemodel")
    return {layer.name: [np.asarray(b.data, np.float32).tobytes() for b in layer.blobs]
            for layer in net.layer if layer.blobs}

base, frozen = blobs("baseA"), blobs("A3B")
same = [name for name in ("conv1", "conv2", "conv3") if frozen[name] == base[name]]
moved = [name for name in ("conv4", "conv5", "fc6", "fc7", "fc8") if frozen[name][0] != base[name][0]]
print(f"A3B: {', '.join(same)} bit-identical to baseA; {', '.join(moved)} trained")
raise SystemExit(0 if len(same) == 3 and len(moved) == 5 else 1)
EOF
  [ "$size_mb" -le "$MAX_MB" ] || die "$image is $size_mb MB, over the $MAX_MB MB the slim image is meant to stay under"
else
  say "caffe --version: $(docker run --rm "$image" .caffe/bin/caffe --version 2>&1 | tail -n1)"
  docker run --rm "$image" .venv/bin/python -c 'import caffe; print("pycaffe:", caffe.__file__)' \
    || die "pycaffe does not import in $image"
  # cuobjdump is the toolkit's, which only the build stage has: it reads the final image's libcaffe
  docker build --target build "${extra[@]}" -t transferability:cuda-build "$REPO" > "$T/build-stage.log" 2>&1 \
    || die "docker build --target build failed (log: $T/build-stage.log)"
  cid=$(docker create "$image")
  docker cp -L "$cid:/work/.caffe/lib/libcaffe.so" "$T/libcaffe.so" && docker rm "$cid" >/dev/null
  elfs=$(docker run --rm -v "$T/libcaffe.so:/check/libcaffe.so:ro" transferability:cuda-build \
    cuobjdump --list-elf /check/libcaffe.so)
  ptx=$(docker run --rm -v "$T/libcaffe.so:/check/libcaffe.so:ro" transferability:cuda-build \
    cuobjdump --list-ptx /check/libcaffe.so)
  for arch in ${CUDA_ARCHS:-70 80 86 89 90}; do
    k=$(grep -c "sm_$arch" <<< "$elfs" || true)
    [ "$k" -gt 0 ] || die "libcaffe.so has no kernels for sm_$arch"
    say "sm_$arch: $k kernel images"
  done
  say "PTX: $(grep -o 'sm_[0-9]*' <<< "$ptx" | sort -u | tr '\n' ' ')"
fi
rm -rf "$T/data" "$T/runs" "$T/libcaffe.so"
say "passed in $(( $(date +%s) - START )) s ($FLAVOUR image $size_mb MB; logs in $T)"
