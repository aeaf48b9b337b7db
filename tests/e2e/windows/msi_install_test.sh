#!/bin/sh
# The agent's MSI under Wine: checks the package's tables, installs it with
# msiexec, upgrades it to the next version, checks that a downgrade is
# refused, uninstalls it, and checks the service, the installed products,
# the Event Log source and the folders after each step. The service and the
# program files must go; the terminal's data must stay. Usage:
#   msi_install_test.sh MSI VERSION NEXT_MSI NEXT_VERSION AGENT_EXE NEXT_AGENT_EXE \
#                       SERVICE_CHECK_EXE PREFIX_DIR WINE_PREFIX_SH
# NEXT_MSI is the same package built as NEXT_VERSION around NEXT_AGENT_EXE
# (the agent with a marker appended). PREFIX_DIR is a Wine prefix of its
# own, made afresh on every run: an installed, running service must not
# leak into the prefix the other Windows tests share. It is deleted when the
# test passes and kept, with the msiexec logs beside it, when it fails.
set -eu
msi=$1
version=$2
next_msi=$3
next_version=$4
agent_exe=$5
next_agent_exe=$6
check_exe=$7
prefix=$8
make_prefix=$9
upgrade_code='{38BE6A97-096D-494E-B87D-7EC23B6734C4}' # packaging/windows/mamori-agent.wxs

export WINEPREFIX="$prefix"
work="$prefix.logs"
failed=1

cleanup() {
  # Ends this prefix's wineserver and with it the service, if a failed
  # check left it running; other prefixes are not touched.
  wineserver -k 2>/dev/null || true
  if [ "$failed" -eq 0 ]; then
    rm -rf "$prefix" "$work"
  else
    echo "msi_install_test: FAILED; prefix kept in $prefix, logs in $work" >&2
  fi
}
trap cleanup EXIT

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

# Windows path of a Unix path, through Wine's Z: drive (msiexec would read
# a leading / as an option).
winpath() {
  printf 'Z:%s' "$1" | tr / '\\'
}

# Prints an msiexec log (UTF-16 or ASCII, depending on the writer).
show_log() {
  [ -f "$1" ] || { echo "(no log $1)"; return; }
  echo "----- $1"
  if head -c 2 "$1" | od -An -tx1 | grep -q 'ff fe'; then
    iconv -f UTF-16 -t UTF-8 "$1" || cat "$1"
  else
    cat "$1"
  fi
  echo "-----"
}

msiexec() {
  log=$1
  shift
  rc=0
  wine msiexec "$@" /qn /l*v "$(winpath "$log")" || rc=$?
  if [ "$rc" -ne 0 ]; then
    show_log "$log" >&2
    fail "msiexec $* exited with $rc"
  fi
  printf 'ok: msiexec %s (exit 0)\n' "$*"
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

# The last run of the deferred custom action ConfigureAgent in LOG
# succeeded. The log names each action twice: once when the deferred script
# is built, once when it runs.
configure_succeeded() {
  grep -a 'Action ended .*: ConfigureAgent\.' "$1" | tail -n 1 | grep -q 'Return value 1' ||
    { show_log "$1" >&2; fail "custom action ConfigureAgent did not succeed"; }
  echo "ok: custom action ConfigureAgent (mamori-agent.exe configure) succeeded"
}

check_installed() {
  log=$1
  v=$2
  exe=$3
  wine "$check_exe" installed MamoriAgent "Mamori Agent" "$installed_exe" service 30000 ||
    { show_log "$log" >&2; fail "service MamoriAgent after installing $v"; }
  wine "$check_exe" products "$upgrade_code" "$v" || fail "installed products after installing $v"
  wine "$check_exe" event-source MamoriAgent present "$installed_exe" ||
    fail "Event Log source after installing $v"
  cmp -s "$install_dir/mamori-agent.exe" "$exe" ||
    fail "$install_dir/mamori-agent.exe is missing or differs from $exe"
  echo "ok: installed mamori-agent.exe is $exe"
  configure_succeeded "$log"
}

# Wine's msi (8.0) sends the service the stop control and goes on without
# waiting for it to stop; Windows Installer waits (ServiceControl Wait=1,
# checked in the package's tables below). Removing or replacing the
# executable then fails silently under Wine while the service process still
# runs, so before an upgrade or an uninstall the service is stopped here,
# waiting for its process to exit.
stop_first() {
  wine "$check_exe" stop MamoriAgent 30000 || fail "stopping MamoriAgent before $1"
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
expect_row "$msi" CustomAction "ConfigureAgent${tab}3090${tab}MamoriAgentExe${tab}configure${tab}"
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

wineserver -k 2>/dev/null || true
rm -rf "$prefix" "$work"
mkdir -p "$work"
"$make_prefix" "$prefix"

drive_c="$prefix/drive_c"
install_dir="$drive_c/Program Files/Mamori"
data_dir="$drive_c/ProgramData/Mamori"
installed_exe='C:\Program Files\Mamori\mamori-agent.exe'

# --- install -----------------------------------------------------------
msiexec "$work/install.log" /i "$(winpath "$msi")"
check_installed "$work/install.log" "$version" "$agent_exe"
for d in config certs logs; do
  [ -d "$data_dir/$d" ] || fail "data folder $data_dir/$d was not created"
done
echo "ok: data folders config, certs, logs exist"

# What an administrator deploys after installing: configuration and the
# terminal's certificate. Neither an upgrade nor an uninstall may remove
# them, nor what the agent wrote itself (logs, state).
printf 'collector:\n  address: collector.example:7443\n' >"$data_dir/config/agent.yaml"
printf 'not a real certificate\n' >"$data_dir/certs/agent.pem"
data_kept() {
  (cd "$data_dir" && find . -type f | sort) >"$work/data-after-$2"
  missing=$(comm -23 "$work/data-before-$2" "$work/data-after-$2")
  [ -z "$missing" ] || fail "$1 removed data: $missing"
  echo "ok: $1 kept every file in ProgramData\\Mamori ($(wc -l <"$work/data-after-$2") files)"
}

# --- upgrade: the old version and its service are replaced --------------
stop_first "the upgrade"
(cd "$data_dir" && find . -type f | sort) >"$work/data-before-upgrade"
msiexec "$work/upgrade.log" /i "$(winpath "$next_msi")"
check_installed "$work/upgrade.log" "$next_version" "$next_agent_exe"
data_kept "the upgrade" upgrade

# --- downgrade: refused, the installed version keeps running -------------
rc=0
wine msiexec /i "$(winpath "$msi")" /qn /l*v "$(winpath "$work/downgrade.log")" || rc=$?
[ "$rc" -ne 0 ] || { show_log "$work/downgrade.log" >&2; fail "a downgrade to $version was installed"; }
echo "ok: downgrade to $version refused (msiexec exit $rc)"
wine "$check_exe" installed MamoriAgent "Mamori Agent" "$installed_exe" service 30000 ||
  fail "service MamoriAgent after the refused downgrade"
wine "$check_exe" products "$upgrade_code" "$next_version" ||
  fail "installed products after the refused downgrade"

# --- uninstall ---------------------------------------------------------
stop_first "the uninstall"
(cd "$data_dir" && find . -type f | sort) >"$work/data-before-uninstall"
msiexec "$work/uninstall.log" /x "$(winpath "$next_msi")"

wine "$check_exe" absent MamoriAgent 30000 ||
  { show_log "$work/uninstall.log" >&2; fail "service MamoriAgent after uninstall"; }
wine "$check_exe" products "$upgrade_code" none || fail "installed products after uninstall"
wine "$check_exe" event-source MamoriAgent absent || fail "Event Log source after uninstall"
[ ! -e "$install_dir" ] || fail "$install_dir still exists after uninstall: $(ls -A "$install_dir")"
echo "ok: $install_dir removed"
data_kept "the uninstall" uninstall
if grep -aq 'ConfigureAgent' "$work/uninstall.log"; then
  fail "custom action ConfigureAgent ran during uninstall"
fi
echo "ok: custom action ConfigureAgent not run by the uninstall"

failed=0
echo "msi_install_test: passed"
