#!/usr/bin/env bash
# Check that a bundle's ELF files need nothing outside it but what a GPU host brings.
#
#   closure.sh BUNDLE_DIR
#
# Every NEEDED library of bin/* and lib/* is either in lib/ or in the host's allowance: the C
# library family, libstdc++ and libgcc, and the NVIDIA driver and CUDA libraries listed in
# lib/HOST_LIBS.txt (which gpu-check.sh looks for on the host). Each file's RUNPATH must point
# into the bundle ($ORIGIN), and ldd, with LD_LIBRARY_PATH cleared, must find every library that
# is not the host's CUDA in the bundle or in the system's C and C++ runtime.
# Prints one line per problem and exits 1 when there is any; 0 and one summary line otherwise.
set -euo pipefail

DIR=$(cd "${1:?usage: closure.sh BUNDLE_DIR}" && pwd)
# The system's part: glibc's libraries, the C++ and GCC runtimes.
SYSTEM='^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|lib(c|m|dl|rt|pthread|resolv|util|mvec)\.so\.[0-9]+|libstdc\+\+\.so\.6|libgcc_s\.so\.1)$'
# The host's GPU part: driver, CUDA runtime, cuBLAS, cuRAND, cuDNN.
CUDA='^lib(cuda|cudart|cublas|cublasLt|curand|cudnn[a-z_]*|nvidia-ml)\.so(\.[0-9]+)*$'

problems=0
problem() { echo "closure: $*"; problems=$((problems + 1)); }
is_elf() { [ -f "$1" ] && [ ! -L "$1" ] && [ "$(head -c4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }

[ -d "$DIR/bin" ] && [ -d "$DIR/lib" ] || { echo "closure: $DIR has no bin/ and lib/"; exit 1; }
host_libs=$(cat "$DIR/lib/HOST_LIBS.txt" 2>/dev/null || true)
files=0
for f in "$DIR"/bin/* "$DIR"/lib/*; do
  is_elf "$f" || continue
  files=$((files + 1))
  rel=${f#"$DIR"/}
  runpath=$(readelf -d "$f" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p')
  case "$rel" in
    bin/*) want='$ORIGIN/../lib';;
    *) want='$ORIGIN';;
  esac
  [ "$runpath" = "$want" ] || problem "$rel: RUNPATH is '${runpath}', not '$want'"
  for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    if [ -e "$DIR/lib/$lib" ] || [[ $lib =~ $SYSTEM ]]; then continue; fi
    if [[ $lib =~ $CUDA ]]; then
      grep -qx "$lib" <<<"$host_libs" || problem "$rel needs $lib, missing from lib/HOST_LIBS.txt"
      continue
    fi
    problem "$rel needs $lib, which is neither in lib/ nor a system or CUDA library"
  done
  # what the loader really does, with nothing but the bundle's RUNPATH to go on
  while read -r name _ path _; do
    [ -n "$name" ] || continue
    if [ "$path" = "not" ]; then
      [[ $name =~ $CUDA ]] || problem "$rel: ldd finds no $name"
    elif [[ $path == /* ]] && [[ $path != "$DIR"/* ]] && ! [[ $name =~ $SYSTEM|$CUDA ]]; then
      problem "$rel: ldd loads $name from $path, outside the bundle"
    fi
  done < <(env -u LD_LIBRARY_PATH ldd "$f" 2>/dev/null | awk '$2 == "=>" {print $1, $2, $3, $4}')
done
[ "$files" -gt 0 ] || problem "no ELF file in $DIR/bin or $DIR/lib"
if [ "$problems" -gt 0 ]; then exit 1; fi
echo "closure: $files ELF files need only lib/, the system's C/C++ runtime and the host's: $(echo $host_libs)"
