#!/usr/bin/env bash
# Builds the mamori-collector, mamori-agent and mamori-ctl Debian packages
# into OUT (default build/packages) with Debian's own tooling.
#
#   packaging/debian/build-packages.sh [OUT]      (make packages)
#
# dpkg-buildpackage runs in a staged copy of the source tree, with
# packaging/debian as its debian/ directory, so the work tree stays clean.
# The stage lies outside the work tree at one fixed path
# (~/.cache/mamori/deb-build, or MAMORI_DEB_STAGE), the same for every
# checkout: the compiler command lines are then identical and ccache serves
# a rebuild, or a fresh clone's first build, from its cache. A lock keeps
# two builds from sharing the stage at once. ccache is told where its cache
# is, as debhelper gives the build a HOME of its own.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$src/build/packages}
mkdir -p "$out"
out=$(cd "$out" && pwd)

version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
cmake_version=$(sed -n 's/^project(mamori VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
if [[ ${version%%[-+~]*} != "$cmake_version" ]]; then
  echo "build-packages: packaging/debian/changelog says $version, CMakeLists.txt $cmake_version;" \
    "add a changelog entry for $cmake_version" >&2
  exit 1
fi

stage_root=${MAMORI_DEB_STAGE:-${XDG_CACHE_HOME:-$HOME/.cache}/mamori/deb-build}
mkdir -p "$stage_root"
exec 9>"$stage_root.lock"
flock 9
stage=$stage_root/mamori-$version
rm -rf "$stage_root"
mkdir -p "$stage"
# Every file git knows or would add (tracked and untracked, not ignored):
# the build directories and caches stay out.
(cd "$src" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$src" && xargs -0 cp --parents -P -t "$stage" 2>/dev/null || true)
rm -rf "$stage/debian"
cp -a "$src/packaging/debian" "$stage/debian"
rm -f "$stage/debian/build-packages.sh"

if command -v ccache >/dev/null 2>&1; then
  CCACHE_DIR=${CCACHE_DIR:-$(ccache -k cache_dir)}
  export CCACHE_DIR
fi
export CCACHE_BASEDIR=$stage

(cd "$stage" && DEB_BUILD_OPTIONS="parallel=${JOBS:-$(nproc)} ${DEB_BUILD_OPTIONS:-}" \
  dpkg-buildpackage -b -us -uc) >"$out/build.log" 2>&1 || {
  tail -n 60 "$out/build.log" >&2
  echo "build-packages: dpkg-buildpackage failed; full log in $out/build.log" >&2
  exit 1
}

rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mv "$stage_root"/*.deb "$stage_root"/*.changes "$stage_root"/*.buildinfo "$out"/
ls -1 "$out"/*.deb
