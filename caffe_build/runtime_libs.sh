#!/usr/bin/env bash
# The system's shared libraries that Caffe and the venv load, for the slim image's final stage.
#
#   caffe_build/runtime_libs.sh copy DEST BASE_LIBS DIR...   copy them under DEST at their own paths
#   caffe_build/runtime_libs.sh check DIR...                 every library of DIR's files resolves
#
# The Dockerfile's build stage copies, for every ELF file under DIR (.caffe/, .venv/), each library
# ldd resolves outside DIR, symlinks followed, to DEST/<its directory>/<its name>; the final stage
# takes DEST/ as / with one COPY: Caffe's runtime libraries without their -dev packages, compilers,
# or the packages' other files. BASE_LIBS lists the real paths of the libraries the base image has
# already: those are left out. `check` runs in the final stage and names any library not found.
set -euo pipefail

die() { printf 'error: %s\n' "$*" >&2; exit 1; }
# "NAME => PATH" for each library of the shared objects and bin/ programs under the folders (ldd
# skips what is not ELF). A wheel's bundled library (numpy.libs/...) that another bundled one needs
# is "not found" by ldd alone, yet found at run time, loaded by the module: such names are dropped.
resolved() {
  find "$@" -type f \( -name '*.so' -o -name '*.so.*' -o -path '*/bin/*' \) -print0 |
    xargs -0 -r -n 64 sh -c 'ldd "$@" 2>/dev/null; true' ldd |
    awk '$2 == "=>" {print $1, $3}' | sort -u |
    while read -r name path; do
      if [ "$path" = not ] && [ -n "$(find "$@" -name "$name" -print -quit)" ]; then continue; fi
      echo "$name $path"
    done
}

mode=${1:?usage: runtime_libs.sh copy DEST BASE_LIBS DIR... | check DIR...}
shift
case "$mode" in
  copy)
    dest=$1 base=$2
    shift 2
    mkdir -p "$dest"
    own=()
    for d in "$@"; do own+=("$(realpath "$d")"); done
    count=0
    while read -r name path; do
      [ "$path" != not ] || die "$name, needed under $*, is not found in the build stage"
      real=$(realpath "$path")
      for d in "${own[@]}"; do [[ "$real" != "$d"/* ]] || continue 2; done
      grep -qxF "$real" "$base" && continue
      dir="$dest$(realpath "$(dirname "$path")")"
      [ -e "$dir/$name" ] && continue
      mkdir -p "$dir"
      cp -L "$path" "$dir/$name"
      count=$((count + 1))
    done < <(resolved "$@")
    echo "runtime_libs: $count libraries, $(du -sh "$dest" | cut -f1), into $dest"
    ;;
  check)
    missing=$(resolved "$@" | awk '$2 == "not" {print $1}' | sort -u)
    [ -z "$missing" ] || die "libraries not found in the image: $(echo $missing)"
    ;;
  *) die "runtime_libs.sh: unknown mode '$mode' (copy or check)";;
esac
