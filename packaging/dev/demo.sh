#!/usr/bin/env bash
# Starts a demonstration deployment on this machine: a collector on its
# embedded SQLite store and four simulated agents, three with certificates
# issued here and one that enrolls itself with a token, all on 127.0.0.1.
# Stops everything on Ctrl-C.
set -euo pipefail

bin=${1:-build/release}
bin=$(cd "$bin" && pwd)
root=$(pwd)/demo
ctl="$bin/server/mamorictl"

rm -rf "$root"
mkdir -p "$root"/{pki,agents}
cd "$root"

echo "==> creating a PKI in demo/pki"
"$ctl" pki init --dir pki --name "Mamori Demo CA" >/dev/null
"$ctl" pki issue server --dir pki --id collector --dns localhost --ip 127.0.0.1 --out pki/collector >/dev/null
"$ctl" pki issue admin --dir pki --id demo-admin --out pki/admin >/dev/null
"$ctl" pki policy-key --dir pki >/dev/null
# The collector signs enrolled terminals with an issuing CA, so the root's
# key could stay offline (a deployment keeps it off the collector).
"$ctl" pki intermediate --dir pki --out pki/issuing --name "Mamori Demo Issuing CA" >/dev/null

port=${MAMORI_DEMO_PORT:-17443}
web_port=${MAMORI_DEMO_WEB_PORT:-17444}
cat > collector.yaml <<YAML
listen: 127.0.0.1:$port
tls:
  ca_file: pki/ca.pem
  cert_file: pki/collector.pem
  key_file: pki/collector.key
policy:
  signing_key_file: pki/policy-signing.key
store:
  path: mamori.db
enrollment:
  listen: 127.0.0.1:${MAMORI_DEMO_ENROLL_PORT:-17445}
  issuing_ca_cert_file: pki/issuing/issuing-ca.pem
  issuing_ca_key_file: pki/issuing/issuing-ca.key
  # The demo's enrolled terminal names its own id; the default takes the
  # host name, which every demo terminal on this machine would share.
  terminal_id: request
web:
  listen: 127.0.0.1:$web_port
  cert_file: pki/collector.pem
  key_file: pki/collector.key
log:
  level: info
  file: collector.log
YAML

cat > mamorictl.yaml <<YAML
collector:
  address: 127.0.0.1:$port
  server_name: localhost
tls:
  ca_file: $root/pki/ca.pem
  cert_file: $root/pki/admin.pem
  key_file: $root/pki/admin.key
YAML

pids=()
cleanup() {
  trap - EXIT INT TERM
  echo
  echo "==> stopping"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo "==> starting the collector on 127.0.0.1:$port (log: demo/collector.log)"
"$bin/server/mamori-collector" --config collector.yaml &
collector_pid=$!
pids+=($collector_pid)
sleep 0.5
if ! kill -0 "$collector_pid" 2>/dev/null; then
  echo "mamori-collector did not start; demo/collector.log says:" >&2
  tail -5 collector.log >&2
  echo "(another process on port $port? set MAMORI_DEMO_PORT to use another port)" >&2
  exit 1
fi

# terminal id, group, enforcement mode
agents=(
  "suita-hoken-001 osaka/suita/hoken enforce"
  "suita-hoken-002 osaka/suita/hoken enforce"
  "toyonaka-kokuho-001 osaka/toyonaka/kokuho audit_only"
)
for spec in "${agents[@]}"; do
  read -r id group mode <<<"$spec"
  dir=agents/$id
  mkdir -p "$dir/devices" "$dir/state"
  "$ctl" pki issue agent --dir pki --id "$id" --group "$group" --out "$dir/agent" >/dev/null
  cat > "$dir/agent.yaml" <<YAML
collector:
  address: 127.0.0.1:$port
  server_name: localhost
tls:
  ca_file: ../../pki/ca.pem
  cert_file: agent.pem
  key_file: agent.key
policy:
  public_key_file: ../../pki/policy-signing.pub
report:
  interval: 15s
devices:
  backend: simulated
  directory: devices
enforcement:
  mode: $mode
state_dir: state
log:
  level: info
  file: agent.log
YAML
  cat > "$dir/devices/keyboard.yaml" <<YAML
vendor_id: "046d"
product_id: "c31c"
manufacturer: Logitech
product: USB Keyboard
class: hid
interfaces: [hid]
bus_path: "1-1"
YAML
done
cat > agents/suita-hoken-002/devices/unregistered-stick.yaml <<YAML
vendor_id: "0951"
product_id: "1666"
serial: "60A44C413A8EF0C0"
manufacturer: Kingston
product: DataTraveler 3.0
class: mass_storage
interfaces: [mass_storage]
bus_path: "1-2"
YAML

for spec in "${agents[@]}"; do
  read -r id _ _ <<<"$spec"
  (cd "agents/$id" && exec "$bin/agent/mamori-agent" --config agent.yaml) &
  pids+=($!)
done

export MAMORICTL_CONFIG=$root/mamorictl.yaml
for _ in $(seq 1 50); do
  if "$ctl" terminals 2>/dev/null | grep -q toyonaka-kokuho-001; then break; fi
  sleep 0.2
done

# A fourth terminal gets no certificate from us: it makes its own key and
# enrolls with a token, pinning the root CA by its fingerprint.
echo
echo "==> enrolling suita-hoken-003 with a token (no certificate copied)"
enrolled=agents/suita-hoken-003
mkdir -p "$enrolled/devices" "$enrolled/state"
cp agents/suita-hoken-001/devices/keyboard.yaml "$enrolled/devices/"
"$ctl" enroll token create --group osaka/suita/hoken --uses 1 --expires 1h --note demo |
  tee enroll-token.txt | sed -n 1p
grep -o 'mt_[A-Za-z0-9_]*' enroll-token.txt > "$enrolled/enroll-token"
fingerprint=$(openssl x509 -in pki/ca.pem -noout -fingerprint -sha256 | cut -d= -f2)
cat > "$enrolled/agent.yaml" <<YAML
collector:
  address: 127.0.0.1:$port
  server_name: localhost
enrollment:
  address: 127.0.0.1:${MAMORI_DEMO_ENROLL_PORT:-17445}
  ca_fingerprint: "$fingerprint"
  token_file: enroll-token
  terminal_id: suita-hoken-003
policy:
  public_key_file: ../../pki/policy-signing.pub
report:
  interval: 15s
devices:
  backend: simulated
  directory: devices
state_dir: state
log:
  level: info
  file: agent.log
YAML
(cd "$enrolled" && exec "$bin/agent/mamori-agent" --config agent.yaml) &
pids+=($!)
for _ in $(seq 1 50); do
  if "$ctl" terminals 2>/dev/null | grep -q suita-hoken-003; then break; fi
  sleep 0.2
done
"$ctl" enroll list || true

echo
echo "==> creating the dashboard's first administrator"
"$ctl" user add demo-admin --role admin | tee admin-credentials.txt

echo
echo "==> compliance by group"
"$ctl" status || true
echo
echo "==> terminals"
"$ctl" terminals || true
cat <<TXT

Mamori is running: a collector and four simulated agents (suita-hoken-003 enrolled
itself with a token: see demo/agents/suita-hoken-003/state/identity).

Open the dashboard at https://localhost:$web_port/ (the demo CA in demo/pki/ca.pem
signed its certificate; accept it or import the CA). Log in as demo-admin with the
one-time password above and a code from an authenticator app that scanned the
otpauth URI (kept in demo/admin-credentials.txt).

In another terminal, look at compliance with mamorictl:
  export MAMORICTL_CONFIG=$root/mamorictl.yaml
  $ctl status                         # compliance per group
  $ctl terminals                      # every terminal, failing checks
  $ctl terminal toyonaka-kokuho-001   # why it is non-compliant (audit-only mode)
  $ctl events --kind device_blocked   # blocked USB media
  $ctl policy apply $(cd "$root/.." && pwd)/examples/policies/default.yaml --group osaka

Plug a simulated USB stick into a terminal by writing a device file:
  cp $(cd "$root/.." && pwd)/examples/devices/unknown-stick.yaml $root/agents/suita-hoken-001/devices/

Press Ctrl-C to stop.
TXT
wait
