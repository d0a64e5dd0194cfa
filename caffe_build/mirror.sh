# debian_mirror [APT_ETC]: the first Debian mirror (not the security archive) that apt's sources
# name, from deb822 *.sources files first, then the one-line sources.list and *.list files; prints
# nothing when there is none. Sourced by build.sh; reads, never writes.
debian_mirror() {
  local etc=${1:-/etc/apt} file found
  for file in "$etc"/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    found=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i !~ /security/) {print $i; exit}}' "$file")
    if [ -n "$found" ]; then echo "$found"; return 0; fi
  done
  for file in "$etc/sources.list" "$etc"/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    found=$(awk '$1 == "deb" && $0 !~ /security/ {
                   for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) {print $i; exit}}' "$file")
    if [ -n "$found" ]; then echo "$found"; return 0; fi
  done
  return 0
}
