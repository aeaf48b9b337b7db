#!/bin/sh
# Builds the agent's MSI with wixl. Usage:
#   build_msi.sh WXS AGENT_EXE VERSION OUTPUT_MSI
# The executable is packaged stripped of its debug information (the build
# tree keeps the unstripped one for debugging). wixl resolves File/@Source
# against the working directory only (an absolute path is refused), so it
# runs in the directory of the stripped copy.
# wixl ignores attributes it does not know with a GLib warning and still
# exits 0: any diagnostic fails the build here, so a misspelt or
# unsupported attribute never silently drops out of the package.
set -eu
wxs=$(realpath "$1")
exe=$(realpath "$2")
version=$3
out=$(realpath -m "$4")
wixl=${WIXL:-wixl}
strip=${STRIP:-x86_64-w64-mingw32-strip}

mkdir -p "$(dirname "$out")"
log="$out.wixl.log"
rm -f "$out" "$log"
payload="$out.payload"
rm -rf "$payload" && mkdir -p "$payload"
"$strip" -o "$payload/$(basename "$exe")" "$exe"
if ! (cd "$payload" && "$wixl" --arch x64 -D "Version=$version" \
        -D "AgentExe=$(basename "$exe")" -o "$out" "$wxs") >"$log" 2>&1; then
  echo "build_msi: wixl failed on $wxs:" >&2
  cat "$log" >&2
  rm -f "$out"
  exit 1
fi
if [ -s "$log" ]; then
  echo "build_msi: wixl reported problems with $wxs (treated as errors):" >&2
  cat "$log" >&2
  rm -f "$out"
  exit 1
fi
rm -f "$log"
