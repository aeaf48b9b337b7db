#!/bin/sh
# Link launcher for mamori-agent: links gRPC, protobuf, Abseil, OpenSSL,
# c-ares, re2, zlib, yaml-cpp and Boost from their static archives instead of
# their shared objects, so the agent carries only the code it uses.
#
# Why: an idle agent linked against ~60 shared objects keeps ~19 MB of their
# pages resident (the kernel maps library pages around every fault), against
# ~11 MB for the same code linked statically with --gc-sections. The C and C++
# runtimes stay shared: every process on the terminal shares them anyway.
#
# Trade-off: a security update of OpenSSL reaches the agent by rebuilding and
# redeploying it, not by the distribution's library update.
#
# Used as the RULE_LAUNCH_LINK of the agent target: receives the linker
# command line and runs it with each replaceable shared object swapped for its
# archive, all archives in one --start-group so their order does not matter.
set -eu

keep_shared() {
  case "$1" in
    */libstdc++.so*|*/libc.so*|*/libm.so*|*/libgcc_s.so*|*/libdl.so*|*/libpthread.so*|*/librt.so*) return 0 ;;
    */libspdlog.so*|*/libfmt.so*) return 0 ;;  # Debian ships no archive of these
  esac
  return 1
}

group=""
rest=""
for arg in "$@"; do
  archive=""
  case "$arg" in
    /*.so|/*.so.*)
      if ! keep_shared "$arg"; then
        candidate=$(printf '%s\n' "$arg" | sed -E 's/\.so(\.[0-9.]+)?$/.a/')
        [ -f "$candidate" ] && archive=$candidate
      fi ;;
    -l*)
      for dir in /usr/lib/x86_64-linux-gnu /usr/lib; do
        candidate="$dir/lib${arg#-l}.a"
        case "${arg#-l}" in re2|cares|z|upb|address_sorting|gpr) ;; *) candidate="" ;; esac
        if [ -n "$candidate" ] && [ -f "$candidate" ]; then archive=$candidate; break; fi
      done ;;
  esac
  if [ -n "$archive" ]; then
    case " $group " in *" $archive "*) ;; *) group="$group $archive" ;; esac
  else
    # Arguments never contain spaces here (CMake-generated paths under the
    # build tree and system library paths); quote them regardless.
    rest="$rest '$(printf '%s' "$arg" | sed "s/'/'\\\\''/g")'"
  fi
done

eval "set -- $rest"
# shellcheck disable=SC2086 # $group is a list of archive paths
exec "$@" -Wl,--gc-sections -Wl,--start-group $group -Wl,--end-group -ldl -lrt -pthread
