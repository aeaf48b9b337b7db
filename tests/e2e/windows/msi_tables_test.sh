#!/bin/sh
# The agent's MSI as Windows Installer reads it: its tables say what an
# installation, an upgrade and an uninstall do (service, custom action and
# its place in the sequence, component). The installation itself, under
# Wine against the real collector, is the Wine tests' MSI test
# (tests/e2e/wine). Usage: msi_tables_test.sh MSI
set -eu
msi=$1

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

# One row of an MSI table, as msiinfo exports it (tab-separated), must be
# present exactly.
expect_row() {
  table=$2
  row=$(printf '%b' "$3")
  msiinfo export "$1" "$table" | tr -d '\r' | grep -qxF "$row" ||
    { msiinfo export "$1" "$table" >&2; fail "$table of $1 has no row: $3"; }
  printf 'ok: %s row: %s\n' "$table" "$3"
}

# The sequence number of ACTION in InstallExecuteSequence.
sequence_of() {
  msiinfo export "$1" InstallExecuteSequence | tr -d '\r' | awk -F '\t' -v a="$2" '$1 == a { print $3 }'
}

command -v msiinfo >/dev/null || fail "msiinfo (Debian package msitools) is not installed"

# --- the package's tables: what Windows Installer would do ---------------
tab='\t'
expect_row "$msi" ServiceInstall "MamoriAgentService${tab}MamoriAgent${tab}Mamori Agent${tab}16${tab}2${tab}1${tab}${tab}${tab}LocalSystem${tab}${tab}service${tab}AgentService${tab}Blocks removable media that policy does not allow and reports device state to the Mamori collector."
# Events 0xA3: start on install, stop on install and uninstall, delete on
# uninstall; wait for each.
expect_row "$msi" ServiceControl "MamoriAgentServiceControl${tab}MamoriAgent${tab}163${tab}${tab}1${tab}AgentService"
# 3090 = exe from an installed file (18) + deferred (0x400) + not
# impersonated (0x800); return code checked.
expect_row "$msi" CustomAction "ConfigureAgent${tab}3090${tab}MamoriAgentExe${tab}configure --import-config \"[CONFIG_SOURCE]\" --collector \"[COLLECTOR]\" --ca-fingerprint \"[CA_FINGERPRINT]\" --enroll-token \"[ENROLL_TOKEN]\" --policy-key \"[POLICY_KEY]\" --terminal-id \"[TERMINAL_ID]\" --enroll-address \"[ENROLL_ADDRESS]\"${tab}"
# The enrollment token never appears in the installer's log.
expect_row "$msi" Property "MsiHiddenProperties${tab}ENROLL_TOKEN"
expect_row "$msi" InstallExecuteSequence "ConfigureAgent${tab}NOT REMOVE=\"ALL\"${tab}$(sequence_of "$msi" ConfigureAgent)"
configure_seq=$(sequence_of "$msi" ConfigureAgent)
if [ "$(sequence_of "$msi" InstallServices)" -ge "$configure_seq" ] ||
  [ "$configure_seq" -ge "$(sequence_of "$msi" StartServices)" ]; then
  fail "ConfigureAgent ($configure_seq) is not between InstallServices and StartServices"
fi
echo "ok: ConfigureAgent runs after InstallServices and before StartServices"
[ "$(sequence_of "$msi" RemoveExistingProducts)" -lt "$(sequence_of "$msi" InstallInitialize)" ] ||
  fail "RemoveExistingProducts is not scheduled before InstallInitialize"
echo "ok: an upgrade removes the old version first (RemoveExistingProducts before InstallInitialize)"
expect_row "$msi" Component "AgentService${tab}{70BDFAEF-F57A-4395-9F94-2F316BBDF97D}${tab}INSTALLDIR${tab}256${tab}${tab}MamoriAgentExe"

echo "msi_tables_test: passed"
