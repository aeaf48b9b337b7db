#!/usr/bin/env bash
# The Windows agent's idle cost under Wine, next to the Linux agent's in the
# same run: both connected to one real collector on 127.0.0.1 with a PKI
# made here, each left alone for SECONDS (default 60); prints the CPU time
# each used (utime + stime from /proc, so other load on the machine does
# not count) and its resident memory (Wine's figure includes Wine's own
# loader and DLLs: informative), and the size of the executables. The
# Windows agent runs stripped, as the MSI ships it.
#
#   tests/bench/wine_agent_idle.sh LINUX_BUILD_DIR WINDOWS_BUILD_DIR [SECONDS]
#   (e.g. build/debug build/windows; make bench does not run it)
set -euo pipefail

linux=${1:?usage: wine_agent_idle.sh LINUX_BUILD_DIR WINDOWS_BUILD_DIR [SECONDS]}
windows=${2:?usage: wine_agent_idle.sh LINUX_BUILD_DIR WINDOWS_BUILD_DIR [SECONDS]}
seconds=${3:-60}
ctl=$linux/server/mamorictl
collector=$linux/server/mamori-collector
agent=$linux/agent/mamori-agent
win_agent=$windows/agent/mamori-agent.exe
for f in "$ctl" "$collector" "$agent" "$win_agent"; do
  [[ -x $f ]] || { echo "wine_agent_idle: $f not found; build it first" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do { kill -KILL "$p" && wait "$p"; } 2>/dev/null || true; done
  WINEPREFIX=$work/wineprefix wineserver -k 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

pki=$work/pki
"$ctl" pki init --dir "$pki" --name "idle bench CA" >/dev/null
"$ctl" pki issue server --dir "$pki" --id collector --dns localhost --ip 127.0.0.1 >/dev/null
"$ctl" pki issue agent --dir "$pki" --id idle-linux --group bench >/dev/null
"$ctl" pki issue agent --dir "$pki" --id idle-wine --group bench >/dev/null
"$ctl" pki policy-key --dir "$pki" >/dev/null
cat >"$work/collector.yaml" <<EOF
listen: 127.0.0.1:0
port_file: $work/port
tls:
  ca_file: $pki/ca.pem
  cert_file: $pki/server-collector.pem
  key_file: $pki/server-collector.key
policy:
  signing_key_file: $pki/policy-signing.key
store:
  path: $work/collector.db
EOF
"$collector" --config "$work/collector.yaml" >"$work/collector.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.1; done
port=$(cat "$work/port")

agent_yaml() {  # agent_yaml ID DIR: TLS files copied beside agent.yaml
  mkdir -p "$2"
  cp "$pki/ca.pem" "$2/ca.pem"
  cp "$pki/agent-$1.pem" "$2/terminal.pem"
  cp "$pki/agent-$1.key" "$2/terminal.key"
  cp "$pki/policy-signing.pub" "$2/policy-signing.pub"
  cat >"$2/agent.yaml" <<EOF
collector:
  address: 127.0.0.1:$port
  server_name: localhost
tls:
  ca_file: ca.pem
  cert_file: terminal.pem
  key_file: terminal.key
policy:
  public_key_file: policy-signing.pub
state_dir: ../state
EOF
}

agent_yaml idle-linux "$work/linux/config"
mkdir -p "$work/linux/devices"
printf 'devices:\n  backend: simulated\n  directory: %s\n' "$work/linux/devices" \
  >>"$work/linux/config/agent.yaml"
"$agent" --config "$work/linux/config/agent.yaml" >"$work/linux.log" 2>&1 &
linux_pid=$!
pids+=("$linux_pid")

agent_yaml idle-wine "$work/wine/config"
export WINEPREFIX=$work/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES=mscoree,mshtml= DISPLAY=
wineboot --init >/dev/null 2>&1
wineserver -w
winpath=$(printf 'Z:%s' "$work/wine/config" | tr / '\\')
# What the MSI ships: the executable without its debug information.
stripped=$work/mamori-agent.exe
x86_64-w64-mingw32-strip -o "$stripped" "$win_agent"
wine "$stripped" run --config-dir "$winpath" >"$work/wine.log" 2>&1 &
wine_pid=$!  # the wine launcher execs the agent: this is its process
pids+=("$wine_pid")

# Both have reported once they show up as terminals.
export MAMORICTL_CONFIG=$work/ctl.yaml
"$ctl" pki issue admin --dir "$pki" --id bench >/dev/null
cat >"$MAMORICTL_CONFIG" <<EOF
collector:
  address: 127.0.0.1:$port
  server_name: localhost
tls:
  ca_file: $pki/ca.pem
  cert_file: $pki/admin-bench.pem
  key_file: $pki/admin-bench.key
EOF
for _ in $(seq 300); do
  out=$("$ctl" terminals 2>/dev/null || true)
  [[ $out == *idle-linux* && $out == *idle-wine* ]] && break
  sleep 0.2
done
[[ $out == *idle-linux* && $out == *idle-wine* ]] ||
  { echo "wine_agent_idle: agents did not report"; cat "$work/wine.log"; exit 1; }
sleep 5  # past start-up

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
l0=$(ticks "$linux_pid"); w0=$(ticks "$wine_pid")
sleep "$seconds"
l1=$(ticks "$linux_pid"); w1=$(ticks "$wine_pid")
pct() { awk -v t="$1" -v hz="$hz" -v s="$seconds" 'BEGIN { printf "%.3f", 100 * t / hz / s }'; }
printf 'idle %s s, connected to one collector on 127.0.0.1:\n' "$seconds"
printf '  linux agent:  CPU %s%% (%s ticks)  RSS %s KiB  executable %s bytes\n' \
  "$(pct $((l1 - l0)))" $((l1 - l0)) "$(rss_kb "$linux_pid")" "$(stat -c %s "$agent")"
printf '  wine agent:   CPU %s%% (%s ticks)  RSS %s KiB (Wine included)  executable %s bytes (stripped, as in the MSI)\n' \
  "$(pct $((w1 - w0)))" $((w1 - w0)) "$(rss_kb "$wine_pid")" "$(stat -c %s "$stripped")"
