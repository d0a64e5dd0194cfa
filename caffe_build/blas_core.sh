#!/usr/bin/env bash
# Prints the OpenBLAS kernel set (an OPENBLAS_CORETYPE value) this CPU should use when Debian's
# OpenBLAS would choose a poorer one; prints nothing when OpenBLAS's own choice stands.
#
# Debian 12's OpenBLAS 0.3.21 picks its kernels by CPU model, and a CPU newer than it (Intel's
# Xeon of family 6, model 207, on 2026-12-03) falls back to the SSE3 kernels of the Pentium 4
# ("Prescott"): the Fashion-MNIST baseB then took 25.4 ms an iteration against 18.1 ms with the
# AVX-512 kernels (SkylakeX) and 20.5 ms with the AVX2 ones (Haswell), the CPU being able to run both.
set -uo pipefail

core=$(python3 -c 'import ctypes
f = ctypes.CDLL("libopenblas.so.0").openblas_get_corename
f.restype = ctypes.c_char_p
print(f().decode())' 2>/dev/null) || exit 0
case "$core" in
  Prescott|Core2|Penryn|Dunnington|Nehalem|Sandybridge|Katmai|Banias) ;;  # no AVX2 kernels
  *) exit 0 ;;
esac
flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
has() { for f in "$@"; do [[ "$flags" == *" $f "* ]] || return 1; done; }
if has avx512f avx512cd avx512bw avx512dq avx512vl; then
  echo SkylakeX
elif has avx2 fma; then
  echo Haswell
fi
