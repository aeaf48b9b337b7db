#!/usr/bin/env python3
"""Real-kernel enforcement test for mamori-agent (ctest label `vm`).

Boots Debian's own kernel (linux-image-amd64) in qemu-system-x86_64 under TCG
with a small initramfs (busybox, the agent, the collector, mamorictl, their
shared libraries, the USB/SCSI/HID modules). Emulated USB devices are
hot-plugged through QMP on a qemu-xhci controller and the guest is checked
from inside, over a command channel on the second serial port (see init.sh).
A collector runs inside the guest as well; the agent reports to it over the
guest's own loopback, and mamorictl output read from the guest shows that the
collector recorded every decision. The VM has no network device.

Modes:
  (default)      the agent's Linux backend (devices.backend: linux) enforces
                 the policy; every case of the issue is checked.
  --kernel-only  no enforcement by the agent: checks the kernel and QEMU facts
                 the backend relies on (default authorization, QEMU's USB ids,
                 authorized_default=0 set by hand, per-interface
                 authorization), and the in-guest collector, mamorictl and a
                 simulated agent.

Latency: for every hot-plugged device the test prints the time from the QMP
device_add returning to the decision. "Decision" is the agent's decision log
line for the device (written after the backend carried it out) in the default
mode, and the first sysfs state the kernel gives the device in
--kernel-only mode. The guest polls every 20 ms; the host measures the time.

Python 3 standard library only. Exit status 0 when every step passes.
"""

import argparse
import base64
import contextlib
import ctypes
import json
import lzma
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SETUP = "packaging/dev/setup.sh"
PORT = 17443  # the guest's own loopback; no host port is involved

# QEMU's emulated devices (hw/usb/dev-*.c), verified in --kernel-only mode.
QEMU_STORAGE_VIDPID = "46f4:0001"
QEMU_UAS_VIDPID = "46f4:0003"
QEMU_MTP_VIDPID = "46f4:0004"
QEMU_KBD_VIDPID = "0627:0001"

SERIAL_UNKNOWN = "MAMORI-UNKNOWN-0001"
SERIAL_REGISTERED = "MAMORI-REG-0001"
SERIAL_READ_ONLY = "MAMORI-RO-0001"
SERIAL_COLD = "MAMORI-COLD-0001"
SERIAL_AGENT_DOWN = "MAMORI-DOWN-0001"
SERIAL_KBD = "MAMORI-KBD-0001"
SERIAL_UAS = "MAMORI-UAS-0001"
SERIAL_MTP = "MAMORI-MTP-0001"
# Re-plugged at one port while the agent is frozen (replug_cases).
SERIAL_REPLUG = "MAMORI-REG-0002"
SERIAL_SWAP = "MAMORI-SWAP-0001"
REPLUG_PORT = "11"  # of xhci's 12 USB 2 ports; the other steps take the lowest free ones
SERIAL_NET = "MAMORI-NET-0001"
SERIAL_CCID = "MAMORI-CCID-0001"
# Plugged only while the collector is down (unlock_cases).
SERIAL_UNLOCK = "MAMORI-UNLOCK-0001"


class Fail(Exception):
    pass


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------
# Prerequisites


def need_tool(name, package):
    path = shutil.which(name) or next(
        (p for p in (f"/sbin/{name}", f"/usr/sbin/{name}") if os.access(p, os.X_OK)), None)
    if not path:
        raise Fail(f"'{name}' not found: install the Debian package '{package}' "
                   f"(run {SETUP}, which installs every test dependency)")
    return path


def version_key(v):
    return [int(x) if x.isdigit() else x for x in re.split(r"[.-]", v)]


def find_kernel(explicit):
    if explicit:
        m = re.match(r"vmlinuz-(.+)$", os.path.basename(explicit))
        if not m:
            raise Fail(f"--kernel {explicit}: expected a /boot/vmlinuz-VERSION file")
        return explicit, m.group(1)
    versions = []
    for name in os.listdir("/boot") if os.path.isdir("/boot") else []:
        m = re.match(r"vmlinuz-(.+)$", name)
        if m and os.path.isfile(f"/lib/modules/{m.group(1)}/modules.dep"):
            versions.append(m.group(1))
    if not versions:
        raise Fail("no kernel found (/boot/vmlinuz-* with /lib/modules/*/modules.dep): install "
                   f"the Debian package 'linux-image-amd64' (run {SETUP})")
    v = max(versions, key=version_key)
    path = f"/boot/vmlinuz-{v}"
    if not os.access(path, os.R_OK):
        raise Fail(f"{path} is not readable by this user (Debian makes it 0600): "
                   f"run the test as root or make it readable")
    return path, v


def extract_vmlinux(bzimage, out):
    """Decompresses the ELF vmlinux from a bzImage, for a PVH boot.

    QEMU boots an ELF kernel with a PVH entry note directly (`-kernel
    vmlinux`), skipping the firmware and the in-guest decompression: under
    TCG that takes a boot from about 8.5 s to about 3 s. Returns None when
    the image is not an xz bzImage or has no PVH note; the caller then boots
    the bzImage itself.
    """
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(bzimage):
        return out
    data = open(bzimage, "rb").read()
    start = data.find(b"\xfd7zXZ\x00")
    if start < 0:
        return None
    try:
        elf = lzma.LZMADecompressor().decompress(data[start:])
    except lzma.LZMAError:
        return None
    if elf[:4] != b"\x7fELF" or b"Xen\x00" not in elf[: 64 << 20]:
        return None
    with open(out + ".tmp", "wb") as f:
        f.write(elf)
    os.replace(out + ".tmp", out)
    return out


# ---------------------------------------------------------------------------
# QEMU, QMP and the guest command channel


def die_with_parent():
    """In the qemu child: SIGKILL when the harness dies (e.g. killed by a ctest timeout)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def connect_unix(path, deadline, proc):
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            if proc.poll() is not None:
                raise Fail(f"qemu exited with status {proc.returncode} before {path} existed")
            if time.monotonic() > deadline:
                raise Fail(f"qemu did not create {path}")
            time.sleep(0.02)


class Qmp:
    def __init__(self, sock, log_path):
        self.sock = sock
        self.buf = b""
        self.events = []
        self.log = open(log_path, "a", encoding="utf-8")
        self._read_message(30)  # greeting
        self.execute("qmp_capabilities")

    def _read_message(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("QMP: no answer from qemu")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise Fail("QMP: qemu closed the monitor")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        self.log.write(f"{time.time():.3f} <- {line.decode(errors='replace')}\n")
        self.log.flush()
        return json.loads(line)

    def execute(self, cmd, timeout=30, **args):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        raw = json.dumps(msg)
        self.log.write(f"{time.time():.3f} -> {raw}\n")
        self.log.flush()
        self.sock.sendall(raw.encode() + b"\n")
        while True:
            m = self._read_message(timeout)
            if "event" in m:
                self.events.append(m)
            elif "return" in m:
                return m["return"]
            elif "error" in m:
                raise Fail(f"QMP {cmd} {args}: {m['error'].get('desc')}")

    def wait_event(self, name, timeout=30, **data):
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev["event"] == name and all(ev.get("data", {}).get(k) == v for k, v in data.items()):
                    del self.events[i]
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail(f"QMP: no {name} event {data} within {timeout} s")
            try:
                m = self._read_message(left)
            except Fail:
                continue
            if "event" in m:
                self.events.append(m)


class Guest:
    """The command server of init.sh on the guest's ttyS1."""

    MARK = re.compile(rb"\n__MAMORI_DONE__ (\d+) (\d+)\n")

    def __init__(self, sock, log_path, vm):
        self.sock = sock
        self.buf = b""
        self.next_id = 1
        self.vm = vm
        self.log = open(log_path, "ab")

    def _recv(self, deadline, what):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail(f"guest: timed out waiting for {what}")
        self.sock.settimeout(min(left, 1.0))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            if self.vm.proc.poll() is not None:
                raise Fail(f"qemu exited (status {self.vm.proc.returncode}) while waiting for {what}")
            return
        if not data:
            raise Fail(f"guest closed the command channel while waiting for {what}")
        self.log.write(data)
        self.log.flush()
        self.buf += data

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(rb"__MAMORI_READY__ ([\d.]+)\n", self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return float(m.group(1))
            self._recv(deadline, "the guest's /init to start its command server")

    def run(self, script, timeout=60, check=True):
        """Runs a shell script (with lib.sh sourced) in the guest."""
        cid = self.next_id
        self.next_id += 1
        full = ". /etc/mamori/lib.sh\n" + script
        self.log.write(f"\n### [{cid}] $ {script}\n".encode())
        self.sock.sendall(f"{cid} ".encode() + base64.b64encode(full.encode()) + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            for m in self.MARK.finditer(self.buf):
                if int(m.group(1)) == cid:
                    out = self.buf[: m.start()].decode(errors="replace")
                    self.buf = self.buf[m.end():]
                    rc = int(m.group(2))
                    if check and rc != 0:
                        raise Fail(f"guest command failed (exit {rc}): {script.strip()}\n{out}")
                    return rc, out
            self._recv(deadline, f"guest command [{cid}] {script.strip()[:80]!r}")


class Vm:
    def __init__(self, work, kernel, initrd, drives, mtp_dir, smp):
        self.work = work
        self.kernel = kernel
        self.initrd = initrd
        self.drives = drives
        self.mtp_dir = mtp_dir
        self.smp = smp
        self.proc = None
        self.qmp = None
        self.guest = None
        self.console = os.path.join(work, "console.log")

    def start(self, boot_timeout):
        for name in ("qmp.sock", "cmd.sock", "console.log", "qmp.log", "channel.log"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.work, name))
        qemu = need_tool("qemu-system-x86_64", "qemu-system-x86")
        cmd = [
            qemu, "-nodefaults", "-no-reboot", "-no-user-config",
            "-machine", "pc", "-accel", "tcg", "-cpu", "max", "-smp", str(self.smp), "-m", "1024",
            "-display", "none", "-nic", "none",
            "-kernel", self.kernel, "-initrd", self.initrd,
            "-append", "console=ttyS0 panic=-1 quiet loglevel=4 cryptomgr.notests",
            "-chardev", f"file,id=con,path={self.console}", "-serial", "chardev:con",
            "-chardev", f"socket,id=cmd,path={self.work}/cmd.sock,server=on,wait=off",
            "-serial", "chardev:cmd",
            "-qmp", f"unix:{self.work}/qmp.sock,server=on,wait=off",
            # Enough ports for every device of the test at once (USB 2 and 3).
            "-device", "qemu-xhci,id=xhci,p2=12,p3=4",
        ]
        for name, path in self.drives.items():
            cmd += ["-drive", f"if=none,id={name},file={path},format=raw"]
        with open(os.path.join(self.work, "qemu.cmdline"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        self.t_start = time.monotonic()
        # Own process group, so that cleanup kills qemu and nothing else.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=open(os.path.join(self.work, "qemu.out"), "wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=die_with_parent)
        deadline = time.monotonic() + 20
        self.qmp = Qmp(connect_unix(f"{self.work}/qmp.sock", deadline, self.proc),
                       os.path.join(self.work, "qmp.log"))
        self.guest = Guest(connect_unix(f"{self.work}/cmd.sock", deadline, self.proc),
                           os.path.join(self.work, "channel.log"), self)
        uptime = self.guest.wait_ready(boot_timeout)
        return time.monotonic() - self.t_start, uptime

    def plug(self, driver, dev_id, **props):
        """device_add; returns the monotonic time at which QMP returned."""
        self.qmp.execute("device_add", driver=driver, id=dev_id, **props)
        return time.monotonic()

    def unplug(self, dev_id, timeout=30):
        self.qmp.execute("device_del", id=dev_id)
        self.qmp.wait_event("DEVICE_DELETED", timeout, device=dev_id)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.qmp.execute("quit", timeout=5)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def console_tail(self, n=60):
        try:
            with open(self.console, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no console log)"


# ---------------------------------------------------------------------------
# Files for the guest


def make_disk(path, mib=8):
    """A raw disk with an MBR and one Linux partition (so sdX1 exists)."""
    size = mib << 20
    sectors = size // 512
    mbr = bytearray(512)
    start = 2048
    entry = bytes([0x00, 0xFE, 0xFF, 0xFF, 0x83, 0xFE, 0xFF, 0xFF])
    entry += start.to_bytes(4, "little") + (sectors - start).to_bytes(4, "little")
    mbr[0x1B8:0x1BC] = os.urandom(4)  # disk signature
    mbr[0x1BE:0x1CE] = entry
    mbr[510:512] = b"\x55\xaa"
    with open(path, "wb") as f:
        f.write(mbr)
        f.truncate(size)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def make_pki(ctl, pki):
    shutil.rmtree(pki, ignore_errors=True)
    steps = [
        ["pki", "init", "--dir", pki, "--name", "Mamori VM Test CA"],
        ["pki", "issue", "server", "--dir", pki, "--id", "collector", "--dns", "localhost",
         "--ip", "127.0.0.1", "--out", f"{pki}/collector"],
        ["pki", "issue", "agent", "--dir", pki, "--id", "vm-1", "--group", "vm", "--out", f"{pki}/agent"],
        ["pki", "issue", "admin", "--dir", pki, "--id", "vm-admin", "--out", f"{pki}/admin"],
        ["pki", "policy-key", "--dir", pki],
        ["pki", "unlock-key", "--dir", pki],
    ]
    for args in steps:
        r = subprocess.run([ctl] + args, capture_output=True, text=True)
        if r.returncode != 0:
            raise Fail(f"mamorictl {' '.join(args)} failed:\n{r.stdout}{r.stderr}")


def guest_configs(cfg_dir):
    """Writes the guest's /etc/mamori; returns {host_path: guest_path}."""
    tls_agent = """tls:
  ca_file: /etc/mamori/pki/ca.pem
  cert_file: /etc/mamori/pki/agent.pem
  key_file: /etc/mamori/pki/agent.key
"""
    common_agent = f"""collector:
  address: 127.0.0.1:{PORT}
  server_name: localhost
{tls_agent}policy:
  public_key_file: /etc/mamori/pki/policy-signing.pub
# The socket stays at its default (/run/mamori/unlock.sock), which is where
# `mamori-agent unlock CODE` looks without options.
unlock:
  public_key_file: /etc/mamori/pki/unlock.pub
report:
  interval: 2s
  jitter_percent: 0
backoff:
  initial: 100ms
  max: 1s
enforcement:
  mode: enforce
policy_file: /etc/mamori/policy.yaml
state_dir: /tmp/agent-state
log:
  level: debug
  file: /tmp/agent.log
"""
    files = {
        "collector.yaml": f"""listen: 127.0.0.1:{PORT}
tls:
  ca_file: /etc/mamori/pki/ca.pem
  cert_file: /etc/mamori/pki/collector.pem
  key_file: /etc/mamori/pki/collector.key
policy:
  signing_key_file: /etc/mamori/pki/policy-signing.key
unlock:
  key_file: /etc/mamori/pki/unlock.key
store:
  path: /tmp/mamori.db
  synchronous: normal
compliance:
  default_report_interval: 2s
log:
  level: info
  file: /tmp/collector.log
""",
        "mamorictl.yaml": f"""collector:
  address: 127.0.0.1:{PORT}
  server_name: localhost
tls:
  ca_file: /etc/mamori/pki/ca.pem
  cert_file: /etc/mamori/pki/admin.pem
  key_file: /etc/mamori/pki/admin.key
""",
        # The Linux backend (agent/platform/linux, SysfsDeviceBackend).
        "agent.yaml": common_agent + """devices:
  backend: linux
  sysfs_root: /sys
  dev_root: /dev
""",
        # --kernel-only: the simulated backend, to prove the agent runs and
        # reports inside the guest.
        "agent-sim.yaml": common_agent + """devices:
  backend: simulated
  directory: /tmp/sim-devices
""",
        "sim-stick.yaml": f"""vendor_id: "46f4"
product_id: "0001"
serial: "{SERIAL_UNKNOWN}"
manufacturer: QEMU
product: QEMU USB HARDDRIVE
bus_path: "1-1"
class: mass_storage
interfaces: [mass_storage]
""",
        "policy.yaml": f"""name: vm-test
description: real-kernel enforcement test (tests/e2e/vm)
defaults:
  storage: block
  other: allow
registered_media:
  - serial: "{SERIAL_REGISTERED}"
    vid_pid: "{QEMU_STORAGE_VIDPID}"
    owner: vm-test
    department: e2e
  - serial: "{SERIAL_READ_ONLY}"
    vid_pid: "{QEMU_STORAGE_VIDPID}"
    owner: vm-test
    department: e2e
  - serial: "{SERIAL_REPLUG}"
    vid_pid: "{QEMU_STORAGE_VIDPID}"
    owner: vm-test
    department: e2e
rules:
  - name: block-phones
    match: {{class: [still_image]}}
    action: block
  - name: read-only-stick
    match: {{serial: "{SERIAL_READ_ONLY}"}}
    action: read_only
  - name: registered-media
    match: {{registered_media: true}}
    action: allow
""",
    }
    out = {}
    for name, text in files.items():
        out[write(os.path.join(cfg_dir, name), text)] = f"/etc/mamori/{name}"
    out[os.path.join(HERE, "guest_lib.sh")] = "/etc/mamori/lib.sh"
    return out


# ---------------------------------------------------------------------------
# Reporting


class Report:
    def __init__(self):
        self.results = []
        self.latencies = []

    @contextlib.contextmanager
    def step(self, name):
        t0 = time.monotonic()
        note = []
        try:
            yield note
        except Exception as e:  # noqa: BLE001 - a harness bug fails the step, not the run
            dt = time.monotonic() - t0
            self.results.append((name, False, dt))
            what = str(e) if isinstance(e, Fail) else f"{type(e).__name__}: {e}"
            log(f"[FAIL] {name} ({dt:.1f} s): {what}")
            return
        dt = time.monotonic() - t0
        self.results.append((name, True, dt))
        log(f"[PASS] {name} ({dt:.1f} s){': ' + '; '.join(note) if note else ''}")

    def latency(self, device, what, seconds):
        self.latencies.append((device, what, seconds))
        log(f"       latency {device}: device_add -> {what}: {seconds * 1000:.0f} ms")

    def ok(self):
        return bool(self.results) and all(ok for _, ok, _ in self.results)

    def summary(self):
        log("\n==> summary")
        for name, ok, dt in self.results:
            log(f"  {'PASS' if ok else 'FAIL'}  {name}  ({dt:.1f} s)")
        if self.latencies:
            log("\n==> device_add -> decision latency (host clock; guest polls every 20 ms)")
            for device, what, s in self.latencies:
                log(f"  {device:<28} {what:<40} {s * 1000:7.0f} ms")


def interface_classes(descriptors_hex):
    """class/subclass/protocol of every interface descriptor in sysfs `descriptors`."""
    raw = bytes.fromhex(descriptors_hex or "")
    out, i = [], 0
    while i + 2 <= len(raw) and raw[i] > 0:
        if raw[i + 1] == 4 and i + 8 <= len(raw):  # INTERFACE
            out.append(f"{raw[i + 5]:02x}/{raw[i + 6]:02x}/{raw[i + 7]:02x}")
        i += raw[i]
    return out


def parse_kv(text):
    """describe() output -> dict (interfaces/disks/partitions as lists)."""
    d = {"interfaces": [], "disks": [], "partitions": [], "inputs": []}
    for line in text.splitlines():
        if "=" not in line:
            continue
        key, _, val = line.partition("=")
        if key == "interface":
            fields = dict(kv.split("=", 1) for kv in line.split()[1:])
            fields["name"] = val.split()[0]
            d["interfaces"].append(fields)
        elif key in ("disk", "partition"):
            name, _, ro = val.partition(" ro=")
            d[key + "s"].append((name, ro))
        elif key == "input":
            d["inputs"].append(val)
        else:
            d[key] = val
    return d


# ---------------------------------------------------------------------------
# The test


class Test:
    def __init__(self, args):
        self.args = args
        self.report = Report()
        self.vm = None
        self.work = os.path.abspath(args.work_dir)
        self.agent_cmd = "mamori-agent --config /etc/mamori/agent.yaml"

    @property
    def g(self):
        return self.vm.guest

    # -- helpers -----------------------------------------------------------

    def describe(self, serial):
        return parse_kv(self.g.run(f"describe '{serial}'")[1])

    def plug_stick(self, serial, drive, dev_id=None):
        dev_id = dev_id or f"dev-{serial.lower()}"
        return self.vm.plug("usb-storage", dev_id, bus="xhci.0", drive=drive, serial=serial,
                            removable=True)

    def wait_guest(self, cond, timeout, what):
        rc, out = self.g.run(f"wait_for {timeout} {cond}", timeout=timeout + 30, check=False)
        if rc != 0:
            raise Fail(f"{what}: not within {timeout} s")
        return time.monotonic()

    def wait_decision(self, serial, t_add, label, timeout=30):
        # t_add None: not a hot-plug (no latency to report).
        """Waits for the agent's decision on SERIAL; returns (action, rule)."""
        t = self.wait_guest(f"decision_line '{serial}'", timeout,
                            f"no decision by the agent for serial {serial} "
                            f"(see {self.work}/guest/agent.log)")
        if t_add is not None:
            self.report.latency(label, "agent decision", t - t_add)
        line = self.g.run(f"decision_line '{serial}'")[1]
        m = re.search(r": (\w+) by rule '([^']*)'", line)
        if not m:
            raise Fail(f"cannot parse the agent's decision line: {line!r}")
        return m.group(1), m.group(2)

    def expect(self, cond, msg):
        if not cond:
            raise Fail(msg)

    def expect_blocked(self, serial, settle=2.0):
        """Authorized 0 and, after `settle` s, still no disk."""
        time.sleep(settle)
        d = self.describe(serial)
        self.expect(d.get("present") == "1", f"{serial}: the USB device is not in sysfs")
        self.expect(d.get("authorized") == "0", f"{serial}: authorized={d.get('authorized')}, expected 0")
        self.expect(not d["disks"], f"{serial}: has /sys/block entries {d['disks']}, expected none")
        return d

    def fetch_guest_logs(self):
        if not self.vm or not self.vm.guest or self.vm.proc.poll() is not None:
            return
        dest = os.path.join(self.work, "guest")
        os.makedirs(dest, exist_ok=True)
        for name in ("agent.log", "agent.out", "collector.log", "collector.out", "agent.log.1",
                     "agent.out.1", "agent-sim.out"):
            with contextlib.suppress(Fail):
                rc, out = self.g.run(f"cat /tmp/{name}", timeout=20, check=False)
                if rc == 0:
                    write(os.path.join(dest, name), out)

    # -- setup -------------------------------------------------------------

    def prepare(self):
        a = self.args
        for path, what in ((a.agent, "--agent"), (a.collector, "--collector"), (a.ctl, "--ctl")):
            if not os.access(path, os.X_OK):
                raise Fail(f"{what} {path}: not an executable (build the targets first)")
        need_tool("qemu-system-x86_64", "qemu-system-x86")
        need_tool("busybox", "busybox-static")
        need_tool("cpio", "cpio")
        need_tool("modprobe", "kmod")
        need_tool("depmod", "kmod")
        bzimage, kver = find_kernel(a.kernel)
        log(f"==> kernel {kver} ({bzimage}); work dir {self.work}")
        os.makedirs(self.work, exist_ok=True)
        for sub in ("guest", "config", "pki", "mtp", "disks"):
            shutil.rmtree(os.path.join(self.work, sub), ignore_errors=True)

        kernel = bzimage
        if a.boot == "pvh":
            kernel = extract_vmlinux(bzimage, os.path.join(self.work, f"vmlinux-{kver}")) or bzimage
            if kernel == bzimage:
                log("    (no PVH entry in the kernel; booting the bzImage)")

        pki = os.path.join(self.work, "pki")
        make_pki(a.ctl, pki)
        files = guest_configs(os.path.join(self.work, "config"))
        for name in ("ca.pem", "collector.pem", "collector.key", "agent.pem", "agent.key",
                     "admin.pem", "admin.key", "policy-signing.key", "policy-signing.pub",
                     "unlock.key", "unlock.pub"):
            files[os.path.join(pki, name)] = f"/etc/mamori/pki/{name}"
        files[a.agent] = "/usr/bin/mamori-agent"
        files[a.collector] = "/usr/bin/mamori-collector"
        files[a.ctl] = "/usr/bin/mamorictl"

        initrd = os.path.join(self.work, "initramfs.cpio.gz")
        t = time.monotonic()
        r = subprocess.run([os.path.join(HERE, "build_initramfs.sh"), kver, initrd] +
                           [f"{h}:{g}" for h, g in files.items()], capture_output=True, text=True)
        if r.returncode != 0:
            raise Fail(f"build_initramfs.sh failed:\n{r.stdout}{r.stderr}")
        log(f"    initramfs {os.path.getsize(initrd) >> 20} MiB built in {time.monotonic() - t:.1f} s")

        drives = {}
        for i in range(8):
            path = os.path.join(self.work, "disks", f"d{i}.img")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            make_disk(path)
            drives[f"d{i}"] = path
        mtp = os.path.join(self.work, "mtp")
        write(os.path.join(mtp, "DCIM", "photo.txt"), "a file a phone would carry\n")
        self.vm = Vm(self.work, kernel, initrd, drives, mtp, a.smp)

    def boot(self):
        with self.report.step("boot: Debian kernel under TCG, initramfs, command channel") as note:
            total, uptime = self.vm.start(self.args.boot_timeout)
            note.append(f"ready {total:.1f} s after qemu started (guest uptime {uptime:.1f} s)")
            rc, out = self.g.run("uname -r; cat /sys/bus/usb/devices/usb*/authorized_default | tr '\\n' ' '; "
                                 "ip -o addr show lo | grep -q 127.0.0.1 && echo lo-up")
            self.expect("lo-up" in out, f"loopback not up in the guest: {out}")
            note.append(f"kernel {out.split()[0]}")
        if self.report.results[-1][1] is False:
            raise Fail("the VM did not boot")

    def start_collector(self):
        with self.report.step("collector: starts inside the guest on 127.0.0.1 (loopback only)") as note:
            self.g.run("start_daemon collector mamori-collector --config /etc/mamori/collector.yaml")
            self.wait_guest("mamorictl status", 60,
                            "mamorictl cannot reach the collector in the guest")
            note.append(f"mamorictl status answers (port {PORT})")

    # -- kernel-only -------------------------------------------------------

    def kernel_only(self):
        g = self.g
        with self.report.step("in-guest agent (simulated backend) reports to the in-guest collector") as note:
            g.run("mkdir -p /tmp/sim-devices && "
                  "cp /etc/mamori/sim-stick.yaml /tmp/sim-devices/stick.yaml && "
                  "start_daemon agent-sim mamori-agent --config "
                  "/etc/mamori/agent-sim.yaml")
            self.wait_collector_has({SERIAL_UNKNOWN: ("block", "default")}, timeout=60, note=note)
            g.run("kill $(cat /tmp/agent-sim.pid)")

        with self.report.step("usb-storage: kernel default authorizes, /sys/block appears; QEMU ids") as note:
            serial = "KERNEL-STICK-0001"
            t = self.plug_stick(serial, "d0")
            self.report.latency("usb-storage (no agent)", "USB device in sysfs",
                                self.wait_guest(f"usb_dir {serial}", 30, "no USB device") - t)
            self.report.latency("usb-storage (no agent)", "/sys/block entry",
                                self.wait_guest(f"has_disk {serial}", 30, "no /sys/block entry") - t)
            d = self.describe(serial)
            vidpid = f"{d['idVendor']}:{d['idProduct']}"
            self.expect(vidpid == QEMU_STORAGE_VIDPID, f"usb-storage is {vidpid}")
            self.expect(d["authorized"] == "1", "not authorized by default")
            intf = d["interfaces"][0]
            note.append(f"{vidpid}, serial string as given, interface {intf['class']}/{intf['subclass']}/"
                        f"{intf['protocol']} driver {intf['driver']}, disk {d['disks']}, "
                        f"partitions {d['partitions']}")
            self.expect(d["partitions"], "no partition entry (sdX1)")

        with self.report.step("usb-kbd: authorized, input device; QEMU ids") as note:
            t = self.vm.plug("usb-kbd", "kbd0", bus="xhci.0", serial=SERIAL_KBD)
            self.report.latency("usb-kbd (no agent)", "input device",
                                self.wait_guest(f"has_input {SERIAL_KBD}", 30, "no input device") - t)
            d = self.describe(SERIAL_KBD)
            vidpid = f"{d['idVendor']}:{d['idProduct']}"
            self.expect(vidpid == QEMU_KBD_VIDPID, f"usb-kbd is {vidpid}")
            intf = d["interfaces"][0]
            note.append(f"{vidpid}, interface {intf['class']}/{intf['subclass']}/{intf['protocol']} "
                        f"driver {intf['driver']}, {d['inputs']}")

        with self.report.step("usb-uas + scsi-hd: QEMU ids, driver uas, /sys/block appears") as note:
            t = self.plug_uas(SERIAL_UAS, "d1")
            self.report.latency("usb-uas (no agent)", "/sys/block entry",
                                self.wait_guest(f"has_disk {SERIAL_UAS}", 30, "no /sys/block entry") - t)
            d = self.describe(SERIAL_UAS)
            vidpid = f"{d['idVendor']}:{d['idProduct']}"
            self.expect(vidpid == QEMU_UAS_VIDPID, f"usb-uas is {vidpid}")
            note.append(f"{vidpid}, interfaces " + ", ".join(
                f"{i['class']}/{i['subclass']}/{i['protocol']}:{i['driver']}" for i in d["interfaces"]))

        with self.report.step("usb-mtp: QEMU ids and class codes (no kernel driver)") as note:
            t = self.vm.plug("usb-mtp", "mtp0", bus="xhci.0", rootdir=self.vm.mtp_dir,
                             serial=SERIAL_MTP, desc="Mamori test phone")
            self.report.latency("usb-mtp (no agent)", "USB device in sysfs",
                                self.wait_guest(f"usb_dir {SERIAL_MTP}", 30, "no USB device") - t)
            d = self.describe(SERIAL_MTP)
            vidpid = f"{d['idVendor']}:{d['idProduct']}"
            self.expect(vidpid == QEMU_MTP_VIDPID, f"usb-mtp is {vidpid}")
            note.append(f"{vidpid}, device class {d['bDeviceClass']}, interfaces " + ", ".join(
                f"{i['class']}/{i['subclass']}/{i['protocol']}" for i in d["interfaces"]))

        with self.report.step("authorized_default=0 by hand: a new stick gets no /sys/block") as note:
            g.run("for h in /sys/bus/usb/devices/usb*; do echo 0 > $h/authorized_default; done")
            serial = "KERNEL-STICK-0002"
            t = self.plug_stick(serial, "d2")
            self.report.latency("usb-storage (default 0)", "USB device in sysfs (authorized=0)",
                                self.wait_guest(f"usb_dir {serial}", 30, "no USB device") - t)
            d = self.expect_blocked(serial, settle=3)
            classes = interface_classes(d.get("descriptors"))
            self.expect(classes == ["08/06/50"], f"descriptors of the unauthorized stick: {classes}")
            note.append(f"authorized={d['authorized']}, no disk after 3 s, interface dirs "
                        f"{[i['name'] for i in d['interfaces']]} (none until authorized), serial and "
                        f"ids readable, interface classes from `descriptors`: {classes}")

        with self.report.step("authorized=1 by hand: the blocked stick's disk appears") as note:
            serial = "KERNEL-STICK-0002"
            t0 = time.monotonic()
            g.run(f"echo 1 > $(usb_dir {serial})/authorized")
            t = self.wait_guest(f"has_disk {serial}", 30, "no /sys/block after authorizing") - t0
            note.append(f"disk {self.describe(serial)['disks']} {t * 1000:.0f} ms after authorized=1")

        with self.report.step("authorized=0 by hand on a used stick: its disk goes away") as note:
            serial = "KERNEL-STICK-0001"
            t0 = time.monotonic()
            g.run(f"echo 0 > $(usb_dir {serial})/authorized")
            self.wait_guest(f"not has_disk {serial}", 30, "/sys/block entry stays")
            note.append(f"gone {1000 * (time.monotonic() - t0):.0f} ms after authorized=0")

        with self.report.step("per-interface authorization (interface_authorized_default=0): "
                              "does authorizing the interface bind its driver?") as note:
            g.run("for h in /sys/bus/usb/devices/usb*; do echo 0 > $h/interface_authorized_default; done")
            serial = "KERNEL-STICK-0003"
            self.plug_stick(serial, "d3")
            self.wait_guest(f"usb_dir {serial}", 30, "no USB device")
            g.run(f"echo 1 > $(usb_dir {serial})/authorized")
            time.sleep(2)
            d = self.describe(serial)
            self.expect(d["authorized"] == "1", "device not authorized")
            self.expect(d["interfaces"] and d["interfaces"][0]["authorized"] == "0",
                        f"interface authorized: {d['interfaces']}")
            self.expect(not d["disks"], f"disk with the interface unauthorized: {d['disks']}")
            intf = d["interfaces"][0]["name"]
            t0 = time.monotonic()
            g.run(f"echo 1 > $(usb_dir {serial})/{intf}/authorized")
            rc, _ = g.run(f"wait_for 5 has_disk {serial}", timeout=30, check=False)
            if rc == 0:
                note.append(f"interface authorized=1 alone bound usb-storage; disk after "
                            f"{1000 * (time.monotonic() - t0):.0f} ms")
            else:
                d = self.describe(serial)
                note.append(f"interface authorized=1 alone did NOT probe (driver "
                            f"{d['interfaces'][0]['driver']}); trying drivers_probe")
                g.run(f"echo {intf} > /sys/bus/usb/drivers_probe")
                self.wait_guest(f"has_disk {serial}", 30, "no disk even after drivers_probe")
                note.append("disk appeared after writing the interface to /sys/bus/usb/drivers_probe")

    def plug_uas(self, serial, drive):
        """usb-uas with a scsi-hd; returns the time the device was attached.

        A hot-plugged usb-uas is not attached to its port until told so
        (QEMU sets auto_attach=0 for it), so that its SCSI disk can be added
        first: the guest then sees a UAS device with its LUN, as with a real
        one. Attaching is the moment of "plugging in".
        """
        dev_id = f"uas-{serial.lower()}"
        self.vm.qmp.execute("device_add", driver="usb-uas", id=dev_id, bus="xhci.0", serial=serial)
        self.vm.qmp.execute("device_add", driver="scsi-hd", id=f"{dev_id}-disk", bus=f"{dev_id}.0",
                            drive=drive, **{"scsi-id": 0, "lun": 0})
        self.vm.qmp.execute("qom-set", path=f"/machine/peripheral/{dev_id}", property="attached",
                            value=True)
        return time.monotonic()

    # -- the collector's record --------------------------------------------

    def collector_view(self):
        rc, out = self.g.run("mamorictl terminal vm-1 --output json", timeout=60, check=False)
        terminal = json.loads(out) if rc == 0 else None
        rc2, out2 = self.g.run("mamorictl events --terminal vm-1 --limit 1000 --output json",
                               timeout=60, check=False)
        events = json.loads(out2) if rc2 == 0 else None
        return terminal, events, (out if rc else "") + (out2 if rc2 else "")

    def wait_collector_has(self, expected, timeout, note):
        """expected: {serial: (action, rule)}: the collector holds an event with
        this decision for the device, carried out (enforced) by the agent."""
        deadline = time.monotonic() + timeout
        missing = expected
        while True:
            terminal, events, err = self.collector_view()
            seen = {}
            for ev in (events or {}).get("events", []):
                dev = ev.get("device") or {}
                dec = dev.get("decision") or {}
                if dev.get("serial") in expected and dec:
                    action = dec.get("action", "").replace("ACTION_", "").lower()
                    if not dec.get("enforced"):
                        action += " (not enforced: " + dec.get("enforcementError", "") + ")"
                    seen.setdefault(dev["serial"], set()).add((action, dec.get("matchedRule", "")))
            missing = {s: e for s, e in expected.items() if e not in seen.get(s, set())}
            if not missing:
                write(os.path.join(self.work, "guest", "terminal.json"), json.dumps(terminal, indent=1))
                write(os.path.join(self.work, "guest", "events.json"), json.dumps(events, indent=1))
                note.append(f"{len(expected)} decisions recorded by the collector")
                return terminal, events
            if time.monotonic() > deadline:
                raise Fail(f"the collector has not recorded {missing}; it has {seen} {err}")
            time.sleep(1)

    # -- with the agent's Linux backend ----------------------------------------

    def agent_cases(self):
        g = self.g
        with self.report.step("policy applied through the collector (group vm)") as note:
            g.run("mamorictl policy apply /etc/mamori/policy.yaml --group vm", timeout=60)
            note.append("mamorictl policy apply")

        with self.report.step("stick plugged before the agent ever started: the kernel default "
                              "authorizes it (baseline)") as note:
            t = self.plug_stick(SERIAL_COLD, "d0")
            self.report.latency("usb-storage (before agent)", "/sys/block entry",
                                self.wait_guest(f"has_disk {SERIAL_COLD}", 30, "no /sys/block entry") - t)
            note.append(f"disk {self.describe(SERIAL_COLD)['disks']}")

        with self.report.step("agent starts with devices.backend: linux, fails closed") as note:
            g.run(f"start_daemon agent {self.agent_cmd}")
            rc, _ = g.run("wait_for 30 agent_up_or_dead", timeout=60, check=False)
            if not g.run("alive agent", check=False)[0] == 0:
                out = g.run("tail -n 20 /tmp/agent.out /tmp/agent.log 2>/dev/null", check=False)[1]
                hint = ""
                if "unknown backend" in out:
                    hint = ("\n  -> the agent does not know devices.backend: linux yet (the Linux "
                            "backend, agent/platform/linux SysfsDeviceBackend, has not landed)")
                raise Fail(f"the agent exited:\n{out}{hint}")
            self.expect(rc == 0, "root hubs still have authorized_default != 0 after 30 s")
            out = g.run("for h in /sys/bus/usb/devices/usb*; do echo $(basename $h): "
                        "authorized_default=$(cat $h/authorized_default) "
                        "interface_authorized_default=$(cat $h/interface_authorized_default); done")[1]
            note.append(" ".join(out.split()))
        if not self.report.results[-1][1]:
            raise Fail("the agent is not enforcing; the remaining cases need it and were not run")

        with self.report.step("stick present before the agent started: deauthorized, no /sys/block") as note:
            self.wait_guest(f"not has_disk {SERIAL_COLD}", 30, f"{SERIAL_COLD} keeps its disk")
            action, rule = self.wait_decision(SERIAL_COLD, None, "")
            self.expect(action == "block", f"decision {action} by {rule}, expected block")
            self.expect_blocked(SERIAL_COLD)
            note.append(f"{action} by rule '{rule}'")

        with self.report.step("unregistered stick: never gets a /sys/block entry, authorized=0") as note:
            t = self.plug_stick(SERIAL_UNKNOWN, "d1")
            # Watched from device_add on: the disk must never appear, not even
            # briefly before the decision. The decision's latency is the
            # host's time to start the watch plus the guest's time from there.
            t_watch = time.monotonic()
            rc, out = g.run(f"watch_blocked {SERIAL_UNKNOWN} 8", timeout=60, check=False)
            self.expect(rc == 0, f"{SERIAL_UNKNOWN} got a /sys/block entry: {out}")
            m = re.search(r"decision_ms=(\d+)", out)
            if m:
                self.report.latency("usb-storage unregistered", "agent decision",
                                    t_watch - t + int(m.group(1)) / 1000)
                action, rule = self.wait_decision(SERIAL_UNKNOWN, None, "")
            else:
                action, rule = self.wait_decision(SERIAL_UNKNOWN, t, "usb-storage unregistered")
            self.expect(action == "block" and rule == "default",
                        f"decision {action} by '{rule}', expected block by 'default'")
            self.expect_blocked(SERIAL_UNKNOWN, settle=0)
            note.append(f"{action} by rule '{rule}', never a disk in 8 s of 20 ms polling")

        with self.report.step("registered stick: /sys/block entry appears, readable") as note:
            t = self.plug_stick(SERIAL_REGISTERED, "d2")
            action, rule = self.wait_decision(SERIAL_REGISTERED, t, "usb-storage registered")
            self.expect(action == "allow", f"decision {action} by '{rule}', expected allow")
            self.report.latency("usb-storage registered", "/sys/block entry",
                                self.wait_guest(f"has_disk {SERIAL_REGISTERED}", 30, "no disk") - t)
            d = self.describe(SERIAL_REGISTERED)
            disk = d["disks"][0][0]
            g.run(f"dd if=/dev/{disk} of=/dev/null bs=4096 count=16 2>/dev/null")
            self.expect(d["disks"][0][1] == "0", f"registered stick is read-only: {d['disks']}")
            note.append(f"{action} by rule '{rule}', /dev/{disk} readable, ro=0")

        with self.report.step("read_only stick: disk and partitions ro=1, writes refused") as note:
            t = self.plug_stick(SERIAL_READ_ONLY, "d3")
            action, rule = self.wait_decision(SERIAL_READ_ONLY, t, "usb-storage read_only")
            self.expect(action == "read_only", f"decision {action} by '{rule}', expected read_only")
            self.wait_guest(f"has_disk {SERIAL_READ_ONLY}", 30, "no disk")
            t_ro = self.wait_guest(f"disk_ro {SERIAL_READ_ONLY}", 30, "disk or partition ro stays 0")
            self.report.latency("usb-storage read_only", "/sys/block/sdX/ro = 1", t_ro - t)
            d = self.describe(SERIAL_READ_ONLY)
            self.expect(all(ro == "1" for _, ro in d["disks"] + d["partitions"]),
                        f"ro flags: disks {d['disks']} partitions {d['partitions']}")
            disk = d["disks"][0][0]
            rc, out = g.run(f"dd if=/dev/zero of=/dev/{disk} bs=512 count=1 conv=fsync", check=False)
            self.expect(rc != 0, f"a write to /dev/{disk} succeeded")
            note.append(f"{action} by rule '{rule}', {d['disks']} {d['partitions']}, write refused")

        with self.report.step("usb-kbd: stays authorized, input device present") as note:
            t = self.vm.plug("usb-kbd", "kbd0", bus="xhci.0", serial=SERIAL_KBD)
            action, rule = self.wait_decision(SERIAL_KBD, t, "usb-kbd")
            self.expect(action == "allow", f"decision {action} by '{rule}', expected allow")
            self.report.latency("usb-kbd", "input device",
                                self.wait_guest(f"has_input {SERIAL_KBD}", 30, "no input device") - t)
            d = self.describe(SERIAL_KBD)
            self.expect(d["authorized"] == "1", "keyboard not authorized")
            note.append(f"{action} by rule '{rule}', {d['inputs']}")

        with self.report.step("usb-uas + scsi-hd, unregistered: no /sys/block entry") as note:
            t = self.plug_uas(SERIAL_UAS, "d4")
            action, rule = self.wait_decision(SERIAL_UAS, t, "usb-uas unregistered")
            self.expect(action == "block", f"decision {action} by '{rule}', expected block")
            self.expect_blocked(SERIAL_UAS)
            note.append(f"{action} by rule '{rule}'")

        with self.report.step("usb-mtp (still image): blocked by rule block-phones") as note:
            t = self.vm.plug("usb-mtp", "mtp0", bus="xhci.0", rootdir=self.vm.mtp_dir,
                             serial=SERIAL_MTP, desc="Mamori test phone")
            action, rule = self.wait_decision(SERIAL_MTP, t, "usb-mtp")
            self.expect(action == "block" and rule == "block-phones",
                        f"decision {action} by '{rule}', expected block by 'block-phones'")
            d = self.describe(SERIAL_MTP)
            self.expect(d["authorized"] == "0", f"MTP device authorized={d['authorized']}")
            note.append(f"{action} by rule '{rule}', authorized=0")

        with self.report.step("usb-net (RNDIS/CDC ECM): blocked by default:network, no interface") as note:
            nets_before = set(g.run("ls /sys/class/net")[1].split())
            self.vm.qmp.execute("netdev_add", type="user", id="net-tether")
            t = self.vm.plug("usb-net", "net0", bus="xhci.0", netdev="net-tether",
                             serial=SERIAL_NET)
            action, rule = self.wait_decision(SERIAL_NET, t, "usb-net")
            self.expect(action == "block" and rule == "default:network",
                        f"decision {action} by '{rule}', expected block by 'default:network'")
            d = self.expect_blocked(SERIAL_NET)
            # cdc_ether and rndis_host are loaded: an interface would appear
            # if a driver had bound.
            nets_after = set(g.run("ls /sys/class/net")[1].split())
            self.expect(nets_after == nets_before,
                        f"network interfaces {sorted(nets_before)} became {sorted(nets_after)}")
            note.append(f"{action} by rule '{rule}', authorized={d['authorized']}, "
                        f"network interfaces unchanged: {' '.join(sorted(nets_after))}")

        with self.report.step("usb-ccid (smart-card reader): allowed by default:smart_card") as note:
            t = self.vm.plug("usb-ccid", "ccid0", bus="xhci.0", serial=SERIAL_CCID)
            action, rule = self.wait_decision(SERIAL_CCID, t, "usb-ccid")
            self.expect(action == "allow" and rule == "default:smart_card",
                        f"decision {action} by '{rule}', expected allow by 'default:smart_card'")
            self.wait_guest(f"is_authorized '{SERIAL_CCID}'", 30, "smart-card reader not authorized")
            note.append(f"{action} by rule '{rule}', authorized=1")

        with self.report.step("agent killed (-9): a stick plugged meanwhile stays unusable") as note:
            g.run("kill -9 $(cat /tmp/agent.pid); wait_for 10 not alive agent")
            t = self.plug_stick(SERIAL_AGENT_DOWN, "d5")
            self.wait_guest(f"usb_dir {SERIAL_AGENT_DOWN}", 30, "no USB device")
            d = self.expect_blocked(SERIAL_AGENT_DOWN, settle=3)
            note.append(f"authorized={d['authorized']}, no disk 3 s after plugging, agent down")

        with self.report.step("agent restarted: the stick stays blocked, allowed devices stay") as note:
            g.run("mv /tmp/agent.log /tmp/agent.log.1; mv /tmp/agent.out /tmp/agent.out.1; "
                  f"start_daemon agent {self.agent_cmd}")
            action, rule = self.wait_decision(SERIAL_AGENT_DOWN, None, "")
            self.expect(action == "block", f"decision {action} by '{rule}', expected block")
            self.expect_blocked(SERIAL_AGENT_DOWN)
            self.expect(self.describe(SERIAL_REGISTERED)["disks"], "registered stick lost its disk")
            self.expect(self.describe(SERIAL_KBD)["authorized"] == "1", "keyboard lost authorization")
            note.append(f"{action} by rule '{rule}'; registered stick and keyboard unaffected")

        with self.report.step("collector recorded every decision (mamorictl terminal/events)") as note:
            expected = {
                SERIAL_COLD: ("block", "default"),
                SERIAL_UNKNOWN: ("block", "default"),
                SERIAL_REGISTERED: ("allow", "registered-media"),
                SERIAL_READ_ONLY: ("read_only", "read-only-stick"),
                SERIAL_UAS: ("block", "default"),
                SERIAL_MTP: ("block", "block-phones"),
                SERIAL_NET: ("block", "default:network"),
                SERIAL_CCID: ("allow", "default:smart_card"),
                SERIAL_AGENT_DOWN: ("block", "default"),
            }
            terminal, _ = self.wait_collector_has(expected, timeout=60, note=note)
            devices = {d.get("serial"): d for d in terminal.get("devices", [])}
            for serial in (SERIAL_REGISTERED, SERIAL_READ_ONLY, SERIAL_UNKNOWN, SERIAL_KBD):
                self.expect(serial in devices, f"{serial} not among the terminal's devices")
            kbd = devices[SERIAL_KBD]["decision"]
            self.expect(kbd.get("action") == "ACTION_ALLOW", f"keyboard decision at the collector: {kbd}")
            note.append(f"terminal vm-1 shows {len(devices)} devices")
            checks = {c["name"]: c for c in terminal.get("checks", [])}
            for name in ("enforcement_active", "no_unapproved_storage"):
                c = checks.get(name, {})
                self.expect(c.get("result") == "CHECK_RESULT_PASS",
                            f"compliance check {name}: {c.get('result')} ({c.get('evidence')})")
            note.append("compliance: " + ", ".join(
                f"{n}={c.get('result', '').replace('CHECK_RESULT_', '').lower()}" for n, c in checks.items()))

    # -- what the agent believes is what the kernel has ---------------------

    def decision_count(self, serial):
        return int(self.g.run(f"decision_count '{serial}' || true")[1].strip() or 0)

    def failure_lines(self):
        """The agent's enforcement-failure log lines so far."""
        out = self.g.run("grep -E 'enforcing [a-z_]+ for device .* failed' /tmp/agent.log || true")[1]
        return [line for line in out.splitlines() if line.strip()]

    def blockdev(self, name):
        """A fresh 8 MiB disk as a QEMU block node: unlike -drive, it outlives
        the device_del of the stick using it, so one stick can be re-plugged."""
        path = os.path.join(self.work, "disks", f"{name}.img")
        make_disk(path)
        self.vm.qmp.execute("blockdev-add", driver="raw", **{"node-name": name},
                            file={"driver": "file", "filename": path})
        return name

    def plug_at_port(self, serial, node):
        return self.vm.plug("usb-storage", f"dev-{serial.lower()}", bus="xhci.0", port=REPLUG_PORT,
                            drive=node, serial=serial, removable=True)

    def freeze_agent(self):
        self.g.run("kill -STOP $(cat /tmp/agent.pid)")

    def thaw_agent(self):
        self.g.run("kill -CONT $(cat /tmp/agent.pid)")

    def wait_new_decision(self, serial, before, timeout=30):
        """Waits for a decision line on SERIAL beyond the first `before`."""
        self.wait_guest(f"decisions_beyond '{serial}' {before}", timeout,
                        f"no new decision by the agent for {serial}")
        return self.wait_decision(serial, None, "")

    def replug_cases(self):
        g = self.g
        replug = self.blockdev("replug")
        swap = self.blockdev("swap")
        failures_before = len(self.failure_lines())

        with self.report.step(f"agent frozen (SIGSTOP): registered stick pulled and put back at "
                              f"port {REPLUG_PORT}; after SIGCONT it is usable, as logged") as note:
            self.plug_at_port(SERIAL_REPLUG, replug)
            action, rule = self.wait_decision(SERIAL_REPLUG, None, "")
            self.expect(action == "allow", f"decision {action} by '{rule}', expected allow")
            self.wait_guest(f"has_disk {SERIAL_REPLUG}", 30, "registered stick: no disk")
            devnum = g.run(f"cat $(usb_dir {SERIAL_REPLUG})/devnum")[1].strip()
            before = self.decision_count(SERIAL_REPLUG)

            self.freeze_agent()
            try:
                self.vm.unplug(f"dev-{SERIAL_REPLUG.lower()}")
                self.plug_at_port(SERIAL_REPLUG, replug)
                self.wait_guest(f"usb_dir {SERIAL_REPLUG}", 30, "re-plugged stick not in sysfs")
                d = self.describe(SERIAL_REPLUG)
                devnum2 = g.run(f"cat $(usb_dir {SERIAL_REPLUG})/devnum")[1].strip()
                self.expect(d["authorized"] == "0" and not d["disks"],
                            f"with the agent frozen the new plug-in is authorized={d['authorized']} "
                            f"disks={d['disks']} (kernel default should hold it)")
            finally:
                self.thaw_agent()

            action, rule = self.wait_new_decision(SERIAL_REPLUG, before)
            self.expect(action == "allow", f"decision {action} by '{rule}', expected allow")
            self.wait_guest(f"has_disk {SERIAL_REPLUG}", 30,
                            "the agent logged allow but the kernel keeps the stick unusable")
            d = self.describe(SERIAL_REPLUG)
            self.expect(d["authorized"] == "1", f"authorized={d['authorized']} after allow")
            note.append(f"devnum {devnum} -> {devnum2}; {action} by rule '{rule}' carried out on the "
                        f"new plug-in, disk {d['disks']}")

        with self.report.step(f"agent frozen (SIGSTOP): registered stick swapped for an "
                              f"unregistered one at port {REPLUG_PORT}; after SIGCONT it is "
                              f"blocked, as logged") as note:
            self.freeze_agent()
            try:
                self.vm.unplug(f"dev-{SERIAL_REPLUG.lower()}")
                self.plug_at_port(SERIAL_SWAP, swap)
                self.wait_guest(f"usb_dir {SERIAL_SWAP}", 30, "swapped-in stick not in sysfs")
            finally:
                self.thaw_agent()
            action, rule = self.wait_decision(SERIAL_SWAP, None, "")
            self.expect(action == "block" and rule == "default",
                        f"decision {action} by '{rule}', expected block by 'default'")
            d = self.expect_blocked(SERIAL_SWAP, settle=2)
            note.append(f"{action} by rule '{rule}', authorized={d['authorized']}, no disk")
            self.vm.unplug(f"dev-{SERIAL_SWAP.lower()}")

        with self.report.step("quick plug/unplug of a registered stick, 12 times: no enforcement "
                              "failure") as note:
            for i in range(12):
                self.plug_at_port(SERIAL_REPLUG, replug)
                time.sleep((0.05, 0.2, 0.5, 1.0)[i % 4])
                self.vm.unplug(f"dev-{SERIAL_REPLUG.lower()}")
            self.plug_at_port(SERIAL_REPLUG, replug)
            self.wait_guest(f"has_disk {SERIAL_REPLUG}", 30, "registered stick: no disk at the end")
            time.sleep(2)
            new_failures = self.failure_lines()[failures_before:]
            self.expect(not new_failures, "enforcement failures: " + " | ".join(new_failures[:3]))
            note.append("12 cycles (50 ms to 1 s plugged), then plugged for good: usable; "
                        "no ENFORCEMENT_FAILURE in the agent log")

        with self.report.step("after the replug cases the collector shows enforcement_active "
                              "passing and no ENFORCEMENT_FAILURE event") as note:
            deadline = time.monotonic() + 60
            while True:
                terminal, events, err = self.collector_view()
                checks = {c["name"]: c for c in (terminal or {}).get("checks", [])}
                ea = checks.get("enforcement_active", {})
                bad = [e for e in (events or {}).get("events", [])
                       if "ENFORCEMENT_FAILURE" in str(e.get("kind", ""))]
                seen_swap = any((e.get("device") or {}).get("serial") == SERIAL_SWAP
                                for e in (events or {}).get("events", []))
                if ea.get("result") == "CHECK_RESULT_PASS" and not bad and seen_swap:
                    break
                if time.monotonic() > deadline:
                    raise Fail(f"enforcement_active {ea.get('result')} ({ea.get('evidence')}); "
                               f"{len(bad)} ENFORCEMENT_FAILURE event(s): "
                               f"{[e.get('detail') for e in bad][:3]}; swap recorded: {seen_swap} {err}")
                time.sleep(1)
            note.append("enforcement_active=pass, 0 ENFORCEMENT_FAILURE events")

        with self.report.step("read_only stick: each disk released to automounters only after it "
                              "is read-only (the real kernel takes the synthetic uevent)") as note:
            log_text = g.run("cat /tmp/agent.log.1 /tmp/agent.log 2>/dev/null")[1]
            d = self.describe(SERIAL_READ_ONLY)
            disks = [n for n, _ in d["disks"] + d["partitions"]]
            self.expect(disks, "the read_only stick has no disk")
            for disk in disks:
                ro = min((i for i in (log_text.find(f"block device {disk} is read-only"),
                                      log_text.find(f"block device {disk} of USB device")) if i >= 0),
                         default=-1)
                rel = log_text.find(f"block device {disk} released to automounters")
                self.expect(ro >= 0, f"no read-only line for {disk} in the agent log")
                self.expect(rel > ro, f"{disk}: release logged at {rel}, read-only at {ro}")
            refused = [l for l in log_text.splitlines() if "stays hidden from automounters" in l]
            self.expect(not refused, "the kernel refused a release uevent: " + " | ".join(refused[:2]))
            note.append(f"{disks}: read-only, then released (no udev in the guest: the udev rule "
                        f"itself is replayed by ctest udev_rule)")
    # -- time-limited exceptions --------------------------------------------

    def exception_cases(self):
        """An exception approved through the in-guest collector for the
        unregistered stick (blocked above): usable at once, across a replug,
        and de-authorized by the agent itself at the end of the window."""
        g = self.g
        d = self.describe(SERIAL_UNKNOWN)
        self.expect(d.get("present") == "1", f"{SERIAL_UNKNOWN} is not plugged")
        vidpid = f"{d['idVendor']}:{d['idProduct']}"
        window_s = 60

        with self.report.step("exception approved for the unregistered stick: usable within 3 s") as note:
            g.run(f"mamorictl exception request --terminal vm-1 --vid-pid {vidpid} "
                  f"--serial {SERIAL_UNKNOWN} --until +{window_s}s --reason vm-test --for vm",
                  timeout=60)
            t_end = time.monotonic() + window_s
            # From the approval's answer to the disk, timed in the guest.
            rc, out = g.run("mamorictl exception approve 1 && "
                            f"a=$(now_ms) && wait_for 3 has_disk {SERIAL_UNKNOWN} && "
                            "echo usable_ms=$(( $(now_ms) - a ))", timeout=60, check=False)
            self.expect(rc == 0, f"{SERIAL_UNKNOWN} got no disk within 3 s of the approval: {out}")
            m = re.search(r"usable_ms=(\d+)", out)
            if m:
                self.report.latency("usb-storage exception", "approval to /sys/block entry",
                                    int(m.group(1)) / 1000)
            action, rule = self.wait_decision(SERIAL_UNKNOWN, None, "")
            self.expect(action == "allow" and rule == "exception:EX-1",
                        f"decision {action} by '{rule}', expected allow by 'exception:EX-1'")
            note.append(f"{action} by rule '{rule}', disk {self.describe(SERIAL_UNKNOWN)['disks']}")

        with self.report.step("exception: the stick unplugged and replugged inside the window stays usable") as note:
            dev_id = f"dev-{SERIAL_UNKNOWN.lower()}"
            self.vm.unplug(dev_id)
            self.wait_guest(f"not usb_dir {SERIAL_UNKNOWN}", 30, "the stick is still there")
            # device_del took the stick's drive with it; d7 is a fresh one.
            t = self.plug_stick(SERIAL_UNKNOWN, "d7", dev_id)
            self.report.latency("usb-storage exception replug", "/sys/block entry",
                                self.wait_guest(f"has_disk {SERIAL_UNKNOWN}", 30,
                                                "no disk after the replug") - t)
            action, rule = self.wait_decision(SERIAL_UNKNOWN, None, "")
            self.expect(rule == "exception:EX-1", f"decision {action} by '{rule}' after the replug")
            note.append(f"{action} by rule '{rule}' after the replug")

        with self.report.step("exception: at the end of the window the plugged stick is de-authorized") as note:
            remaining = max(0, int(t_end - time.monotonic()))
            self.wait_guest(f"not has_disk {SERIAL_UNKNOWN}", remaining + 30,
                            "the stick keeps its disk after the window")
            d = self.describe(SERIAL_UNKNOWN)
            self.expect(d.get("present") == "1", "the stick was unplugged, not de-authorized")
            self.expect(d["authorized"] == "0", f"authorized={d['authorized']} after the window")
            # The kernel drops the disk as the agent writes authorized=0; the
            # agent logs its decision once the write is read back.
            deadline = time.monotonic() + 10
            while True:
                action, rule = self.wait_decision(SERIAL_UNKNOWN, None, "")
                if action == "block" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            self.expect(action == "block" and rule == "default",
                        f"decision {action} by '{rule}', expected block by 'default'")
            rc, out = g.run("mamorictl events --terminal vm-1 --limit 1000", timeout=60, check=False)
            self.expect("exception_ended" in out, "no exception_ended event at the collector")
            note.append(f"authorized=0 while plugged, {action} by rule '{rule}', "
                        "exception_ended at the collector")

    # -- offline unlock codes -----------------------------------------------

    def unlock_cases(self):
        """A code issued by the in-guest collector for a stick the terminal
        has never seen; the collector is then stopped, so the agent alone
        validates the code that the terminal's ordinary user (uid 1000, not
        root) types into `mamori-agent unlock` with the default socket, and
        the kernel makes the stick usable."""
        g = self.g
        as_user = "su user -c"
        with self.report.step("unlock code issued for an unregistered stick; collector stopped; "
                              "the stick plugged meanwhile is blocked") as note:
            rc, out = g.run(f"mamorictl unlock issue --terminal vm-1 --device {QEMU_STORAGE_VIDPID} "
                            f"--serial {SERIAL_UNLOCK} --hours 1 --reason vm-test --output json",
                            timeout=60, check=False)
            self.expect(rc == 0, f"mamorictl unlock issue failed: {out}")
            try:
                code = json.loads(out)["code"]["code"]
            except (ValueError, KeyError, TypeError):
                raise Fail(f"no code in the answer of mamorictl unlock issue: {out}") from None
            self.expect(re.fullmatch(r"[0-9A-Z]{6}-[0-9A-Z]{6}-[0-9A-Z]{6}", code) is not None,
                        f"unlock code {code!r} is not three groups of 6 (20 characters)")
            self.unlock_code = code
            g.run("kill $(cat /tmp/collector.pid) && wait_for 15 not alive collector", timeout=60)
            rc, out = g.run("mamorictl status", timeout=60, check=False)
            self.expect(rc != 0, f"mamorictl still reaches a collector: {out}")
            t = self.plug_stick(SERIAL_UNLOCK, self.blockdev("unlock"))
            action, rule = self.wait_decision(SERIAL_UNLOCK, t, "usb-storage (collector down)")
            self.expect(action == "block" and rule == "default",
                        f"decision {action} by '{rule}', expected block by 'default'")
            d = self.expect_blocked(SERIAL_UNLOCK)
            note.append(f"code {code[:3]}...; collector down; {action} by rule '{rule}', "
                        f"authorized={d['authorized']}, no disk")

        with self.report.step("mamori-agent unlock CODE typed by an ordinary user with the "
                              "collector unreachable: the stick is usable within 3 s") as note:
            # Timed in the guest, from just before the command to the disk.
            rc, out = g.run(f"a=$(now_ms); {as_user} 'mamori-agent unlock {self.unlock_code}' "
                            "|| exit 1; "
                            "echo answered_ms=$(( $(now_ms) - a )); "
                            f"wait_for 3 has_disk {SERIAL_UNLOCK} || exit 2; "
                            "echo usable_ms=$(( $(now_ms) - a ))", timeout=60, check=False)
            self.expect(rc != 1, f"mamori-agent unlock refused the code: {out}")
            self.expect(rc == 0, f"{SERIAL_UNLOCK} got no disk within 3 s of the code: {out}")
            self.expect("unlock code accepted" in out, f"mamori-agent unlock said: {out}")
            answered = re.search(r"answered_ms=(\d+)", out)
            usable = re.search(r"usable_ms=(\d+)", out)
            if usable:
                self.report.latency("usb-storage unlock code", "`mamori-agent unlock` to /sys/block",
                                    int(usable.group(1)) / 1000)
            d = self.describe(SERIAL_UNLOCK)
            self.expect(d["authorized"] == "1", f"authorized={d['authorized']} after the code")
            disk = d["disks"][0][0]
            g.run(f"dd if=/dev/{disk} of=/dev/null bs=4096 count=16 2>/dev/null")
            action, rule = self.wait_decision(SERIAL_UNLOCK, None, "")
            self.expect(action == "allow" and rule.startswith("exception:unlock-"),
                        f"decision {action} by '{rule}', expected allow by 'exception:unlock-...'")
            note.append(f"{action} by rule '{rule}', /dev/{disk} readable; answer after "
                        f"{answered.group(1) if answered else '?'} ms, disk after "
                        f"{usable.group(1) if usable else '?'} ms")

        with self.report.step("the same code a second time: refused (reused), exit 1") as note:
            rc, out = g.run(f"{as_user} 'mamori-agent unlock {self.unlock_code}'", timeout=60,
                            check=False)
            self.expect(rc == 1, f"exit {rc} for a used code, expected 1: {out}")
            self.expect("refused (reused)" in out, f"mamori-agent unlock said: {out}")
            self.expect(self.describe(SERIAL_UNLOCK)["disks"], "the refusal took the disk away")
            note.append(out.strip().splitlines()[-1])

        with self.report.step("collector restarted: the use and the refusal reach it, the code is "
                              "listed as used by that user") as note:
            g.run("start_daemon collector mamori-collector --config /etc/mamori/collector.yaml")
            self.wait_guest("mamorictl status", 60, "the restarted collector does not answer")
            deadline = time.monotonic() + 60
            while True:
                _, events, err = self.collector_view()
                evs = (events or {}).get("events", [])
                accepted = [e.get("detail", "") for e in evs
                            if "UNLOCK_CODE_ACCEPTED" in str(e.get("kind", ""))]
                refused = [e.get("detail", "") for e in evs
                           if "UNLOCK_CODE_REFUSED" in str(e.get("kind", ""))
                           and "(reused)" in e.get("detail", "")]
                rc, out = g.run("mamorictl unlock list --terminal vm-1 --output json",
                                timeout=60, check=False)
                codes = json.loads(out).get("codes", []) if rc == 0 else []
                used = [c for c in codes if c.get("serial") == SERIAL_UNLOCK and c.get("usedAt")
                        and "uid 1000" in c.get("usedBy", "")]
                if accepted and refused and used:
                    break
                if time.monotonic() > deadline:
                    raise Fail(f"accepted events {accepted}, reused refusals {refused}, "
                               f"codes {codes} {err}")
                time.sleep(1)
            note.append(f"unlock_code_accepted and unlock_code_refused (reused) events; code "
                        f"#{used[0].get('id')} used at {used[0].get('usedAt')} by "
                        f"{used[0].get('usedBy', '?')}")

    # -- main --------------------------------------------------------------

    def run(self):
        try:
            self.prepare()
            self.boot()
            self.start_collector()
            if self.args.kernel_only:
                self.kernel_only()
            else:
                self.agent_cases()
                self.replug_cases()
                self.exception_cases()
                self.unlock_cases()
        except Fail as e:
            self.report.results.append((f"stopped: {str(e).splitlines()[0][:100]}", False, 0.0))
            log(f"[FAIL] {e}")
        finally:
            with contextlib.suppress(Exception):
                self.fetch_guest_logs()
            if self.vm:
                self.vm.stop()
        self.report.summary()
        if not self.report.ok():
            if self.vm:
                log(f"\n==> last lines of the guest console ({self.vm.console}):")
                log(self.vm.console_tail())
                tail = os.path.join(self.work, "guest", "agent.log")
                if os.path.exists(tail):
                    log(f"==> last lines of the agent log ({tail}):")
                    with open(tail, errors="replace") as f:
                        log("".join(f.readlines()[-30:]))
            log(f"artifacts: {self.work}")
            return 1
        log(f"artifacts: {self.work}")
        return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agent", required=True)
    p.add_argument("--collector", required=True)
    p.add_argument("--ctl", required=True)
    p.add_argument("--work-dir", required=True)
    p.add_argument("--kernel", help="a /boot/vmlinuz-VERSION (default: the newest installed)")
    p.add_argument("--kernel-only", action="store_true",
                   help="check the kernel and QEMU behaviour without the agent's Linux backend")
    p.add_argument("--boot", choices=("pvh", "bzimage"), default="pvh",
                   help="pvh: boot the decompressed vmlinux directly (faster); bzimage: as is")
    p.add_argument("--smp", type=int, default=2)
    p.add_argument("--boot-timeout", type=float, default=120)
    args = p.parse_args()
    test = Test(args)

    def on_signal(signum, _frame):
        if test.vm:
            test.vm.stop()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return test.run()


if __name__ == "__main__":
    sys.exit(main())
