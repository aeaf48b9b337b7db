#!/bin/sh
# ctest entry point of the real-kernel test: fails (never skips) with the
# package to install when python3 is missing; vm_test.py checks the rest.
if ! command -v python3 >/dev/null 2>&1; then
  echo "vm test: python3 not found; install the Debian package 'python3' (run packaging/dev/setup.sh)" >&2
  exit 1
fi
exec python3 "$(dirname "$0")/vm_test.py" "$@"
