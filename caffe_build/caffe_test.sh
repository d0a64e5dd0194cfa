#!/usr/bin/env bash
# Caffe's own gtest suites for the layers the project's CPU patches touch, compiled from the test
# sources that build.sh keeps in CAFFE_HOME/share/caffe-test and linked against CAFFE_HOME's
# libcaffe: the patched library itself is what they test, gradient checks included.
#
#   caffe_build/caffe_test.sh CAFFE_HOME [SUITE...]   (default: every suite of SUITES below)
set -euo pipefail

CAFFE_HOME=$(realpath -m "${1:?usage: caffe_test.sh CAFFE_HOME [SUITE...]}")
shift
SUITES=${*:-convolution deconvolution im2col pooling lrn neuron}
TESTS="$CAFFE_HOME/share/caffe-test"
JOBS=${JOBS:-$(nproc)}

die() { printf 'error: %s\n' "$*" >&2; exit 1; }
trap 'die "caffe_build/caffe_test.sh, line $LINENO: \"$BASH_COMMAND\" failed (exit $?)"' ERR
[ -f "$TESTS/src/caffe/test/test_caffe_main.cpp" ] \
  || die "no Caffe test sources in $TESTS: rebuild Caffe with this project's build.sh (make caffe)"
[ -e "$CAFFE_HOME/lib/libcaffe.so" ] || die "no libcaffe.so in $CAFFE_HOME/lib"

BIN="$TESTS/bin"
mkdir -p "$BIN"
# the definitions libcaffe was built with, so that its classes have the same layout here
read -r -a DEFS < "$TESTS/definitions" || [ "${#DEFS[@]}" -gt 0 ]
CXX=(g++ -O2 -std=c++14 -pthread "${DEFS[@]}" -I"$TESTS/src" -I"$CAFFE_HOME/include"
     -I/usr/include/hdf5/serial -w)

compile() {  # source object
  [ "$2" -nt "$1" ] || "${CXX[@]}" -c "$1" -o "$2"
}
objects=("$BIN/gtest-all.o" "$BIN/test_caffe_main.o")
compile "$TESTS/src/gtest/gtest-all.cpp" "$BIN/gtest-all.o" &
compile "$TESTS/src/caffe/test/test_caffe_main.cpp" "$BIN/test_caffe_main.o" &
for suite in $SUITES; do
  src="$TESTS/src/caffe/test/test_${suite}_layer.cpp"
  [ -f "$src" ] || die "no test suite '$suite' ($src missing)"
  objects+=("$BIN/test_${suite}_layer.o")
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  compile "$src" "$BIN/test_${suite}_layer.o" &
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || die "a test source did not compile"; done

"${CXX[@]}" "${objects[@]}" -o "$BIN/caffe-layer-tests" -L"$CAFFE_HOME/lib" \
  -Wl,-rpath,"$CAFFE_HOME/lib" -lcaffe -lglog -lgflags -lprotobuf -lboost_system -lboost_thread \
  -lpthread
# gtest's own threads and OpenMP's: the suites run with the threads the user's runs get
exec "$BIN/caffe-layer-tests" --gtest_color=no ${GTEST_FILTER:+--gtest_filter="$GTEST_FILTER"}
