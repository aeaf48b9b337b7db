#!/usr/bin/env bash
# Fails when a tracked (or new, not ignored) C++ file differs from the project's .clang-format
# style, naming the files, so style drift is caught by the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
  echo "format_check: clang-format is not installed (packaging/dev/setup.sh installs it)" >&2
  exit 1
fi
bad=()
while IFS= read -r f; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files --cached --others --exclude-standard '*.cc' '*.h' 2>/dev/null || find agent common proto server tests -name '*.cc' -o -name '*.h')
if ((${#bad[@]})); then
  echo "format_check: ${#bad[@]} file(s) differ from .clang-format; run: clang-format -i ${bad[*]}" >&2
  exit 1
fi
echo "format_check: all files follow .clang-format"
