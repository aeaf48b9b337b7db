#!/usr/bin/env bash
# Builds the initramfs for the real-kernel enforcement test (vm_test.py).
#
#   build_initramfs.sh KERNEL_VERSION OUT.cpio.gz [HOST_PATH:GUEST_PATH]...
#
# The image holds: busybox (static) with one symlink per applet, /init
# (init.sh next to this script), the kernel modules for xhci, usb-storage,
# uas, sd_mod, usbhid, cdc_ether and rndis_host with their dependencies (plus modules.dep, made by
# depmod, so that busybox modprobe and the kernel's request_module work), and
# every HOST_PATH:GUEST_PATH given. An ELF file given that way is copied
# stripped, and every shared library ldd lists for it (and the dynamic loader)
# is copied to the same path in the guest. Takes a few seconds.
set -euo pipefail

if (($# < 2)); then
  echo "usage: $0 KERNEL_VERSION OUT.cpio.gz [HOST_PATH:GUEST_PATH]..." >&2
  exit 2
fi
kver=$1
out=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)

need() {  # need COMMAND PACKAGE
  if ! command -v "$1" >/dev/null 2>&1 && ! [[ -x /sbin/$1 || -x /usr/sbin/$1 ]]; then
    echo "build_initramfs: '$1' not found; install the Debian package '$2' (packaging/dev/setup.sh does)" >&2
    exit 1
  fi
}
need busybox busybox-static
need cpio cpio
need gzip gzip
need ldd libc-bin
need xz xz-utils
need modprobe kmod
need depmod kmod
export PATH=$PATH:/sbin:/usr/sbin

moddir=/lib/modules/$kver
if [[ ! -f $moddir/modules.dep ]]; then
  echo "build_initramfs: $moddir/modules.dep missing; install the Debian package 'linux-image-amd64' (packaging/dev/setup.sh does)" >&2
  exit 1
fi
busybox_bin=$(command -v busybox)
if ! file -L "$busybox_bin" 2>/dev/null | grep -q 'statically linked' &&
   ldd "$busybox_bin" >/dev/null 2>&1; then
  echo "build_initramfs: $busybox_bin is not statically linked; install the Debian package 'busybox-static'" >&2
  exit 1
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/mamori-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,run,root,lib64,usr/bin,usr/sbin,var/log}
# mktemp made the image's / 0700: the ordinary user below could run nothing.
chmod 0755 "$root"
chmod 1777 "$root/tmp"

# busybox and its applets.
cp "$busybox_bin" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [[ $applet == busybox ]] && continue
  case $applet in
    modprobe|insmod|rmmod|lsmod|depmod|modinfo|ip|ifconfig|route|mdev|init|halt|poweroff|reboot|switch_root|blockdev|fdisk|losetup|sysctl)
      ln -sf ../bin/busybox "$root/sbin/$applet" ;;
    *) ln -sf busybox "$root/bin/$applet" ;;
  esac
done

# Kernel modules: the drivers the test needs, resolved with their
# dependencies by modprobe on the host (in load order).
# cdc_ether and rndis_host are loaded so that a tethering device WOULD get a
# network interface if the agent let a driver bind; depmod below also gives
# the agent their modules.alias entries.
modules=(xhci-pci usb-storage uas sd_mod usbhid hid-generic evdev
         crct10dif_generic crc64_rocksoft_generic cdc_ether rndis_host)
: > "$root/etc/modules"
for m in "${modules[@]}"; do
  deps=$(modprobe -S "$kver" --show-depends "$m" 2>/dev/null) || {
    echo "build_initramfs: kernel $kver has no module '$m'" >&2; exit 1; }
  while read -r verb path _; do
    [[ $verb == insmod ]] || continue   # "builtin NAME" needs nothing
    rel=${path#"$moddir"/}
    dest=$root/lib/modules/$kver/${rel%.xz}
    dest=${dest%.zst}
    mkdir -p "$(dirname "$dest")"
    case $path in
      *.xz) xz -dc "$path" > "$dest" ;;
      *.zst) zstd -dqc "$path" > "$dest" ;;
      *) cp "$path" "$dest" ;;
    esac
  done <<<"$deps"
  echo "$m" >> "$root/etc/modules"
done
for f in modules.builtin modules.builtin.modinfo modules.order; do
  [[ -f $moddir/$f ]] && cp "$moddir/$f" "$root/lib/modules/$kver/"
done
depmod -b "$root" "$kver"

# The given files; ELF executables bring their shared libraries.
declare -A libs=()
for spec in "$@"; do
  src=${spec%%:*}
  dst=${spec#*:}
  [[ -e $src ]] || { echo "build_initramfs: $src not found" >&2; exit 1; }
  mkdir -p "$root$(dirname "$dst")"
  if [[ $(head -c4 "$src" | od -An -c | tr -d ' ') == '177ELF' ]]; then
    # Stripping shrinks a debug build from hundreds of MB to tens.
    strip --strip-unneeded -o "$root$dst" "$src" 2>/dev/null || cp "$src" "$root$dst"
    chmod 0755 "$root$dst"
    while read -r lib; do
      libs[$lib]=1
    done < <(ldd "$src" | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}')
  else
    cp -L "$src" "$root$dst"
  fi
done
for lib in "${!libs[@]}"; do
  mkdir -p "$root$(dirname "$lib")"
  strip --strip-unneeded -o "$root$lib" "$(readlink -f "$lib")" 2>/dev/null || cp -L "$lib" "$root$lib"
done
# The loader is named by PT_INTERP (/lib64/ld-linux-x86-64.so.2 on amd64).
if [[ ! -e $root/lib64/ld-linux-x86-64.so.2 && -e /lib64/ld-linux-x86-64.so.2 ]]; then
  cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
fi

cp "$here/init.sh" "$root/init"
chmod 0755 "$root/init"
# An ordinary user, for what a terminal's user does (mamori-agent unlock).
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:terminal user:/tmp:/bin/sh\n' \
  > "$root/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\n' > "$root/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$root/etc/hosts"
echo "hosts: files" > "$root/etc/nsswitch.conf"
echo "$kver" > "$root/etc/kernel-version"

mkdir -p "$(dirname "$out")"
tmp_out=$out.tmp
case $out in
  # -1: the image is built on every run and decompressed under TCG; both
  # favour speed over size.
  *.gz) (cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet | gzip -1) > "$tmp_out" ;;
  *) (cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) > "$tmp_out" ;;
esac
mv "$tmp_out" "$out"
echo "build_initramfs: $out ($(du -h "$out" | cut -f1))"
