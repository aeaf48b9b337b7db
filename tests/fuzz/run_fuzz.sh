#!/bin/sh
# Runs one libFuzzer target for a bounded time from its seed corpus.
#   run_fuzz.sh BINARY SEED_DIR WORK_DIR SECONDS
# The seeds are copied, so what the run discovers stays in the build tree.
# Exit status is the fuzzer's: non-zero on a crash, leak, timeout or trap,
# with the offending input saved in WORK_DIR.
set -eu
binary=$1 seeds=$2 work=$3 seconds=$4
rm -rf "$work/corpus"
mkdir -p "$work/corpus"
cp "$seeds"/* "$work/corpus/"
cd "$work"
exec "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus"
