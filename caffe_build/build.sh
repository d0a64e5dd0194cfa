#!/usr/bin/env bash
# Build BVLC Caffe 1.0 from Debian's `caffe` source package into CAFFE_HOME.
#
#   caffe_build/build.sh CAFFE_HOME PYTHON [cpu|cuda|auto]
#
# PYTHON is the interpreter pycaffe is built for (the project's venv; numpy must be installed in it).
# A stamp file in CAFFE_HOME makes a second run with the same recipe a no-op.
set -euo pipefail

CAFFE_HOME=$(realpath -m "${1:?usage: build.sh CAFFE_HOME PYTHON [cpu|cuda|auto]}")
PYTHON=${2:?usage: build.sh CAFFE_HOME PYTHON [cpu|cuda|auto]}
FLAVOUR=${3:-auto}
HERE=$(cd "$(dirname "$0")" && pwd)
VERSION=1.0.0+git20180821.99bd997-8
UPSTREAM=1.0.0+git20180821.99bd997
JOBS=${JOBS:-$(nproc)}

say() { printf '[caffe] %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
# No step fails without a word: any command that stops the script under set -e names itself.
trap 'die "caffe_build/build.sh, line $LINENO: \"$BASH_COMMAND\" failed (exit $?)"' ERR
# shellcheck source=caffe_build/mirror.sh
. "$HERE/mirror.sh"

# --- which flavour ----------------------------------------------------------
# A CUDA toolkit counts when cuBLAS's headers sit beside its own nvcc (PREFIX/bin/nvcc and
# PREFIX/include/cublas_v2.h): a compiler-only CUDA never counts, whatever else /usr/include holds.
# auto: CUDA when CUDA_HOME's nvcc, else the nvcc on PATH, counts; otherwise the CPU.
# cuda: CUDA_HOME's toolkit, else the PATH's when it counts, else Debian's (/usr/bin/nvcc, from the
# non-free component; install_cuda.sh installs it and its g++-11 when they are missing).
# An NVIDIA toolkit (CUDA_HOME other than /usr, CUDA 12 or 13) may hold only the compiler and
# the runtime: cuBLAS and cuRAND then come from NVIDIA's pip wheels, installed into
# CAFFE_HOME/.cuda-wheels (build.sh's own folder, never the system's).
toolkit_root() { dirname "$(dirname "$(realpath -m "$1")")"; }
complete_toolkit() { [ -x "$1" ] && [ -e "$(toolkit_root "$1")/include/cublas_v2.h" ]; }
path_nvcc() {
  if [ -n "${CUDA_HOME:-}" ]; then echo "$CUDA_HOME/bin/nvcc"; else command -v nvcc || true; fi
}
cuda_usable() { local c; c=$(path_nvcc); [ -n "$c" ] && complete_toolkit "$c"; }
find_nvcc() {
  local c; c=$(path_nvcc)
  if [ -n "${CUDA_HOME:-}" ] || { [ -n "$c" ] && complete_toolkit "$c"; }; then echo "$c"
  else echo /usr/bin/nvcc; fi
}
if [ "$FLAVOUR" = auto ]; then
  if cuda_usable; then FLAVOUR=cuda; else FLAVOUR=cpu; fi
fi
case "$FLAVOUR" in cpu|cuda) ;; *) die "flavour must be cpu, cuda or auto, not '$FLAVOUR'";; esac
NVCC=; [ "$FLAVOUR" = cpu ] || NVCC=$(find_nvcc)

# --- an NVIDIA toolkit: its release, its architectures, cuBLAS and cuRAND -------------------------
# Built for carrying (make gpu-bundle): no OpenCV, HDF5 or Python layer, whose libraries would
# make the closure too big to copy (docs/BUILD_NOTES.md); raw Datum LMDBs need none of them.
NVIDIA=; CUDA_RELEASE=; WHEELS=
if [ "$FLAVOUR" = cuda ] && [ "$(toolkit_root "$NVCC")" != /usr ]; then
  NVIDIA=$(toolkit_root "$NVCC")
  [ -x "$NVCC" ] || die "no nvcc at $NVCC: CUDA_HOME must be a CUDA toolkit (CUDA_HOME/bin/nvcc)"
  CUDA_RELEASE=$("$NVCC" --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')
  case "$CUDA_RELEASE" in
    12.*|13.*) ;;
    *) die "CUDA $CUDA_RELEASE at $NVIDIA: this build supports NVIDIA's CUDA 12 and 13 (and Debian's 11.8 with CUDA_HOME unset)";;
  esac
  [ -e "$NVIDIA/include/cuda_runtime.h" ] || die "no cuda_runtime.h in $NVIDIA/include: not a CUDA toolkit"
fi
# Ampere, Ada, Hopper and, where the toolkit knows them, Blackwell (sm_100, sm_120); Debian's
# 11.8 also Volta. PTX for the newest, so that later GPUs compile it at load time.
if [ "$FLAVOUR" = cuda ] && [ -z "${CUDA_ARCHS:-}" ]; then
  if [ -n "$NVIDIA" ]; then wanted="80 86 89 90 100 120"; else wanted="70 80 86 89 90"; fi
  # Debian's nvcc may not be installed yet (install_cuda.sh comes below): then the list stands
  known=$({ [ ! -x "$NVCC" ] || "$NVCC" --list-gpu-arch 2>/dev/null || true; } \
    | sed -n 's/^compute_//p' | tr '\n' ' ')
  CUDA_ARCHS=$(for a in $wanted; do case " $known " in *" $a "*) printf '%s ' "$a";; esac; done)
  CUDA_ARCHS=${CUDA_ARCHS% }
  [ -n "$CUDA_ARCHS" ] || CUDA_ARCHS=$wanted  # an nvcc without --list-gpu-arch: trust the list
fi
if [ -n "$NVIDIA" ] && [ ! -e "$NVIDIA/include/cublas_v2.h" ]; then
  WHEELS="$CAFFE_HOME/.cuda-wheels"
  # the wheels of the toolkit's own release: cuBLAS's version follows CUDA's
  minor=${CUDA_RELEASE#*.}
  case "$CUDA_RELEASE" in
    13.*) CUDA_WHEELS=${CUDA_WHEELS:-nvidia-cublas==13.$minor.* nvidia-curand==10.4.*};;
    12.*) CUDA_WHEELS=${CUDA_WHEELS:-nvidia-cublas-cu12==12.$minor.* nvidia-curand-cu12==10.3.*};;
  esac
fi

# CAFFE_STOCK=1: Debian's source and patches with only the build fix bookworm needs (protobuf),
# none of the project's: the engine that `make bench-cpu` measures the CPU patches against.
STOCK=${CAFFE_STOCK:-}
if [ -n "$STOCK" ] && [ "$FLAVOUR" != cpu ]; then die "CAFFE_STOCK=1 builds the CPU flavour only"; fi
# the recipe: this script and the patches the build applies (the stock one: only the protobuf fix)
if [ -n "$STOCK" ]; then
  RECIPE=("$HERE"/build.sh "$HERE"/patches/protobuf-3.21-set-total-bytes-limit.patch)
else
  RECIPE=("$HERE"/build.sh "$HERE"/patches/*.patch "$HERE"/patches/cpu/*.patch "$HERE"/patches/cuda13/*.patch "$HERE"/patches/no-hdf5/*.patch)
fi
STAMP_WANT="caffe $VERSION $FLAVOUR${STOCK:+ stock} python=$("$PYTHON" -c 'import sys;print(sys.version.split()[0])') recipe=$(cat "${RECIPE[@]}" | md5sum | cut -c1-12)"
if [ "$FLAVOUR" = cuda ]; then STAMP_WANT="$STAMP_WANT nvcc=$NVCC archs=${CUDA_ARCHS// /,}"; fi
if [ -n "$WHEELS" ]; then STAMP_WANT="$STAMP_WANT wheels=${CUDA_WHEELS// /,}"; fi
# CAFFE_BUILD_PLAN=1: say what would be built (flavour, nvcc, architectures, wheels) and stop
if [ -n "${CAFFE_BUILD_PLAN:-}" ]; then say "plan: $STAMP_WANT"; exit 0; fi
if [ -f "$CAFFE_HOME/.stamp" ] && [ "$(cat "$CAFFE_HOME/.stamp")" = "$STAMP_WANT" ] \
   && [ -x "$CAFFE_HOME/bin/caffe" ]; then
  [ -n "${CAFFE_QUIET:-}" ] || say "already installed in $CAFFE_HOME ($FLAVOUR)"
  exit 0
fi
say "building Caffe $VERSION ($FLAVOUR) into $CAFFE_HOME with $JOBS jobs"
START=$(date +%s)

# --- build dependencies from Debian --------------------------------------------
DEPS="cmake make g++ patch xz-utils libboost-filesystem-dev libboost-system-dev libboost-thread-dev
      libboost-python-dev libgflags-dev libgoogle-glog-dev libhdf5-dev libleveldb-dev liblmdb-dev
      libopenblas-dev libopencv-dev libprotobuf-dev libprotoc-dev libsnappy-dev protobuf-compiler"
if [ -n "${TRANSFERABILITY_SLIM_IMAGE:-}" ]; then
  say "this slim image has no compilers or -dev packages: building Caffe here installs them from Debian first"
fi
# apt_install.sh says what failed and what to do; the trap's line would only repeat it
bash "$HERE/apt_install.sh" "Caffe's build" $DEPS || exit
if [ "$FLAVOUR" = cuda ] && [ -z "$NVIDIA" ]; then
  bash "$HERE/install_cuda.sh"
  complete_toolkit "$NVCC" || die "no complete CUDA toolkit at $NVCC (nvcc and cublas_v2.h); unset CUDA_HOME for Debian's"
fi
# Debian's CUDA 11.8 headers in /usr/include would be found before the toolkit's own
if [ -n "$NVIDIA" ] && [ -e /usr/include/cuda_runtime_api.h ]; then
  die "Debian's CUDA headers are in /usr/include (nvidia-cuda-dev): they break a CUDA $CUDA_RELEASE build; build on a machine or container without them"
fi
CUBLAS_INC=; CURAND_INC=
if [ -n "$WHEELS" ]; then
  if [ ! -f "$WHEELS/.done" ] || [ "$(cat "$WHEELS/.done")" != "$CUDA_WHEELS" ]; then
    say "installing cuBLAS and cuRAND from NVIDIA's wheels into $WHEELS: $CUDA_WHEELS"
    rm -rf "$WHEELS"
    # shellcheck disable=SC2086  # the list is words on purpose
    "$PYTHON" -m pip install -q --no-deps --target "$WHEELS" $CUDA_WHEELS \
      || die "pip could not install $CUDA_WHEELS into $WHEELS; $(bash "$HERE/network_hint.sh" "the network to PyPI, or set CUDA_HOME to a toolkit that has cuBLAS" "run the same command again" pip)"
    echo "$CUDA_WHEELS" > "$WHEELS/.done"
  fi
  find_one() { find "$WHEELS/nvidia" -name "$1" -print -quit; }
  CUBLAS_INC=$(dirname "$(find_one cublas_v2.h)")
  CURAND_INC=$(dirname "$(find_one curand.h)")
  [ -n "$(find_one 'libcublas.so.*')" ] && [ -n "$(find_one 'libcurand.so.*')" ] \
    && [ -e "$CUBLAS_INC/cublas_v2.h" ] && [ -e "$CURAND_INC/curand.h" ] \
    || die "the wheels in $WHEELS lack cuBLAS or cuRAND's headers or libraries; remove $WHEELS and retry"
  # the wheels have no unversioned libcublas.so for the linker to find: one folder with both
  # names of each library, which CMake then also writes into libcaffe's RPATH
  rm -rf "$WHEELS/lib" && mkdir -p "$WHEELS/lib"
  find "$WHEELS/nvidia" -name 'lib*.so.*' | while read -r f; do
    n=$(basename "$f"); ln -sfn "$f" "$WHEELS/lib/$n"; ln -sfn "$f" "$WHEELS/lib/${n%%.so.*}.so"
  done
fi

# --- the source package, through a private apt list ------------------------------
# Caffe's CMake files give the shell some paths unquoted (a glob, a symlink's target): a CAFFE_HOME
# with a space or a quote is built in a folder without them, and only installed there.
if [[ "$CAFFE_HOME" =~ ^[A-Za-z0-9._/+@-]+$ ]]; then
  WORK="$CAFFE_HOME/.work"
else
  tmp=${TMPDIR:-/tmp}; [[ "$tmp" =~ ^[A-Za-z0-9._/+@-]+$ ]] || tmp=/tmp
  WORK="$tmp/transferability-caffe-$(printf %s "$CAFFE_HOME" | sha256sum | cut -c1-12)"
  say "building in $WORK: Caffe's own build cannot take the path of $CAFFE_HOME"
fi
mkdir -p "$WORK/apt/lists/partial" "$WORK/download"
# Debian's mirror as this machine's apt already knows it, so that no host is written down here.
mirror=${DEBIAN_MIRROR:-$(debian_mirror "${APT_ETC:-/etc/apt}")}
[ -n "$mirror" ] || die "no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d; set DEBIAN_MIRROR to one (the URL apt would use)"
echo "deb-src $mirror bullseye main" > "$WORK/apt/sources.list"
APT=(apt-get -o "Dir::Etc::SourceList=$WORK/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$WORK/apt/lists" -o APT::Sandbox::User=root)
orig="$WORK/download/caffe_$UPSTREAM.orig.tar.gz"
deb="$WORK/download/caffe_$VERSION.debian.tar.xz"
if [ ! -s "$orig" ] || [ ! -s "$deb" ]; then
  say "fetching the caffe $VERSION source package (bullseye deb-src)"
  fetch_failed="could not fetch caffe's source package from $mirror (bullseye deb-src); $(bash "$HERE/network_hint.sh" "the network, or set DEBIAN_MIRROR to a Debian mirror that has bullseye" "run the same command again")"
  "${APT[@]}" -qq update || die "$fetch_failed"
  (cd "$WORK/download" && "${APT[@]}" -qq source --download-only "caffe=$VERSION") || die "$fetch_failed"
fi

SRC="$WORK/src"
rm -rf "$SRC" && mkdir -p "$SRC"
tar -xzf "$orig" -C "$SRC"
tar -xJf "$deb" -C "$SRC"
# Debian's own patches (OpenCV 4, Python 3, CMake), in their series order, then ours for bookworm.
while read -r p; do
  case "$p" in ''|'#'*) continue;; esac
  patch -s -d "$SRC" -p1 < "$SRC/debian/patches/$p"
done < "$SRC/debian/patches/series"
if [ -n "$STOCK" ]; then
  patch -s -d "$SRC" -p1 < "$HERE/patches/protobuf-3.21-set-total-bytes-limit.patch"
else
  for p in "$HERE"/patches/*.patch; do
    patch -s -d "$SRC" -p1 < "$p"
  done
  # the CPU layers: vectorisable loops, batched convolutions, OpenMP threads (patches/cpu/*)
  for p in "$HERE"/patches/cpu/*.patch; do
    patch -s -d "$SRC" -p1 < "$p"
  done
fi
if [ "${CUDA_RELEASE%%.*}" = 13 ]; then
  for p in "$HERE"/patches/cuda13/*.patch; do patch -s -d "$SRC" -p1 < "$p"; done
fi
if [ -n "$NVIDIA" ]; then  # built with USE_HDF5=OFF (below)
  for p in "$HERE"/patches/no-hdf5/*.patch; do patch -s -d "$SRC" -p1 < "$p"; done
fi

# --- configure, build, install -------------------------------------------------
read -r PY_INC PY_LIB < <("$PYTHON" - <<'EOF'
import sysconfig, os
inc = sysconfig.get_paths()["include"]
libdir = sysconfig.get_config_var("LIBDIR")
lib = os.path.join(libdir, sysconfig.get_config_var("LDLIBRARY"))
print(inc, lib)
EOF
)
CMAKE_ARGS=(
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$CAFFE_HOME"
  -DCMAKE_INSTALL_RPATH="$CAFFE_HOME/lib" -DCMAKE_INSTALL_RPATH_USE_LINK_PATH=ON
  -DBLAS=Open -DBUILD_docs=OFF -DBUILD_matlab=OFF -DBUILD_python=ON -DBUILD_python_layer=ON
  -Dpython_version=3 -DPYTHON_EXECUTABLE="$(command -v "$PYTHON")"
  -DPYTHON_INCLUDE_DIR="$PY_INC" -DPYTHON_LIBRARY="$PY_LIB"
  -DUSE_LMDB=ON -DUSE_LEVELDB=ON -DUSE_OPENCV=ON -DUSE_CUDNN=OFF
)
if [ "$FLAVOUR" = cpu ]; then
  CMAKE_ARGS+=(-DCPU_ONLY=ON)
  [ -n "$STOCK" ] || CMAKE_ARGS+=(-DUSE_OPENMP=ON)
else
  CMAKE_ARGS+=(-DCPU_ONLY=OFF -DCUDA_ARCH_NAME=Manual -DCUDA_ARCH_BIN="$CUDA_ARCHS"
               -DCUDA_ARCH_PTX="${CUDA_ARCHS##* }" -DCUDA_TOOLKIT_ROOT_DIR="$(toolkit_root "$NVCC")"
               -DCUDA_NVCC_EXECUTABLE="$NVCC")
  # nvcc 11.8 refuses gcc 12; Debian's toolkit brings g++-11 for it
  if [ -z "$NVIDIA" ] && command -v g++-11 >/dev/null; then
    CMAKE_ARGS+=(-DCUDA_HOST_COMPILER=/usr/bin/g++-11)
  fi
fi
if [ -n "$NVIDIA" ]; then
  # --as-needed: CMake links HDF5 whatever USE_HDF5 says; unused, it is then not needed
  CMAKE_ARGS+=(-DUSE_OPENCV=OFF -DUSE_HDF5=OFF -DBUILD_python_layer=OFF
               -DCMAKE_SHARED_LINKER_FLAGS=-Wl,--as-needed -DCMAKE_EXE_LINKER_FLAGS=-Wl,--as-needed)
fi
if [ -n "$WHEELS" ]; then
  # the wheels' lib folders join the RPATH through CMAKE_INSTALL_RPATH_USE_LINK_PATH
  CMAKE_ARGS+=(-DCMAKE_LIBRARY_PATH="$WHEELS/lib" -DCMAKE_CXX_FLAGS="-I$CUBLAS_INC -I$CURAND_INC"
               -DCUDA_NVCC_FLAGS="-I$CUBLAS_INC;-I$CURAND_INC")
fi
BUILD="$WORK/build"
rm -rf "$BUILD" && mkdir -p "$BUILD"
cmake -S "$SRC" -B "$BUILD" "${CMAKE_ARGS[@]}" > "$WORK/cmake.log" 2>&1 \
  || { tail -n 30 "$WORK/cmake.log" >&2; die "cmake failed; full log in $WORK/cmake.log"; }
say "compiling (log: $WORK/build.log)"
make -C "$BUILD" -j"$JOBS" > "$WORK/build.log" 2>&1 \
  || { grep -m5 -B2 -A5 'error' "$WORK/build.log" >&2; die "build failed; full log in $WORK/build.log"; }
make -C "$BUILD" install > "$WORK/install.log" 2>&1 || die "install failed; see $WORK/install.log"
# Caffe's own tests of the layers, kept for caffe_test.sh (make caffe-test) with the definitions
# the library was compiled with
TESTS="$CAFFE_HOME/share/caffe-test"
rm -rf "$TESTS" && mkdir -p "$TESTS/src/caffe" "$TESTS/src/gtest"
cp -r "$SRC/src/caffe/test" "$TESTS/src/caffe/" && cp "$SRC"/src/gtest/gtest* "$TESTS/src/gtest/"
sed -n 's/^CXX_DEFINES = //p' "$BUILD/src/caffe/CMakeFiles/caffe.dir/flags.make" \
  | tr ' ' '\n' | grep -v '^-Dcaffe_EXPORTS$' | tr '\n' ' ' > "$TESTS/definitions"
# pycaffe lands in lib/python3/dist-packages (Debian's layout); the venv's caffe.pth points there.
rm -rf "$SRC" "$BUILD"
"$CAFFE_HOME/bin/caffe" --version >/dev/null 2>&1 || die "the built caffe does not run"
echo "$STAMP_WANT" > "$CAFFE_HOME/.stamp"
say "done in $(( $(date +%s) - START )) s: $("$CAFFE_HOME/bin/caffe" --version 2>&1 | tail -n1)"
