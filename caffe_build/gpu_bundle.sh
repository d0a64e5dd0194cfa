#!/usr/bin/env bash
# The Caffe bundle to carry to a GPU machine (make gpu-bundle): one .tar.gz that runs where it is
# unpacked, with no package manager, registry or root there.
#
#   caffe_build/gpu_bundle.sh CAFFE_HOME DATA OUT.tar.gz
#
# caffe-cuda-bundle/ in it holds bin/ (caffe and its tools), lib/ (libcaffe and every library it
# needs but the system's C/C++ runtime and the host's CUDA, RUNPATH $ORIGIN), python/ (pycaffe's
# Python files, caffe_pb2 and protobuf's pure-Python implementation), nets/ and data/ (the small
# Fashion-MNIST nets and sets, the paper's CaffeNet), check/ and gpu-check.sh.
# Environment: TRANSFERABILITY (the project's CLI), PYTHON (the venv's, for protobuf),
# BUNDLE_ITERS (300), BUNDLE_TRAIN_IMAGES (5000), BUNDLE_VALID_IMAGES (1000), BUNDLE_LIMIT_MIB (60),
# BUNDLE_GZIP_LEVEL (9).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
usage="usage: gpu_bundle.sh CAFFE_HOME DATA OUT.tar.gz"
CAFFE_HOME=$(realpath -m "${1:?$usage}")
DATA=$(realpath -m "${2:?$usage}")
OUT=$(realpath -m "${3:?$usage}")
TRANSFERABILITY=${TRANSFERABILITY:-transferability}
PYTHON=${PYTHON:-python3}
LIMIT_MIB=${BUNDLE_LIMIT_MIB:-60}
NAME=caffe-cuda-bundle

say() { printf '[bundle] %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }
trap 'die "caffe_build/gpu_bundle.sh, line $LINENO: \"$BASH_COMMAND\" failed (exit $?)"' ERR

[ -x "$CAFFE_HOME/bin/caffe" ] || die "no Caffe at $CAFFE_HOME (bin/caffe missing): make caffe-cuda CUDA_HOME=... first"
if ! command -v patchelf >/dev/null; then
  say "installing patchelf from Debian"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      --no-install-recommends patchelf >/dev/null; } || die "could not install patchelf (apt-get install patchelf)"
fi

mkdir -p "$(dirname "$OUT")"
WORK=$(mktemp -d "$(dirname "$OUT")/.bundle.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
STAGE="$WORK/$NAME"
mkdir -p "$STAGE/bin" "$STAGE/lib" "$STAGE/python" "$STAGE/check"

is_elf() { [ -f "$1" ] && [ "$(head -c4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }
SYSTEM='^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|lib(c|m|dl|rt|pthread|resolv|util|mvec)\.so\.[0-9]+|libstdc\+\+\.so\.6|libgcc_s\.so\.1)$'
CUDA='^lib(cuda|cudart|cublas|cublasLt|curand|cudnn[a-z_]*|nvidia-ml)\.so(\.[0-9]+)*$'

# --- bin/ and lib/: Caffe, then every library ldd resolves for it ------------------------------
for f in "$CAFFE_HOME"/bin/*; do
  if is_elf "$f"; then cp -L "$f" "$STAGE/bin/"; fi
done
caffe_lib=$(readelf -d "$CAFFE_HOME/bin/caffe" | sed -n 's/.*(NEEDED).*\[\(libcaffe[^]]*\)\]/\1/p')
[ -n "$caffe_lib" ] || die "$CAFFE_HOME/bin/caffe needs no libcaffe: a static build is not supported"
cp -L "$CAFFE_HOME/lib/$caffe_lib" "$STAGE/lib/$caffe_lib"
: > "$WORK/host"
for f in "$STAGE"/bin/* "$STAGE/lib/$caffe_lib"; do
  # ldd lists the whole closure; the copies still carry their build's RUNPATH here
  while read -r name _ path _; do
    if [[ $name =~ $SYSTEM ]]; then continue; fi
    if [[ $name =~ $CUDA ]]; then echo "$name" >> "$WORK/host"; continue; fi
    [ "$path" != not ] || die "${f##*/} needs $name, which ldd cannot find here"
    [ -e "$STAGE/lib/$name" ] || cp -L "$path" "$STAGE/lib/$name"
  done < <(env -u LD_LIBRARY_PATH ldd "$f" | awk '$2 == "=>" {print $1, $2, $3, $4}')
done
sort -u "$WORK/host" > "$STAGE/lib/HOST_LIBS.txt"
chmod u+w "$STAGE"/lib/* "$STAGE"/bin/*
strip --strip-unneeded "$STAGE"/bin/* "$STAGE/lib/$caffe_lib"
for f in "$STAGE"/bin/*; do patchelf --set-rpath '$ORIGIN/../lib' "$f"; done
for f in "$STAGE"/lib/*.so*; do patchelf --set-rpath '$ORIGIN' "$f"; done

# --- python/: pycaffe's Python files and caffe_pb2, protobuf in pure Python ----------------------
cp -r "$CAFFE_HOME/lib/python3/dist-packages/caffe" "$STAGE/python/caffe"
protobuf=$("$PYTHON" -c 'import google.protobuf as p, os; print(os.path.dirname(p.__file__))') \
  || die "$PYTHON has no protobuf: make setup first"
mkdir -p "$STAGE/python/google"
cp -r "$protobuf" "$STAGE/python/google/protobuf"
find "$STAGE/python" \( -name '*.so' -o -name '__pycache__' \) -prune -exec rm -rf {} +

# --- nets/ and data/, the check -----------------------------------------------------------------
"$TRANSFERABILITY" gpu-bundle-files "$STAGE" --data "$DATA" --iters "${BUNDLE_ITERS:-300}" \
  --train-images "${BUNDLE_TRAIN_IMAGES:-5000}" --valid-images "${BUNDLE_VALID_IMAGES:-1000}" >/dev/null
cp "$HERE/bundle/gpu-check.sh" "$STAGE/gpu-check.sh"
cp "$HERE/bundle/weights.py" "$HERE/bundle/closure.sh" "$STAGE/check/"
{
  echo "made $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname -s) from $CAFFE_HOME"
  echo "build: $(cat "$CAFFE_HOME/.stamp" 2>/dev/null || echo unknown)"
  echo "project commit: $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "host libraries: $(echo $(cat "$STAGE/lib/HOST_LIBS.txt"))"
} > "$STAGE/BUILD.txt"

bash "$HERE/bundle/closure.sh" "$STAGE" >&2 || die "the bundle's libraries are not closed (lines above)"

tar -C "$WORK" --owner=0 --group=0 --sort=name -I "gzip -${BUNDLE_GZIP_LEVEL:-9}" -cf "$WORK/out.tar.gz" "$NAME"
size=$(stat -c %s "$WORK/out.tar.gz")
if [ "$size" -gt $((LIMIT_MIB * 1048576)) ]; then
  die "the bundle is $((size / 1048576)) MiB, over the ${LIMIT_MIB} MiB limit; nothing written"
fi
mv -f "$WORK/out.tar.gz" "$OUT"
say "$OUT: $(awk -v s="$size" 'BEGIN {printf "%.1f", s / 1048576}') MiB ($(du -sm "$STAGE" | cut -f1) MiB unpacked, $(ls "$STAGE/lib" | grep -c '\.so') libraries); the host brings: $(echo $(cat "$STAGE/lib/HOST_LIBS.txt"))"
