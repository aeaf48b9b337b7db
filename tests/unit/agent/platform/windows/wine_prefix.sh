#!/bin/sh
# Creates the Wine prefix the Windows tests run in, once per build
# directory; later runs find it and return quickly.
set -eu
prefix=$1
export WINEPREFIX="$prefix"
# A crashed test program of an earlier run may still hold the prefix's
# wineserver (a debugger attached to it never exits): start clean.
wineserver -k 2>/dev/null || true
if [ ! -f "$prefix/system.reg" ]; then
  mkdir -p "$prefix"
  wineboot --init
fi
# An unhandled exception must end the process and fail its test, not start
# winedbg, which stays attached and makes every later test time out.
aedebug='HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug'
wine reg delete "$aedebug" /v Debugger /f >/dev/null 2>&1 || true
wine reg add "$aedebug" /v Auto /t REG_SZ /d 0 /f >/dev/null
wine reg add 'HKCU\Software\Wine\WineDbg' /v ShowCrashDialog /t REG_DWORD /d 0 /f >/dev/null
# Wait until wineboot's processes are done and the registry is on disk.
wineserver -w
