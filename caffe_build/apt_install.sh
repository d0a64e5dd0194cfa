#!/usr/bin/env bash
# Install the Debian packages of a set-up step that are missing, as root or else with sudo.
#
#   caffe_build/apt_install.sh WHAT PACKAGE...
#
# WHAT names the step in the messages ("make test-deps", "Caffe's build"). apt's lists may be old or
# absent (container images delete them), so a package apt cannot find is normal at first: the first
# try is quiet, the lists are refreshed, and only a failure of the second try is shown, as one line
# that says what to do. Exit status 2 when root is needed and not at hand, 1 when apt fails.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

what=${1:?usage: apt_install.sh WHAT PACKAGE...}
shift
missing=$(for p in "$@"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"; done)
[ -n "$missing" ] || exit 0
missing=$(echo $missing)

sudo=()
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "error: $what needs Debian's $missing; as root, run: apt-get install $missing" >&2
    exit 2
  fi
  sudo=(sudo)
fi
echo "$what: installing from Debian: $missing"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
install() {
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=600 $missing > "$log" 2>&1
}
install && exit 0
if ! "${sudo[@]}" apt-get update -q > "$log" 2>&1; then
  echo "error: $what: apt-get update failed ($(grep -m1 '^[EW]:' "$log" || tail -n1 "$log")); $(bash "$HERE/network_hint.sh" "/etc/apt/sources.list* and the network" "run: apt-get install $missing")" >&2
  exit 1
fi
install && exit 0
echo "error: $what: apt-get could not install $missing ($(grep -m1 '^E:' "$log" || tail -n1 "$log")); $(bash "$HERE/network_hint.sh" "the names, apt's sources in /etc/apt/sources.list* and the network" "run: apt-get install $missing")" >&2
exit 1
