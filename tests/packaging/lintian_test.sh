#!/usr/bin/env bash
# lintian over the three built packages: no error, no warning. Overrides
# live in packaging/debian/*.lintian-overrides, each with its reason.
#
#   tests/packaging/lintian_test.sh PACKAGES_DIR
set -euo pipefail
dir=${1:?usage: lintian_test.sh PACKAGES_DIR}
if ! command -v lintian >/dev/null; then
  echo "lintian_test: lintian is missing: run packaging/dev/setup.sh" >&2
  exit 1
fi
debs=()
for name in mamori-collector mamori-agent mamori-ctl; do
  found=("$dir/${name}"_*.deb)
  if [[ ! -f ${found[0]} ]]; then
    echo "lintian_test: no ${name}_*.deb in $dir: run make packages" >&2
    exit 1
  fi
  debs+=("${found[@]}")
done
# --fail-on makes errors and warnings fail; info and pedantic tags are shown.
lintian --fail-on error,warning --display-info --tag-display-limit 0 "${debs[@]}"
echo "lintian: no errors or warnings in ${debs[*]##*/}"
