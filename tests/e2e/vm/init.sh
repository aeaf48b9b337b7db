#!/bin/sh
# /init of the real-kernel test VM (see vm_test.py).
#
# Mounts the pseudo file systems, brings up loopback (the collector listens
# on the guest's own 127.0.0.1; the VM has no network device), loads the USB,
# SCSI and HID drivers, then serves commands on the second serial port
# (/dev/ttyS1, a unix socket on the host). The kernel console stays on ttyS0.
#
# Protocol on ttyS1 (raw, no echo):
#   host -> guest  "<id> <base64 of a shell script>\n"
#   guest -> host  the script's stdout and stderr, then
#                  "\n__MAMORI_DONE__ <id> <exit status>\n"
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu
export HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev/shm
echo /sbin/modprobe > /proc/sys/kernel/modprobe
hostname mamori-vm
ip link set lo up

t0=$(cut -d' ' -f1 /proc/uptime)
while read -r m; do
  modprobe "$m" || echo "init: modprobe $m failed"
done < /etc/modules
echo "init: modules loaded at ${t0}s..$(cut -d' ' -f1 /proc/uptime)s (uptime)"

cmd_tty=/dev/ttyS1
if [ ! -c "$cmd_tty" ]; then
  echo "init: $cmd_tty missing; the harness must give QEMU a second serial port"
  poweroff -f
fi
stty -F "$cmd_tty" raw -echo -echoe -echok -echoctl -echoke 2>/dev/null ||
  stty -F "$cmd_tty" raw -echo
exec <"$cmd_tty" >"$cmd_tty" 2>&1
echo "__MAMORI_READY__ $(cut -d' ' -f1 /proc/uptime)"
while IFS= read -r line; do
  id=${line%% *}
  echo "${line#* }" | base64 -d > /tmp/.mamori-cmd 2>/dev/null
  sh /tmp/.mamori-cmd </dev/null
  rc=$?
  printf '\n__MAMORI_DONE__ %s %s\n' "$id" "$rc"
done
echo "init: command channel closed"
poweroff -f
