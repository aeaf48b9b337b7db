#!/bin/sh
# `mamori-agent.exe run` in console mode under Wine: it starts, logs to the
# console, and Ctrl+C stops it cleanly. Wine turns SIGINT to a console
# process into CTRL_C_EVENT for the handlers registered with
# SetConsoleCtrlHandler, which is how the agent's handler is reached here.
# Usage: console_mode_test.sh WINE AGENT_EXE
set -u
wine=$1
agent=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$wine" "$agent" run --audit-only >"$out" 2>&1 &
pid=$!  # the wine launcher execs the process: this is the agent

# Started? (bounded: Wine's first start of a process can take seconds)
i=0
until grep -q "running in the console; Ctrl+C stops" "$out"; do
  i=$((i + 1))
  if [ "$i" -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: the agent did not start in console mode:"; cat "$out"
    kill -KILL "$pid" 2>/dev/null
    exit 1
  fi
  sleep 0.1
done

kill -INT "$pid"
i=0
while kill -0 "$pid" 2>/dev/null; do
  i=$((i + 1))
  if [ "$i" -gt 300 ]; then
    echo "FAIL: the agent did not stop on Ctrl+C:"; cat "$out"
    kill -KILL "$pid"
    exit 1
  fi
  sleep 0.1
done
wait "$pid"
status=$?

fail=0
expect() {
  if ! grep -q "$1" "$out"; then echo "FAIL: console output lacks '$1'"; fail=1; fi
}
expect "audit-only mode"
expect "built-in default policy"
expect "kind=agent_started"
expect "stopping: Ctrl+C"
expect "kind=agent_stopping severity=info.*: Ctrl+C"
# The console session's user, from WTS, on every event.
expect "kind=agent_started severity=info user='[^']"
if [ "$status" -ne 0 ]; then echo "FAIL: exit status $status, expected 0"; fail=1; fi
if [ "$fail" -ne 0 ]; then cat "$out"; exit 1; fi
echo "console mode: started, stopped on Ctrl+C, exit status 0"
