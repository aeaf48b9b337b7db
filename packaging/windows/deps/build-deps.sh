#!/usr/bin/env bash
# Cross-builds the Windows agent's dependency stack (OpenSSL, c-ares, Abseil,
# protobuf, re2, yaml-cpp, gRPC) with Debian's mingw-w64 (posix threads) as
# static libraries, from Debian's own signed source packages at the versions
# of the host's -dev packages, so that the host's protoc and grpc_cpp_plugin
# generate code that matches the libraries. zlib comes from Debian's
# libz-mingw-w64-dev.
#
# The result is installed into a prefix in a cache outside the work tree:
#   ${MAMORI_DEPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mamori/mingw-deps}/<key>
# where <key> is derived from the package versions, the cross compiler's
# version, this script and the patches beside it. A second run with the same
# key does nothing. The prefix is printed as the last line of the output (and
# alone with --print-prefix, which builds nothing).
#
# Usage: build-deps.sh [--print-prefix] [--jobs N]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
triplet=x86_64-w64-mingw32
jobs="$(nproc)"
print_prefix_only=0
while (($#)); do
  case "$1" in
    --print-prefix) print_prefix_only=1 ;;
    --jobs) jobs="$2"; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deps: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# Source package <- the host's binary package whose version it must match.
# Order is build order: each one's dependencies come before it.
packages=(openssl c-ares abseil protobuf re2 yaml-cpp grpc)
declare -A host_binary=(
  [openssl]=libssl-dev [c-ares]=libc-ares-dev [abseil]=libabsl-dev
  [protobuf]=libprotobuf-dev [re2]=libre2-dev [yaml-cpp]=libyaml-cpp-dev
  [grpc]=libgrpc++-dev)

die() { echo "build-deps: $*" >&2; exit 1; }

host_version() {  # source version of the host's binary package
  dpkg-query -W -f='${source:Version}' "$1" 2>/dev/null ||
    die "host package $1 is not installed (packaging/dev/setup.sh installs it)"
}

declare -A want_version
for p in "${packages[@]}"; do want_version[$p]="$(host_version "${host_binary[$p]}")"; done

compiler_version="$($triplet-g++-posix --version | head -1)" ||
  die "the mingw-w64 cross compiler ($triplet-g++-posix) is missing"
zlib_version="$(dpkg-query -W -f='${Version}' libz-mingw-w64-dev 2>/dev/null)" ||
  die "libz-mingw-w64-dev is not installed"

key="$({
  for p in "${packages[@]}"; do echo "$p=${want_version[$p]}"; done
  echo "zlib=$zlib_version"
  echo "cc=$compiler_version"
  # The script, the patches and the CMake includes beside it.
  find "$here" -type f | LC_ALL=C sort | xargs -r cat
  cat "$here/../../cmake/mingw-w64-x86_64.cmake"
} | sha256sum | cut -c1-16)"

cache_root="${MAMORI_DEPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mamori/mingw-deps}"
prefix="$cache_root/$key"
if ((print_prefix_only)); then echo "$prefix"; exit 0; fi

if [[ -f "$prefix/.complete" ]]; then
  echo "build-deps: up to date ($key)"
  echo "$prefix"
  exit 0
fi

# ---------------------------------------------------------------------------
# Sources: apt-get source with a private apt state whose deb-src entries are
# derived from the machine's own Debian sources (no mirror is named here).
apt_dir="$cache_root/apt"
downloads="$cache_root/downloads"
mkdir -p "$apt_dir/sources" "$apt_dir/lists/partial" "$downloads"

derive_deb_src() {
  local codename out="$apt_dir/sources"
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  [[ -n "$codename" ]] || die "cannot tell the Debian release from /etc/os-release"
  rm -f "$out"/*
  # One-line format: every enabled `deb` line for this release becomes a
  # `deb-src` line.
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    awk -v cn="$codename" '$1 == "deb" && $0 ~ ("[[:space:]]" cn "([-/][a-z]+)?[[:space:]]") {
      sub(/^deb/, "deb-src"); print }' "$f" >>"$out/derived.list"
  done
  # deb822 format: stanzas of this release, with Types set to deb-src.
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk -v cn="$codename" '
      function flush() { if (keep && n) { for (i = 1; i <= n; i++) print lines[i]; print "" } n = 0; keep = 0 }
      /^[[:space:]]*$/ { flush(); next }
      /^#/ { next }
      /^Types:/ { if ($0 ~ /[[:space:]]deb([[:space:]]|$)/) { typed = 1 } else { typed = 0 }
                  lines[++n] = "Types: deb-src"; next }
      /^Suites:/ { if ($0 ~ ("[[:space:]]" cn "([-/][a-z]+)?([[:space:]]|$)")) keep = 1 }
      /^Enabled:[[:space:]]*no/ { keep = 0; n = 0; next }
      { lines[++n] = $0 }
      END { flush() }' "$f" >>"$out/derived.sources"
  done
  [[ -s "$out/derived.list" || -s "$out/derived.sources" ]] ||
    die "no Debian '$codename' entries found in /etc/apt to derive deb-src entries from"
}

apt_opts=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$apt_dir/sources"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
  -o "APT::Sandbox::User=root"
  -q)

apt_updated=0
fetch_source() {  # fetch_source PKG VERSION -> prints the directory of the .dsc
  local p="$1" v="$2" dir="$downloads/$1_$2"
  if [[ -f "$dir/.fetched" ]]; then echo "$dir"; return; fi
  if ((!apt_updated)); then
    derive_deb_src
    echo "build-deps: apt-get update (deb-src, private state in $apt_dir)" >&2
    apt-get "${apt_opts[@]}" update >&2 || die "apt-get update of the deb-src entries failed"
    apt_updated=1
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  local got="$v"
  if ! (cd "$dir" && apt-get "${apt_opts[@]}" source --download-only --only-source "$p=$v" >&2); then
    # Security updates replace a version in the archive (and a mirror may
    # lack a file): take the newest of the same upstream series (for
    # example OpenSSL 3.0.x) that downloads.
    local series="${v%%-*}" candidates c
    series="${series%.*}"
    candidates="$(apt-cache "${apt_opts[@]}" showsrc --only-source "$p" |
      awk '/^Version:/ {print $2}' | grep -F -- "$series." | sort -rV | uniq)" || true
    got=""
    for c in $candidates; do
      echo "build-deps: $p $v cannot be fetched; trying $c (same series)" >&2
      rm -rf "${dir:?}"/*
      if (cd "$dir" && apt-get "${apt_opts[@]}" source --download-only --only-source "$p=$c" >&2); then
        got="$c"; break
      fi
    done
    [[ -n "$got" ]] || die "$p: neither $v nor any other version of series $series could be fetched"
  fi
  echo "$got" >"$dir/.version"
  touch "$dir/.fetched"
  echo "$dir"
}

# ---------------------------------------------------------------------------
# Build.
# Built and installed under fixed paths (not named by the key), so that
# ccache's hits survive a key change (a new patch rebuilds one package's
# objects, not the stack's), then moved to the prefix. The installed CMake
# package files are relocatable; the pkg-config files (unused here) keep
# naming the staging path. An interrupted build resumes after the last
# package it finished, for the same key only.
work="$cache_root/work"
staging="$cache_root/staging"
if [[ "$(cat "$staging/.key" 2>/dev/null)" != "$key" ]]; then
  rm -rf "$work" "$staging"
fi
mkdir -p "$work" "$staging"
echo "$key" >"$staging/.key"
log_dir="$work/logs"
mkdir -p "$log_dir"

# ccache makes a rebuild under a new key (a changed patch, say) cheap; the
# base directory makes its hits independent of the key in the paths.
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(ccache)
  export CCACHE_BASEDIR="$cache_root" CCACHE_NOHASHDIR=1
fi

cmake_common=(
  -G Ninja
  -DCMAKE_TOOLCHAIN_FILE="$here/../../cmake/mingw-w64-x86_64.cmake"
  -DMAMORI_MINGW_DEPS="$staging"
  -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_INSTALL_PREFIX="$staging"
  -DCMAKE_PREFIX_PATH="$staging"
  -DBUILD_SHARED_LIBS=OFF
  -DBUILD_TESTING=OFF
  -DCMAKE_CXX_STANDARD=17
  -DCMAKE_POSITION_INDEPENDENT_CODE=OFF
  -DCMAKE_C_FLAGS="-O2 -g0"
  -DCMAKE_CXX_FLAGS="-O2 -g0"
)
if ((${#launcher[@]})); then
  cmake_common+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

step() {  # step PKG NAME COMMAND... : runs a step, its output into a log
  local p="$1" name="$2"; shift 2
  local log="$log_dir/$p.$name.log"
  if ! "$@" >"$log" 2>&1; then
    echo "build-deps: $p: step '$name' failed; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
}

unpack() {  # unpack PKG -> sets $src
  local p="$1" dl dsc
  dl="$(fetch_source "$p" "${want_version[$p]}")" || exit 1
  dsc="$(ls "$dl"/*.dsc | head -1)"
  src="$work/src/$p"
  rm -rf "$src"
  mkdir -p "$work/src"
  step "$p" unpack dpkg-source --no-check -x "$dsc" "$src"
  got_version[$p]="$(cat "$dl/.version")"
  local patch
  for patch in "$here/$p"/*.patch; do
    [[ -f "$patch" ]] || continue
    step "$p" "patch-$(basename "$patch" .patch)" patch -d "$src" -p1 -i "$patch"
  done
}

cmake_build() {  # cmake_build PKG SRC_SUBDIR ARGS...
  local p="$1" sub="$2"; shift 2
  local b="$work/build/$p"
  rm -rf "$b"
  step "$p" configure cmake -S "$src/$sub" -B "$b" "${cmake_common[@]}" "$@"
  step "$p" build cmake --build "$b" -j "$jobs"
  step "$p" install cmake --install "$b"
}

build_openssl() {
  local b="$work/build/openssl"
  rm -rf "$b" && mkdir -p "$b"
  # No DSOs or engines: everything is linked into the agent. no-tests keeps
  # the build to the libraries. Configure takes "C:/..." for a relative path
  # on a Linux host and would prefix it with the build path; "/ProgramData/
  # ..." is absolute to it and means C:\ProgramData\... on the terminal, the
  # agent's data folder that only SYSTEM and Administrators may write, so no
  # user can plant an openssl.cnf there.
  step openssl configure env -C "$b" CC="${launcher[*]} $triplet-gcc-posix" \
    AR=$triplet-ar RANLIB=$triplet-ranlib RC=$triplet-windres \
    perl "$src/Configure" mingw64 no-shared no-module no-engine no-dso no-tests \
    --prefix="$staging" --libdir=lib --openssldir=/ProgramData/Mamori/openssl -O2
  step openssl build make -C "$b" -j "$jobs" build_libs
  step openssl install make -C "$b" install_dev
}

build_one() {
  case "$1" in
    openssl) build_openssl ;;
    c-ares)
      cmake_build c-ares . -DCARES_STATIC=ON -DCARES_SHARED=OFF -DCARES_BUILD_TOOLS=OFF \
        -DCARES_BUILD_TESTS=OFF -DCARES_INSTALL=ON ;;
    abseil)
      cmake_build abseil . -DABSL_PROPAGATE_CXX_STD=ON -DABSL_BUILD_TESTING=OFF \
        -DABSL_ENABLE_INSTALL=ON ;;
    protobuf)
      cmake_build protobuf . -Dprotobuf_BUILD_TESTS=OFF -Dprotobuf_BUILD_PROTOC_BINARIES=OFF \
        -Dprotobuf_BUILD_LIBPROTOC=OFF -Dprotobuf_WITH_ZLIB=OFF -Dprotobuf_BUILD_EXAMPLES=OFF \
        -Dprotobuf_INSTALL=ON ;;
    re2)
      # Debian's source drops the generated tables; regenerate them from
      # Debian's unicode-data as its own build does (REBUILD_TABLES=1).
      step re2 tables sh -c "cd '$src' && perl re2/make_perl_groups.pl >re2/perl_groups.cc &&
        python3 re2/make_unicode_casefold.py >re2/unicode_casefold.cc &&
        python3 re2/make_unicode_groups.py >re2/unicode_groups.cc"
      cmake_build re2 . -DRE2_BUILD_TESTING=OFF ;;
    yaml-cpp)
      cmake_build yaml-cpp . -DYAML_CPP_BUILD_TESTS=OFF -DYAML_CPP_BUILD_TOOLS=OFF \
        -DYAML_CPP_BUILD_CONTRIB=OFF -DYAML_BUILD_SHARED_LIBS=OFF ;;
    grpc)
      # Libraries only, and only those the agent links (only-used-
      # libraries.cmake): the host's protoc and grpc_cpp_plugin generate code.
      cmake_build grpc . -DCMAKE_PROJECT_INCLUDE="$here/grpc/only-used-libraries.cmake" \
        -DgRPC_INSTALL=ON -DgRPC_BUILD_TESTS=OFF -DgRPC_BUILD_CODEGEN=OFF \
        -DgRPC_BUILD_CSHARP_EXT=OFF -DgRPC_BUILD_GRPC_CPP_PLUGIN=OFF \
        -DgRPC_BUILD_GRPC_CSHARP_PLUGIN=OFF -DgRPC_BUILD_GRPC_NODE_PLUGIN=OFF \
        -DgRPC_BUILD_GRPC_OBJECTIVE_C_PLUGIN=OFF -DgRPC_BUILD_GRPC_PHP_PLUGIN=OFF \
        -DgRPC_BUILD_GRPC_PYTHON_PLUGIN=OFF -DgRPC_BUILD_GRPC_RUBY_PLUGIN=OFF \
        -DgRPC_ZLIB_PROVIDER=package -DgRPC_CARES_PROVIDER=package -DgRPC_RE2_PROVIDER=package \
        -DgRPC_SSL_PROVIDER=package -DgRPC_PROTOBUF_PROVIDER=package \
        -DgRPC_ABSL_PROVIDER=package -DgRPC_BENCHMARK_PROVIDER=none \
        -DgRPC_PROTOBUF_PACKAGE_TYPE=CONFIG \
        -DOPENSSL_ROOT_DIR="$staging" -DOPENSSL_USE_STATIC_LIBS=ON \
        -D_gRPC_PROTOBUF_PROTOC_EXECUTABLE=/usr/bin/protoc ;;
    *) die "no build recipe for $1" ;;
  esac
}

declare -A got_version
total_start=$SECONDS
i=0
for p in "${packages[@]}"; do
  i=$((i + 1))
  if [[ -f "$staging/.stamps/$p" ]]; then
    echo "build-deps: [$i/${#packages[@]}] $p already built"
    continue
  fi
  start=$SECONDS
  echo "build-deps: [$i/${#packages[@]}] $p ${want_version[$p]}: fetching, building..."
  unpack "$p"
  build_one "$p"
  mkdir -p "$staging/.stamps"
  echo "${got_version[$p]}" >"$staging/.stamps/$p"
  echo "build-deps: [$i/${#packages[@]}] $p ${got_version[$p]} done in $((SECONDS - start)) s"
done

{
  echo "key=$key"
  for p in "${packages[@]}"; do echo "$p=$(cat "$staging/.stamps/$p")"; done
  echo "zlib=$zlib_version (libz-mingw-w64-dev)"
  echo "compiler=$compiler_version"
} >"$staging/MANIFEST"
touch "$staging/.complete"
rm -rf "$prefix" "$work"
mv "$staging" "$prefix"
# Keep this prefix and the one built before it (switching back to an older
# checkout); older ones only take space.
for old in $(ls -1dt "$cache_root"/*/.complete 2>/dev/null | tail -n +3); do
  rm -rf "$(dirname "$old")"
done
echo "build-deps: complete in $((SECONDS - total_start)) s"
echo "$prefix"
