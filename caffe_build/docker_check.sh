#!/usr/bin/env bash
# Check the Dockerfile without a Docker engine: replay its steps in a debootstrapped Debian 12 root.
#
#   caffe_build/docker_check.sh CONTEXT WORKROOT [cuda|cpu]
#
# CONTEXT is the project (the build context, with its Dockerfile and .dockerignore). WORKROOT keeps
# a pristine debootstrapped bookworm (base/, made once), the .deb cache (apt-archives/) and the
# root of this check (rootfs/, made afresh from base/ each time and left for inspection).
# `FROM debian:bookworm` becomes base/ with the image's apt sources (Debian's main component only)
# and policy-rc.d; ARG, ENV, WORKDIR and COPY (honouring .dockerignore) are applied; each RUN runs
# with `/bin/sh -c` in a chroot with the image's environment. The third argument is the build
# argument CAFFE_FLAVOUR. Then, as `docker run IMAGE ...` would: make help, `make caffe` (must find
# Caffe built), ldd, caffe --version, pycaffe; for CUDA, cuobjdump and `make caffe-cuda` (must find
# the same build); for the CPU image, a 20-iteration Fashion-MNIST run through `make base-A`
# (DOCKER_CHECK_TRAIN=1 or 0 forces or skips it).
# Needs root; installs debootstrap from Debian when missing.
set -euo pipefail

CONTEXT=$(realpath "${1:?usage: docker_check.sh CONTEXT WORKROOT [cuda|cpu]}")
WORKROOT=$(realpath -m "${2:?usage: docker_check.sh CONTEXT WORKROOT [cuda|cpu]}")
FLAVOUR=${3:-cuda}
case "$FLAVOUR" in cuda|cpu) ;; *) echo "error: flavour must be cuda or cpu, not '$FLAVOUR'" >&2; exit 1;; esac
SUITE=bookworm
say() { printf '[docker-check] %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "docker-check needs root (debootstrap, chroot, mount)"
[ -f "$CONTEXT/Dockerfile" ] || die "no Dockerfile in $CONTEXT"
START=$(date +%s)

# Debian's mirror as this machine's apt knows it (no host name is written down here).
sources_uris() {
  awk '/^URIs:/{for (i = 2; i <= NF; i++) print $i}' /etc/apt/sources.list.d/*.sources 2>/dev/null
  awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; break}}' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
}
mirror=${DEBIAN_MIRROR:-$(sources_uris | grep -v security | head -n1 || true)}
security=$(sources_uris | grep security | head -n1 || true)
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt; set DEBIAN_MIRROR"
[ -n "$security" ] || security="${mirror%/debian}/debian-security"

# --- FROM debian:bookworm --------------------------------------------------------------------------
mkdir -p "$WORKROOT/apt-archives/partial"
if [ ! -f "$WORKROOT/base/.complete" ]; then
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap from Debian"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  say "debootstrap $SUITE (minbase) into $WORKROOT/base"
  rm -rf "$WORKROOT/base"
  t=$(date +%s)
  debootstrap --variant=minbase --cache-dir="$WORKROOT/apt-archives" "$SUITE" "$WORKROOT/base" "$mirror" \
    > "$WORKROOT/debootstrap.log" 2>&1 || { tail -n 20 "$WORKROOT/debootstrap.log" >&2; die "debootstrap failed"; }
  # as in the debian:bookworm image: deb822 sources with the main component, no daemons started
  rm -f "$WORKROOT/base/etc/apt/sources.list"
  cat > "$WORKROOT/base/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  printf '#!/bin/sh\nexit 101\n' > "$WORKROOT/base/usr/sbin/policy-rc.d"
  chmod 755 "$WORKROOT/base/usr/sbin/policy-rc.d"
  rm -rf "$WORKROOT/base/var/lib/apt/lists/"* "$WORKROOT/base/var/cache/apt/archives/"*.deb
  touch "$WORKROOT/base/.complete"
  say "debootstrap: $(( $(date +%s) - t )) s"
fi

R="$WORKROOT/rootfs"
cleanup() {
  for m in var/cache/apt/archives dev/pts dev sys proc; do
    mountpoint -q "$R/$m" 2>/dev/null && umount -l "$R/$m"
  done
  return 0
}
trap cleanup EXIT
cleanup
# DOCKER_CHECK_RUN_ONLY=1: keep the root the last check built, and run only the `docker run` checks
RUN_ONLY=${DOCKER_CHECK_RUN_ONLY:-0}
if [ "$RUN_ONLY" = 1 ]; then
  [ -f "$WORKROOT/image.env" ] && [ -d "$R/work" ] || die "no image from an earlier check in $WORKROOT"
else
  ! grep -q " $R/" /proc/mounts || die "something is still mounted under $R"
  rm -rf "$R" "$WORKROOT/image.env"
  cp -a "$WORKROOT/base" "$R"
  rm -f "$R/.complete"
fi
cp -L /etc/resolv.conf "$R/etc/resolv.conf"
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys" 2>/dev/null || mount --bind /sys "$R/sys"
mount --bind /dev "$R/dev"
mount --bind /dev/pts "$R/dev/pts"
# the .deb cache is kept between checks (a docker build would download them again)
mount --bind "$WORKROOT/apt-archives" "$R/var/cache/apt/archives"
# This machine's own trust store for HTTPS (PyPI), where its environment names one: a network that
# re-signs HTTPS needs it in the chroot as it would in `docker build` here. Not part of the image.
: > "$WORKROOT/host.env"
for v in SSL_CERT_FILE REQUESTS_CA_BUNDLE PIP_CERT CURL_CA_BUNDLE; do
  f=${!v:-}
  if [ -n "$f" ] && [ -f "$f" ]; then
    cp -L "$f" "$R/tmp/host-ca-$v.crt"
    echo "$v=/tmp/host-ca-$v.crt" >> "$WORKROOT/host.env"
  fi
done

# --- the Dockerfile's steps ------------------------------------------------------------------------
[ "$RUN_ONLY" = 1 ] || python3 - "$CONTEXT" "$R" "CAFFE_FLAVOUR=$FLAVOUR" "$WORKROOT/image.env" "$WORKROOT/host.env" <<'PYEOF'
import json, os, re, shlex, shutil, subprocess, sys, time

context, root, build_arg, env_out, host_env_file = sys.argv[1:6]
host_env = dict(line.rstrip("\n").split("=", 1) for line in open(host_env_file) if "=" in line)
build_args = dict([build_arg.split("=", 1)])
env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
       "HOSTNAME": "docker-check"}
args = {}
workdir = "/"
shell = ["/bin/sh", "-c"]


def log(msg):
    print(f"[docker-check] {msg}", flush=True)


def subst(text):
    values = {**args, **env}
    def one(m):
        name = m.group(1) or m.group(3)
        if m.group(2) is not None:  # ${NAME:-default}
            return values.get(name) or m.group(2)
        return values.get(name, "")
    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)", one, text)


def instructions(path):
    """(keyword, argument) for each instruction, continuation lines joined, comments dropped."""
    out, buf = [], ""
    for raw in open(path, encoding="utf-8").read().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        keyword, _, rest = buf.strip().partition(" ")
        out.append((keyword.upper(), rest.strip()))
        buf = ""
    return out


def ignore_patterns():
    path = os.path.join(context, ".dockerignore")
    pats = []
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            neg = line.startswith("!")
            pat = os.path.normpath(line[1:] if neg else line).lstrip("/")
            rx, i = "", 0
            while i < len(pat):
                if pat.startswith("**/", i):
                    rx, i = rx + "(?:.*/)?", i + 3
                elif pat.startswith("**", i):
                    rx, i = rx + ".*", i + 2
                elif pat[i] == "*":
                    rx, i = rx + "[^/]*", i + 1
                elif pat[i] == "?":
                    rx, i = rx + "[^/]", i + 1
                else:
                    rx, i = rx + re.escape(pat[i]), i + 1
            pats.append((re.compile(rx), neg))
    return pats


PATTERNS = ignore_patterns()


def ignored(rel):
    parts = rel.split("/")
    prefixes = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
    result = False
    for rx, neg in PATTERNS:
        if any(rx.fullmatch(p) for p in prefixes):
            result = not neg
    return result


def copy_tree(src_rel, dest):
    """COPY src dest: a folder's contents, or a file, into dest (inside root)."""
    src = os.path.normpath(os.path.join(context, src_rel))
    target = root + dest
    n = 0
    if os.path.isdir(src):
        for d, dirs, files in os.walk(src):
            rel_d = os.path.relpath(d, context)
            rel_d = "" if rel_d == "." else rel_d
            keep = []
            for name in dirs:
                rel = f"{rel_d}/{name}".lstrip("/")
                full = os.path.join(d, name)
                if ignored(rel):
                    continue
                if os.path.islink(full):
                    files.append(name)
                else:
                    keep.append(name)
            dirs[:] = keep
            out_d = os.path.join(target, os.path.relpath(d, src))
            os.makedirs(out_d, exist_ok=True)
            for name in files:
                rel = f"{rel_d}/{name}".lstrip("/")
                if ignored(rel):
                    continue
                full, out = os.path.join(d, name), os.path.join(out_d, name)
                if os.path.islink(full):
                    if os.path.lexists(out):
                        os.unlink(out)
                    os.symlink(os.readlink(full), out)
                else:
                    shutil.copy2(full, out)
                n += 1
    else:
        out = os.path.join(target, os.path.basename(src)) if dest.endswith("/") else target
        os.makedirs(os.path.dirname(out), exist_ok=True)
        shutil.copy2(src, out)
        n = 1
    return n


steps = instructions(os.path.join(context, "Dockerfile"))
for i, (kw, rest) in enumerate(steps, 1):
    head = f"step {i}/{len(steps)}: {kw} {rest[:100]}{'...' if len(rest) > 100 else ''}"
    if kw == "FROM":
        if subst(rest).split()[0] not in ("debian:bookworm", "docker.io/library/debian:bookworm"):
            sys.exit(f"error: docker-check replays FROM debian:bookworm only, not {rest}")
        log(head + " (debootstrapped)")
    elif kw == "ARG":
        name, _, default = rest.partition("=")
        args[name] = build_args.get(name, subst(default))
        log(f"{head} -> {name}={args[name]}")
    elif kw == "ENV":
        if "=" in rest.split()[0]:
            for item in shlex.split(rest):
                k, _, v = item.partition("=")
                env[k] = subst(v)
        else:
            k, _, v = rest.partition(" ")
            env[k] = subst(v.strip())
        log(head)
    elif kw == "WORKDIR":
        workdir = os.path.normpath(os.path.join(workdir, subst(rest)))
        os.makedirs(root + workdir, exist_ok=True)
        log(head)
    elif kw == "COPY":
        words = [w for w in shlex.split(subst(rest)) if not w.startswith("--")]
        *srcs, dest = words
        dest = dest if dest.startswith("/") else os.path.join(workdir, dest) + ("/" if dest.endswith("/") else "")
        n = sum(copy_tree(s, dest) for s in srcs)
        log(f"{head} ({n} files)")
    elif kw == "RUN":
        cmd = json.loads(rest) if rest.startswith("[") else shell + [rest]
        run_env = {**args, **env, **host_env}
        log(head)
        t = time.time()
        proc = subprocess.run(["chroot", root, "/usr/bin/env", "-i", *[f"{k}={v}" for k, v in run_env.items()],
                               "/bin/sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", workdir, *cmd])
        log(f"step {i} took {time.time() - t:.0f} s (exit {proc.returncode})")
        if proc.returncode:
            sys.exit(f"error: step {i} failed: RUN {rest}")
    elif kw == "SHELL":
        shell = json.loads(rest)
        log(head)
    elif kw in ("CMD", "ENTRYPOINT", "VOLUME", "LABEL", "EXPOSE", "STOPSIGNAL", "HEALTHCHECK"):
        log(f"{head} (run-time only)")
    else:
        sys.exit(f"error: docker-check does not replay {kw}")

with open(env_out, "w") as f:
    for k, v in env.items():
        f.write(f"{k}={v}\n")
    f.write(f"WORKDIR={workdir}\n")
PYEOF
BUILD_S=$(( $(date +%s) - START ))
[ "$RUN_ONLY" = 1 ] || say "image steps done in $BUILD_S s"

# --- as `docker run IMAGE ...` would ------------------------------------------------------------------
mapfile -t IMAGE_ENV < <(grep -v '^WORKDIR=' "$WORKROOT/image.env"; cat "$WORKROOT/host.env")
WD=$(sed -n 's/^WORKDIR=//p' "$WORKROOT/image.env")
in_image() { chroot "$R" /usr/bin/env -i "${IMAGE_ENV[@]}" /bin/bash -c "cd $WD && $*"; }
HOME_C=$(in_image 'echo "${CAFFE_HOME:-$PWD/.caffe}"')
# finds_built CMD WHY: CMD in the image must find Caffe already installed, else die with WHY
finds_built() { local out; out=$(in_image "$1" 2>&1); echo "$out"; echo "$out" | grep -q 'already installed' || die "$2"; }
say "docker run IMAGE make help"
in_image 'make help | head -n 5'
say "docker run IMAGE make caffe (the image's Caffe must be found, not rebuilt)"
finds_built 'make caffe' "make caffe in the image did not find the image's Caffe"
say "ldd $HOME_C/bin/caffe, libcaffe and pycaffe's _caffe.so: every library found"
if in_image "ldd $HOME_C/bin/caffe $HOME_C/lib/libcaffe.so* $HOME_C/lib/python3/dist-packages/caffe/_caffe.so | grep 'not found'"; then
  die "unresolved libraries"
fi
in_image "ldd $HOME_C/lib/libcaffe.so.1.0.0 | grep -E 'libcu(da|blas|rand)' || true"
say "caffe --version"
in_image "$HOME_C/bin/caffe --version"
say "pycaffe"
in_image ".venv/bin/python -c 'import caffe; caffe.set_mode_cpu(); print(caffe.__file__)'"
if [ "$FLAVOUR" = cuda ]; then
  say "architectures in libcaffe (cuobjdump)"
  in_image "cuobjdump --list-elf $HOME_C/lib/libcaffe.so.1.0.0 | sed 's/.*\.\(sm_[0-9]*\)\..*/\1/' | sort | uniq -c"
  in_image "cuobjdump --list-ptx $HOME_C/lib/libcaffe.so.1.0.0 | sed 's/.*\.\(sm_[0-9]*\)\..*/\1/' | sort | uniq -c | sed 's/$/ (PTX)/'"
  say "make caffe-cuda CAFFE_CUDA_HOME=$HOME_C (the same recipe: must find it built)"
  finds_built "make caffe-cuda CAFFE_CUDA_HOME=$HOME_C" "make caffe-cuda does not match the image's build"
  say "caffe device_query -gpu 0 (no GPU here: an error is expected)"
  in_image "$HOME_C/bin/caffe device_query -gpu 0 2>&1 | grep -E 'CUDA|GPU|Check failed' | head -n 3" || true
fi
# A CUDA build of Caffe 1.0 needs a CUDA driver even for CPU runs (its data layers' prefetch thread
# calls cudaGetDevice), so without a GPU here only the CPU image trains.
if [ "${DOCKER_CHECK_TRAIN:-$([ "$FLAVOUR" = cpu ] && echo 1 || echo 0)}" = 1 ]; then
  say "docker run IMAGE make base-A DATASET=fashion-mnist ITERS=20 (CPU)"
  t=$(date +%s)
  in_image 'make base-A DATASET=fashion-mnist ITERS=20 JOBS_DEMO=1 > /tmp/train.out 2>&1; rc=$?; tail -n 5 /tmp/train.out; exit $rc'
  in_image 'ls runs/iters20/fashion-mnist/split0/baseA/final.caffemodel' || die "no final.caffemodel"
  say "training check: $(( $(date +%s) - t )) s"
fi
say "OK: the Dockerfile builds (flavour $FLAVOUR) in $BUILD_S s; all checks passed in $(( $(date +%s) - START )) s"
