#!/usr/bin/env python3
"""Replays packaging/linux/udev/90-mamori-usb-storage.rules with udev's own
rule engine (`udevadm test`) against a fixture sysfs tree (ctest
`udev_rule`).

What it proves, in the order a USB disk lives through it:
  1. a USB disk or partition that appears is hidden from udisks2 and
     systemd (UDISKS_IGNORE=1, UDISKS_AUTO=0, SYSTEMD_READY=0);
  2. the agent's release (the synthetic "change" uevent it writes once the
     disk is read-only, SYNTH_ARG_MAMORI=released) shows it;
  3. later "change" uevents keep it shown (the release is in udev's
     database);
  4. the next disk with the same name (database gone with the old one) is
     hidden again;
  5. disks that are not on USB are left alone.
The order against the kernel (BLKROSET before the release) is the agent's
part, checked by SysfsBackendTest.*Released* in unit_linux.

udevadm test reads the device from /sys and the rules from the system's
rules directories, so the test re-executes itself in a private mount
namespace (unshare -m, as root) with the fixture tree bound over /sys, only
this rule in the rules directories, and tmpfs over /run and /dev: nothing
of the host is read or written. It exits 77 (skipped) when udevadm or the
namespace is not available.

Python 3 standard library only.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RULE = os.path.join(HERE, "..", "..", "packaging", "linux", "udev", "90-mamori-usb-storage.rules")
SKIP = 77

USB_DISK = ("/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/host6/target6:0:0/6:0:0:0/"
            "block/sdb")
USB_PART = USB_DISK + "/sdb1"
SATA_DISK = "/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda"
HELD = {"MAMORI_HELD": "1", "UDISKS_IGNORE": "1", "UDISKS_AUTO": "0", "SYSTEMD_READY": "0"}


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="ascii") as f:
        f.write(text)


def link_subsystem(root, devpath, target):
    d = root + devpath
    os.symlink(os.path.relpath(root + target, d), os.path.join(d, "subsystem"))


def build_tree(root):
    """A sysfs tree shaped like the kernel's for a USB stick and a SATA disk."""
    for d in ("/class/block", "/bus/usb", "/bus/pci", "/bus/scsi"):
        os.makedirs(root + d, exist_ok=True)
    usb_dev = "/devices/pci0000:00/0000:00:14.0/usb1/1-2"
    write(root + usb_dev + "/uevent", "DEVTYPE=usb_device\nDRIVER=usb\n")
    link_subsystem(root, usb_dev, "/bus/usb")
    write(root + usb_dev + "/1-2:1.0/uevent", "DEVTYPE=usb_interface\nDRIVER=usb-storage\n")
    link_subsystem(root, usb_dev + "/1-2:1.0", "/bus/usb")
    for devpath, minor, name, devtype in ((USB_DISK, 16, "sdb", "disk"),
                                          (USB_PART, 17, "sdb1", "partition"),
                                          (SATA_DISK, 0, "sda", "disk")):
        set_uevent(root, devpath, minor, name, devtype)
        link_subsystem(root, devpath, "/class/block")
        write(root + devpath + "/ro", "0\n")


def set_uevent(root, devpath, minor, name, devtype, extra=""):
    write(root + devpath + "/uevent",
          f"MAJOR=8\nMINOR={minor}\nDEVNAME={name}\nDEVTYPE={devtype}\n{extra}")


def udev_test(action, devpath):
    env = dict(os.environ, SYSTEMD_DEVICE_VERIFY_SYSFS="0", SYSTEMD_LOG_LEVEL="info")
    out = subprocess.run(["udevadm", "test", f"--action={action}", "/sys" + devpath],
                         env=env, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"udevadm test {action} {devpath} failed:\n{out.stdout}{out.stderr}")
    props = {}
    for line in out.stdout.splitlines():
        m = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line)
        if m:
            props[m.group(1)] = m.group(2)
    return props


class Checks:
    def __init__(self):
        self.failures = []

    def expect(self, cond, what, props):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            self.failures.append(what)
            print("     properties: " + " ".join(f"{k}={v}" for k, v in sorted(props.items())))


def held(props):
    return all(props.get(k) == v for k, v in HELD.items())


def shown(props):
    return not any(k in props for k in HELD) and props.get("MAMORI_RELEASED") == "1"


def inside(work):
    root = os.path.join(work, "sys")
    rules = os.path.join(work, "rules")
    os.makedirs(rules)
    shutil.copy(RULE, rules)
    build_tree(root)
    mounts = [["mount", "--make-rprivate", "/"],
              ["mount", "--bind", root, "/sys"],
              ["mount", "-t", "tmpfs", "none", "/run"],
              ["mount", "-t", "tmpfs", "none", "/dev"]]
    for d in ("/etc/udev/rules.d", "/run/udev/rules.d", "/usr/local/lib/udev/rules.d",
              "/usr/lib/udev/rules.d", "/lib/udev/rules.d"):
        if os.path.isdir(d) and not os.path.islink(d):
            mounts.append(["mount", "--bind", rules, d])
    for m in mounts:
        subprocess.run(m, check=True)
    os.makedirs("/run/udev/data", exist_ok=True)
    for d in ("/etc/udev/rules.d", "/usr/lib/udev/rules.d"):
        if os.path.isdir(d) and os.listdir(d) != ["90-mamori-usb-storage.rules"]:
            raise AssertionError(f"{d} holds other rules: {os.listdir(d)}")

    c = Checks()
    p = udev_test("add", USB_DISK)
    c.expect(held(p), "a USB disk that appears is hidden from udisks2 and systemd", p)
    p = udev_test("add", USB_PART)
    c.expect(held(p), "so is each of its partitions", p)
    p = udev_test("change", USB_DISK)
    c.expect(held(p), "a change uevent before the release keeps it hidden", p)

    set_uevent(root, USB_DISK, 16, "sdb", "disk", "SYNTH_UUID=6d616d6f-7269-4000-8000-000000000001\n"
               "SYNTH_ARG_MAMORI=released\n")
    p = udev_test("change", USB_DISK)
    c.expect(shown(p), "the agent's release shows it", p)

    set_uevent(root, USB_DISK, 16, "sdb", "disk")
    p = udev_test("change", USB_DISK)
    c.expect(shown(p), "a later change uevent keeps it shown (udev database)", p)
    p = udev_test("change", USB_PART)
    c.expect(held(p), "a partition not released yet stays hidden", p)

    # The disk goes away: its database entry goes with it, as udevd does.
    udev_test("remove", USB_DISK)
    if os.path.exists("/run/udev/data/b8:16"):
        os.remove("/run/udev/data/b8:16")
    p = udev_test("add", USB_DISK)
    c.expect(held(p), "the next disk named sdb is hidden again", p)

    set_uevent(root, USB_DISK, 16, "sdb", "disk", "SYNTH_UUID=0\nSYNTH_ARG_OTHER=released\n")
    p = udev_test("change", USB_DISK)
    c.expect(held(p), "another synthetic uevent does not release it", p)

    p = udev_test("add", SATA_DISK)
    c.expect(not any(k in p for k in HELD), "a SATA disk is left alone", p)

    if c.failures:
        print(f"{len(c.failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--inside":
        return inside(sys.argv[2])
    if not shutil.which("udevadm"):
        print("SKIP: udevadm not installed (package udev)")
        return SKIP
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("SKIP: needs root and unshare(1) for a private mount namespace")
        return SKIP
    with tempfile.TemporaryDirectory(prefix="mamori-udev-") as work:
        probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
        if probe.returncode != 0:
            print("SKIP: cannot create a mount namespace: " + probe.stderr.strip())
            return SKIP
        return subprocess.run(["unshare", "-m", sys.executable, os.path.abspath(__file__),
                               "--inside", work]).returncode


if __name__ == "__main__":
    sys.exit(main())
