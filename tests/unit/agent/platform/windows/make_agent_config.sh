#!/bin/sh
# Writes a configuration folder for the Windows agent's service and MSI tests,
# as an administrator deploys one (the MSI's CONFIG_SOURCE): agent.yaml, the
# CA certificate, the terminal's certificate and key, and the pinned policy
# key, made with the Linux build's mamorictl. The collector it names is on
# 127.0.0.1 at a port where nothing listens: the agent runs and retries.
# Usage: make_agent_config.sh MAMORICTL OUT_DIR
set -eu
ctl=$1
out=$2
rm -rf "$out"
mkdir -p "$out"
pki="$out/pki"  # a subfolder: never imported (it holds the CA's key)
"$ctl" pki init --dir "$pki" --name "Mamori Wine test CA" >/dev/null
"$ctl" pki issue agent --dir "$pki" --id wine-service-001 --group test/windows >/dev/null
"$ctl" pki policy-key --dir "$pki" >/dev/null
cp "$pki/ca.pem" "$out/ca.pem"
cp "$pki/agent-wine-service-001.pem" "$out/terminal.pem"
cp "$pki/agent-wine-service-001.key" "$out/terminal.key"
cp "$pki/policy-signing.pub" "$out/policy-signing.pub"
cat >"$out/agent.yaml" <<'YAML'
# Relative paths resolve against this file's folder
# (%ProgramData%\Mamori\config once imported).
collector:
  address: 127.0.0.1:9
  server_name: localhost
tls:
  ca_file: ca.pem
  cert_file: terminal.pem
  key_file: terminal.key
policy:
  public_key_file: policy-signing.pub
backoff:
  initial: 1s
  max: 5s
state_dir: ../state
YAML
echo "agent configuration written to $out"
