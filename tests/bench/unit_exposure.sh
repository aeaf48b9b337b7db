#!/usr/bin/env bash
# systemd-analyze security --offline=yes exposure of Mamori's units next to
# usbguard.service from Debian's usbguard package (a USB authorization
# daemon of the same kind), scored in the same run by the same
# systemd-analyze. usbguard is downloaded into a temporary directory and
# only its unit is extracted; nothing is installed. Lower is better; the
# run fails when one of ours is not lower.
#
#   tests/bench/unit_exposure.sh        (run by tests/bench/run.sh)
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! (cd "$tmp" && apt-get download usbguard >/dev/null 2>&1); then
  echo "unit_exposure: apt-get download usbguard failed (apt-get update first?)" >&2
  exit 1
fi
dpkg-deb -x "$tmp"/usbguard_*.deb "$tmp/x"
version=$(dpkg-deb -f "$tmp"/usbguard_*.deb Version)

score() {  # score UNIT_FILE -> the overall exposure level
  systemd-analyze security --offline=yes "$1" 2>/dev/null |
    sed -n 's/^→ Overall exposure level for .*: \([0-9.]*\).*/\1/p'
}

theirs=$(score "$(find "$tmp/x" -path '*systemd/system/usbguard.service' | head -n 1)")
echo "systemd-analyze security --offline=yes (exposure, 0 best .. 10 worst; $(systemd-analyze --version | head -n 1))"
printf '  %-26s %s\n' "usbguard.service $version" "$theirs"
status=0
for unit in mamori-collector.service mamori-agent.service; do
  ours=$(score "$src/packaging/debian/$unit")
  verdict=lower
  if [[ -z $ours || -z $theirs ]] || ! awk -v a="$ours" -v b="$theirs" 'BEGIN { exit !(a < b) }'; then
    verdict="NOT lower"
    status=1
  fi
  printf '  %-26s %s (%s)\n' "$unit" "$ours" "$verdict"
done
exit "$status"
