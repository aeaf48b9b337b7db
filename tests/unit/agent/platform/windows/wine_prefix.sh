#!/bin/sh
# Creates the Wine prefix the Windows tests run in, once per build
# directory; later runs find it and return at once.
set -eu
prefix=$1
export WINEPREFIX="$prefix"
if [ ! -f "$prefix/system.reg" ]; then
  mkdir -p "$prefix"
  wineboot --init
fi
# Wait until wineboot's processes are done and the registry is on disk.
wineserver -w
