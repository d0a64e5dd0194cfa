#!/usr/bin/env bash
# Install Debian's CUDA toolkit (Debian 12: 11.8, non-free) and the g++-11 that its nvcc needs.
#
#   caffe_build/install_cuda.sh
#
# The toolkit lives in Debian's non-free component, which this machine's apt sources may lack: the
# packages come through a private list (this machine's Debian mirrors and suites, with the main,
# contrib and non-free components) in a temporary folder; /etc/apt is left as it is.
#
# nvidia-cuda-dev depends on the NVIDIA driver's libcuda.so.1 and libnvidia-ml.so.1. Those belong to
# the driver of the machine that runs the GPU (in a container, the NVIDIA Container Toolkit mounts
# the host's), so unless Debian's driver libraries are installed already, a small local package,
# nvidia-driver-libs-from-host, stands in for them instead of Debian's libcuda1 (535), which would
# clash with the host's driver.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

PKGS="nvidia-cuda-toolkit nvidia-cuda-dev g++-11"
say() { printf '[cuda] %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q 'ok installed'; }

missing=$(for p in $PKGS; do installed "$p" || echo "$p"; done)
if [ -z "$missing" ]; then
  say "Debian's CUDA toolkit is installed: $(/usr/bin/nvcc --version | grep -o 'release [0-9.]*')"
  exit 0
fi
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
[ -z "$SUDO" ] || command -v sudo >/dev/null || die "need root to install: $(echo $missing)"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"
mkdir -p "$WORK/lists/partial"

# --- the private list: this machine's Debian suites, with contrib and non-free --------------------
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
{
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    # deb822 stanzas: "URI SUITE KEYRING" for each URI and suite of each enabled "deb" stanza
    awk -v RS= '{
      types = ""; uris = ""; suites = ""; key = "-"; enabled = "yes"
      n = split($0, L, "\n")
      for (i = 1; i <= n; i++) {
        line = L[i]
        if (line ~ /^#/) continue
        field = tolower(line); sub(/:.*/, "", field); val = line; sub(/^[^:]*:[ \t]*/, "", val)
        if (field == "types") types = val
        else if (field == "uris") uris = val
        else if (field == "suites") suites = val
        else if (field == "signed-by" && val !~ /^$/) key = val
        else if (field == "enabled") enabled = tolower(val)
      }
      if (enabled == "no" || (" " types " ") !~ / deb /) next
      nu = split(uris, U, /[ \t]+/); ns = split(suites, S, /[ \t]+/)
      for (u = 1; u <= nu; u++) for (s = 1; s <= ns; s++) if (U[u] != "" && S[s] != "") print U[u], S[s], key
    }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] || continue
    # one-line entries: deb [options] URI SUITE COMPONENTS...
    awk '$1 == "deb" {
      key = "-"; i = 2
      if ($2 ~ /^\[/) {
        for (; i <= NF; i++) {
          if ($i ~ /signed-by=/) { key = $i; sub(/.*signed-by=/, "", key); sub(/\]$/, "", key) }
          if ($i ~ /\]$/) { i++; break }
        }
      }
      print $i, $(i + 1), key
    }' "$f"
  done
} | awk -v c="$codename" '$2 == c || $2 == c "-updates" || $2 == c "-security"' | sort -u |
  while read -r uri suite key; do
    opt=; [ "$key" = - ] || opt="[signed-by=$key] "
    echo "deb ${opt}$uri $suite main contrib non-free"
  done > "$WORK/sources.list"
[ -s "$WORK/sources.list" ] || die "no Debian '$codename' suite found in /etc/apt"

APT=(apt-get -o "Dir::Etc::SourceList=$WORK/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$WORK/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
     -o APT::Sandbox::User=root -o DPkg::Lock::Timeout=600)
say "installing from Debian's non-free component: $(echo $missing)"
apt_failed() {  # the step, then the log whose first error line says why
  die "$1 ($(grep -m1 '^[EW]:' "$2" || tail -n1 "$2")); $(bash "$HERE/network_hint.sh" "/etc/apt/sources.list* and the network" "run the same command again")"
}
$SUDO "${APT[@]}" -qq update > "$WORK/apt.log" 2>&1 \
  || apt_failed "apt-get update of Debian's non-free component failed" "$WORK/apt.log"

# --- the driver's libraries: the host's, unless Debian's are installed ---------------------------
extra=()
if ! installed libcuda1 && ! installed libnvidia-tesla-cuda1 && ! installed nvidia-driver-libs-from-host; then
  mkdir -p "$WORK/stub/DEBIAN"
  cat > "$WORK/stub/DEBIAN/control" <<'EOF'
Package: nvidia-driver-libs-from-host
Version: 1.0
Architecture: all
Maintainer: transferability <root@localhost>
Section: non-free/libs
Priority: optional
Provides: libcuda-11.8-1, libcuda.so.1 (= 520), libnvidia-ml.so.1 (= 520)
Description: NVIDIA driver libraries provided by the machine's driver
 libcuda.so.1 and libnvidia-ml.so.1 come from the NVIDIA driver that runs the GPU: the host's,
 mounted by the NVIDIA Container Toolkit in a container, or a driver installed outside dpkg.
 This empty package lets Debian's CUDA toolkit install without Debian's own driver libraries.
EOF
  dpkg-deb -Zxz --build "$WORK/stub" "$WORK/nvidia-driver-libs-from-host_1.0_all.deb" >/dev/null
  extra=("$WORK/nvidia-driver-libs-from-host_1.0_all.deb")
fi
DEBIAN_FRONTEND=noninteractive $SUDO "${APT[@]}" install -y -qq --no-install-recommends \
  "${extra[@]}" $PKGS > "$WORK/apt.log" 2>&1 \
  || apt_failed "apt-get could not install Debian's CUDA toolkit ($(echo $missing))" "$WORK/apt.log"
say "installed: $(/usr/bin/nvcc --version | grep -o 'release [0-9.]*'), $(g++-11 --version | head -n1)"
