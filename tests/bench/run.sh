#!/usr/bin/env bash
# Runs the ingest benchmark at 1000 agents and, for a second data point, at
# 100, then the fan-out, backlog, event-commit, revocation, dashboard, enrollment and
# decision-latency benchmarks and the units' sandbox exposure, and keeps
# everything printed in BUILD_DIR/bench-results.txt.
#
#   tests/bench/run.sh BUILD_DIR        (make bench: BUILD_DIR=build/release)
#
# Exits non-zero when a run failed (a server did not start, more than 1% of
# calls failed, ...); missing a performance target is reported, not failed.
set -uo pipefail

build=${1:?usage: tests/bench/run.sh BUILD_DIR}
bench=$build/tests/bench/ingest_bench
if [[ ! -x $bench ]]; then
  echo "run.sh: $bench not found; build it first (make release)" >&2
  exit 1
fi
out=$build/bench-results.txt
: >"$out"

status=0
run() {
  "$bench" "$@" 2>&1 | tee -a "$out"
  local rc=${PIPESTATUS[0]}
  if ((rc != 0)); then status=$rc; fi
  echo | tee -a "$out"
}

run --agents 1000 --seconds 20 --devices 3 --idle-seconds 60
run --agents 100 --seconds 20 --devices 3 --idle-seconds 60

# Reliability figures: one policy change fanned out to 10,000 watching
# agents (baseline 100), a 100,000-event backlog drained after an outage
# (baseline 10,000), and event ingest with group commit against one commit
# per batch, SQLite synchronous full against normal.
bench=$build/tests/bench/fanout_bench
run --agents 10000 --baseline 100
bench=$build/tests/bench/backlog_bench
run --events 100000 --per-agent 5000
bench=$build/tests/bench/event_commit_bench
run --agents 200 --batch 20 --seconds 10
# Revocation: 100 watching terminals revoked one by one, each stream's end
# timed from its RevokeTerminal call, next to one policy change's fan-out.
bench=$build/tests/bench/revoke_bench
run --agents 100

# The dashboard at 100,000 terminals and 1,000,000 events: overview, a
# filtered terminals page and an events page against a static asset.
bench=$build/tests/bench/dashboard_bench
run --terminals 100000 --events 1000000 --requests 50

# Enrollment of 1,000 terminals arriving at once (each its own key and
# connection), next to an unserved call over the same TLS and bare SignCsr.
bench=$build/tests/bench/enrollment_bench
run --clients 1000

# Linux decision latency on a fixture sysfs tree: a plain stick next to a
# phone that needs the two-step classification, in the same run.
bench=$build/tests/bench/decision_latency_bench
run --plugs 600

# Sandboxing of the systemd units: their systemd-analyze exposure next to
# usbguard.service, in the same run.
"$(dirname "$0")/unit_exposure.sh" 2>&1 | tee -a "$out"
if ((PIPESTATUS[0] != 0)); then status=1; fi
echo | tee -a "$out"

echo "results written to $out"
exit "$status"
