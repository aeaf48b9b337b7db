# Shell helpers for the commands vm_test.py runs inside the test VM
# (installed as /etc/mamori/lib.sh; each command sources it).

export MAMORICTL_CONFIG=/etc/mamori/mamorictl.yaml
AGENT_LOG=/tmp/agent.log

# now_ms: guest uptime in milliseconds (10 ms resolution).
now_ms() {
  read -r up _ < /proc/uptime
  echo $(( ${up%.*} * 1000 + 1${up#*.} * 10 - 1000 ))
}

# wait_for TIMEOUT_S COMMAND...: runs COMMAND every 20 ms until it succeeds;
# fails after TIMEOUT_S seconds.
wait_for() {
  _end=$(( $(now_ms) + $1 * 1000 ))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(now_ms)" -ge "$_end" ] && return 1
    usleep 20000
  done
}

# usb_dir SERIAL: the sysfs directory (resolved) of the USB device whose
# iSerialNumber string is SERIAL.
usb_dir() {
  for _d in /sys/bus/usb/devices/*; do
    [ -f "$_d/serial" ] || continue
    if [ "$(cat "$_d/serial" 2>/dev/null)" = "$1" ]; then
      readlink -f "$_d"
      return 0
    fi
  done
  return 1
}

# disks_of SERIAL: the disks (sda, ...) below the USB device with SERIAL.
disks_of() {
  _u=$(usb_dir "$1") || return 1
  for _b in /sys/block/*; do
    [ -e "$_b" ] || continue
    case "$(readlink -f "$_b")" in "$_u"/*) basename "$_b" ;; esac
  done
}
has_disk() { [ -n "$(disks_of "$1")" ]; }

# inputs_of SERIAL: the input devices below the USB device with SERIAL.
inputs_of() {
  _u=$(usb_dir "$1") || return 1
  for _i in /sys/class/input/input*; do
    [ -e "$_i" ] || continue
    case "$(readlink -f "$_i")" in "$_u"/*) basename "$_i" ;; esac
  done
}
has_input() { [ -n "$(inputs_of "$1")" ]; }

# authorized SERIAL: the device's authorized attribute (0 or 1).
authorized() { _u=$(usb_dir "$1") && cat "$_u/authorized"; }
is_authorized() { [ "$(authorized "$1")" = 1 ]; }

# decision_line SERIAL: the agent's last decision log line for SERIAL
# ("device ... serial 'S', class): block by rule 'R'").
decision_line() {
  grep -F "serial '$1'" "$AGENT_LOG" 2>/dev/null | grep -F " by rule '" | tail -n 1 | grep .
}

# describe SERIAL: what the guest sees of the device, for the harness to parse.
describe() {
  _u=$(usb_dir "$1") || { echo "present=0"; return 0; }
  echo "present=1"
  echo "sysfs=$_u"
  for _a in idVendor idProduct bDeviceClass authorized product manufacturer; do
    echo "$_a=$(cat "$_u/$_a" 2>/dev/null)"
  done
  # The raw descriptors stay readable while the device is unauthorized (and
  # has no interface directories), so a backend can classify it from them.
  echo "descriptors=$(xxd -p "$_u/descriptors" 2>/dev/null | tr -d '\n')"
  for _i in "$_u"/*:*; do
    [ -d "$_i" ] || continue
    _drv=$(basename "$(readlink "$_i/driver" 2>/dev/null)" 2>/dev/null)
    echo "interface=$(basename "$_i") class=$(cat "$_i/bInterfaceClass") subclass=$(cat "$_i/bInterfaceSubClass") protocol=$(cat "$_i/bInterfaceProtocol") authorized=$(cat "$_i/authorized" 2>/dev/null) driver=${_drv:-none}"
  done
  for _b in $(disks_of "$1"); do
    echo "disk=$_b ro=$(cat /sys/block/$_b/ro)"
    for _p in /sys/block/$_b/$_b*; do
      [ -d "$_p" ] && echo "partition=$(basename "$_p") ro=$(cat "$_p/ro")"
    done
  done
  for _i in $(inputs_of "$1"); do echo "input=$_i"; done
}

# start_daemon NAME COMMAND...: starts COMMAND in its own session, output in
# /tmp/NAME.out, pid in /tmp/NAME.pid.
start_daemon() {
  _n=$1
  shift
  setsid "$@" </dev/null >>"/tmp/$_n.out" 2>&1 &
  echo $! > "/tmp/$_n.pid"
}
alive() { [ -f "/tmp/$1.pid" ] && kill -0 "$(cat "/tmp/$1.pid")" 2>/dev/null; }

# not COMMAND...: succeeds when COMMAND fails (for wait_for).
not() { ! "$@"; }

# disk_ro SERIAL: every disk and partition of the device has ro=1.
disk_ro() {
  _any=
  for _b in $(disks_of "$1"); do
    _any=1
    for _r in /sys/block/$_b/ro /sys/block/$_b/$_b*/ro; do
      [ -f "$_r" ] || continue
      [ "$(cat "$_r")" = 1 ] || return 1
    done
  done
  [ -n "$_any" ]
}

# hubs_fail_closed: every root hub has authorized_default=0.
hubs_fail_closed() {
  for _h in /sys/bus/usb/devices/usb*; do
    [ "$(cat "$_h/authorized_default")" = 0 ] || return 1
  done
}
# agent_up_or_dead: the agent has closed the root hubs, or has exited.
agent_up_or_dead() { ! alive agent || hubs_fail_closed; }

# watch_blocked SERIAL SECONDS: polls every 20 ms for SECONDS; fails at once
# if the device ever has a disk. Prints "decision_ms=N" (time from the start
# of the watch to the agent's decision line) when the agent decided meanwhile.
watch_blocked() {
  _start=$(now_ms)
  _end=$(( _start + $2 * 1000 ))
  _decided=
  while [ "$(now_ms)" -lt "$_end" ]; do
    if has_disk "$1"; then
      echo "DISK $(disks_of "$1") after $(( $(now_ms) - _start )) ms"
      return 1
    fi
    if [ -z "$_decided" ] && decision_line "$1" >/dev/null; then
      _decided=1
      echo "decision_ms=$(( $(now_ms) - _start ))"
    fi
    usleep 20000
  done
}

# decision_count SERIAL: how many decision lines the agent logged for SERIAL.
decision_count() {
  grep -F "serial '$1'" "$AGENT_LOG" 2>/dev/null | grep -cF " by rule '"
}
# decisions_beyond SERIAL N: the agent logged more than N decisions for SERIAL.
decisions_beyond() { [ "$(decision_count "$1")" -gt "$2" ]; }
