#!/usr/bin/env python3
"""Installs the built Debian packages into a clean Debian 12 root and checks
them the way a terminal or a collector host would see them.

  deb_install_test.py PACKAGES_DIR SOURCE_DIR

- A minbase root made by debootstrap, with the packages' dependencies
  included, is cached outside the work tree
  (~/.cache/mamori/debootstrap-<hash of suite, variant, package list>.tar),
  so a warm run downloads nothing. The mirror is the host's own, read from
  its apt configuration at run time.
- dpkg -i of mamori-collector and mamori-ctl: files, owners and modes, the
  collector's system user, its state directory, the conffile.
- systemd-analyze verify of the installed units; systemd-analyze security
  --offline of both, against usbguard.service from Debian's usbguard
  package (downloaded, not installed) in the same run: ours must be lower.
- The collector started from the installed files as its own user on a
  loopback port, with a PKI made by the installed mamorictl, and queried
  by the installed mamorictl.
- mamori-agent installed non-interactively with preseeded debconf answers:
  agent.yaml, the token file (0600 root:root), the token gone from the
  debconf database; then reconfigured from /etc/mamori/enroll.env, and a
  bad answer refused with a message naming it.

Runs as root (debootstrap, chroot, mounts): fails, never skips, otherwise.
Everything runs in a private mount namespace, so nothing stays mounted when
the test ends, however it ends.
"""
import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SUITE = "bookworm"
VARIANT = "minbase"
TOKEN = "tok-0123456789abcdef.QWERTY"
TOKEN2 = "tok-second-token-abcdef"
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "mamori")

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(argv, **kw)


def must(argv, what, **kw):
    r = run(argv, **kw)
    if r.returncode != 0:
        sys.exit(f"{what} failed ({r.returncode}): {' '.join(argv)}\n{r.stdout}\n{r.stderr}")
    return r


def host_mirror():
    """The host's Debian mirror for SUITE, from its apt configuration."""
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for stanza in open(path).read().split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                if m:
                    fields[m.group(1).lower()] = m.group(2).split()
            if SUITE in fields.get("suites", []) and "deb" in fields.get("types", []) \
                    and "main" in fields.get("components", []):
                return fields["uris"][0]
    for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
        if not os.path.exists(path):
            continue
        for line in open(path):
            parts = line.split()
            if len(parts) >= 4 and parts[0] == "deb" and parts[2] == SUITE:
                uri = parts[1] if not parts[1].startswith("[") else parts[2]
                return uri
    sys.exit(f"no apt source for Debian {SUITE} main in /etc/apt: cannot run debootstrap")


def deb_field(deb, field):
    return must(["dpkg-deb", "-f", deb, field], "dpkg-deb -f").stdout.strip()


def dependencies(debs):
    """The first alternative of every Depends/Pre-Depends, versions dropped."""
    ours = {deb_field(d, "Package") for d in debs}
    names = set()
    for deb in debs:
        for field in ("Pre-Depends", "Depends"):
            for dep in filter(None, (x.strip() for x in deb_field(deb, field).split(","))):
                name = re.split(r"[\s(|:]", dep.split("|")[0].strip())[0]
                if name not in ours:
                    names.add(name)
    # What the test itself uses inside the root: openssl for the CA's
    # fingerprint, systemd for systemd-analyze verify --root (the units'
    # default dependencies must resolve).
    names.update({"openssl", "systemd"})
    return sorted(real_package(n) for n in names)


def real_package(name):
    """debootstrap resolves no virtual package (libspdlog1.10-fmt9 is one):
    take the first package that provides it, as apt would."""
    if "Package: " in run(["apt-cache", "show", "--no-all-versions", name]).stdout:
        return name
    out = run(["apt-cache", "showpkg", name]).stdout
    provides = out.split("Reverse Provides:", 1)[-1].split()
    if not provides:
        sys.exit(f"deb_install_test: no package provides '{name}' (apt-get update?)")
    return provides[0]


def cached_root(packages):
    key = hashlib.sha256(f"{SUITE}\n{VARIANT}\n{' '.join(packages)}".encode()).hexdigest()[:16]
    tar = os.path.join(CACHE, f"debootstrap-{key}.tar")
    if os.path.exists(tar):
        print(f"debootstrap root from the cache: {tar}")
        return tar
    os.makedirs(CACHE, exist_ok=True)
    mirror = host_mirror()
    print(f"debootstrap {VARIANT} {SUITE} from the host's mirror, with {' '.join(packages)}",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="mamori-debootstrap-", dir=CACHE) as tmp:
        root = os.path.join(tmp, "root")
        r = run(["debootstrap", f"--variant={VARIANT}", f"--include={','.join(packages)}",
                 SUITE, root, mirror])
        if r.returncode != 0:
            log = os.path.join(root, "debootstrap", "debootstrap.log")
            tail = open(log).read()[-4000:] if os.path.exists(log) else ""
            sys.exit(f"debootstrap failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}\n{tail}")
        # The mirror stays out of the cached root too.
        for f in glob.glob(os.path.join(root, "etc/apt/sources.list*")):
            if os.path.isfile(f):
                os.remove(f)
        shutil.rmtree(os.path.join(root, "var/cache/apt/archives"), ignore_errors=True)
        os.makedirs(os.path.join(root, "var/cache/apt/archives/partial"), exist_ok=True)
        must(["tar", "-C", root, "-cf", tar + ".part", "."], "tar")
        os.replace(tar + ".part", tar)
    return tar


class Root:
    def __init__(self, path):
        self.path = path

    def p(self, rel):
        return os.path.join(self.path, rel.lstrip("/"))

    def run(self, argv, user=None, env=None, **kw):
        cmd = ["chroot"]
        if user:
            cmd.append(f"--userspec={user}")
        full_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8",
                    "HOME": "/root"}
        full_env.update(env or {})
        return run([*cmd, self.path, *argv], env=full_env, **kw)

    def stat(self, rel):
        try:
            return os.lstat(self.p(rel))
        except FileNotFoundError:
            return None

    def uid(self, name):
        for line in open(self.p("/etc/passwd")):
            f = line.split(":")
            if f[0] == name:
                return int(f[2]), int(f[3]), f[6].strip()
        return None

    def gid(self, name):
        for line in open(self.p("/etc/group")):
            f = line.split(":")
            if f[0] == name:
                return int(f[2])
        return None


def check_file(root, rel, mode, uid=0, gid=0, kind="file"):
    st = root.stat(rel)
    if not check(st is not None, f"{rel} exists"):
        return
    is_kind = os.path.stat.S_ISDIR(st.st_mode) if kind == "dir" else os.path.stat.S_ISREG(st.st_mode)
    check(is_kind, f"{rel} is a {kind}")
    got = os.path.stat.S_IMODE(st.st_mode)
    check(got == mode, f"{rel} mode {oct(got)} == {oct(mode)}")
    check((st.st_uid, st.st_gid) == (uid, gid),
          f"{rel} owner {st.st_uid}:{st.st_gid} == {uid}:{gid}")


def exposure(output, unit):
    m = re.search(r"Overall exposure level for " + re.escape(unit) + r": ([0-9.]+)", output)
    return float(m.group(1)) if m else None


def usbguard_unit(workdir):
    """usbguard.service from Debian's usbguard package, downloaded (cached by
    version under ~/.cache/mamori) and extracted, never installed."""
    r = run(["apt-cache", "policy", "usbguard"])
    m = re.search(r"Candidate:\s*(\S+)", r.stdout)
    if not m or m.group(1) == "(none)":
        sys.exit("apt-cache knows no usbguard candidate: run apt-get update")
    version = m.group(1)
    cached = os.path.join(CACHE, f"usbguard_{version.replace(':', '%3a')}.deb")
    if not os.path.exists(cached):
        dl = tempfile.mkdtemp(prefix="usbguard-", dir=workdir)
        must(["apt-get", "download", f"usbguard={version}"], "apt-get download usbguard", cwd=dl)
        os.makedirs(CACHE, exist_ok=True)
        shutil.copy(glob.glob(os.path.join(dl, "usbguard_*.deb"))[0], cached + ".part")
        os.replace(cached + ".part", cached)
    x = os.path.join(workdir, "usbguard")
    must(["dpkg-deb", "-x", cached, x], "dpkg-deb -x usbguard")
    units = glob.glob(os.path.join(x, "*lib/systemd/system/usbguard.service"))
    if not units:
        sys.exit("usbguard package has no usbguard.service")
    return units[0], version


def test_units(root, workdir):
    for unit in ("mamori-collector.service", "mamori-agent.service"):
        r = run(["systemd-analyze", "verify", f"--root={root.path}", "--man=no",
                 f"/lib/systemd/system/{unit}"])
        out = (r.stdout + r.stderr).strip()
        check(r.returncode == 0 and not out,
              f"systemd-analyze verify {unit}" + (f": {out}" if out else ""))

    usbguard, version = usbguard_unit(workdir)
    r = run(["systemd-analyze", "security", "--offline=yes", usbguard])
    theirs = exposure(r.stdout, "usbguard.service")
    check(theirs is not None, f"exposure of usbguard.service {version} measured")
    for unit in ("mamori-collector.service", "mamori-agent.service"):
        r = run(["systemd-analyze", "security", "--offline=yes", f"--root={root.path}",
                 f"/lib/systemd/system/{unit}"])
        ours = exposure(r.stdout, unit)
        if check(ours is not None, f"exposure of {unit} measured") and theirs is not None:
            print(f"     exposure {unit} {ours} vs usbguard.service {theirs}")
            check(ours < theirs, f"{unit} exposure {ours} lower than usbguard.service {theirs}")


def test_collector_files(root):
    for rel, mode in [("/usr/sbin/mamori-collector", 0o755), ("/usr/bin/mamorictl", 0o755),
                      ("/lib/systemd/system/mamori-collector.service", 0o644),
                      ("/etc/mamori/collector.yaml", 0o644),
                      ("/usr/share/man/man8/mamori-collector.8.gz", 0o644),
                      ("/usr/share/man/man1/mamorictl.1.gz", 0o644)]:
        check_file(root, rel, mode)
    conffiles = root.run(["dpkg-query", "-W", "-f=${Conffiles}", "mamori-collector"]).stdout
    check("/etc/mamori/collector.yaml" in conffiles, "collector.yaml is a conffile")
    user = root.uid("mamori-collector")
    if check(user is not None, "system user mamori-collector exists"):
        uid, gid, shell = user
        check(uid < 1000, f"mamori-collector is a system user (uid {uid})")
        check(shell in ("/usr/sbin/nologin", "/bin/false"), f"mamori-collector has no login shell ({shell})")
        check_file(root, "/var/lib/mamori-collector", 0o700, uid, gid, kind="dir")
        check_file(root, "/var/log/mamori-collector", 0o750, uid, gid, kind="dir")
    text = open(root.p("/etc/mamori/collector.yaml")).read()
    check("path: /var/lib/mamori-collector/mamori.db" in text, "collector.yaml keeps the store in /var/lib/mamori-collector")


def wait_for_file(path, proc, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.path.exists(path) and open(path).read().strip():
            return open(path).read().strip()
        if proc.poll() is not None:
            return None
        time.sleep(0.1)
    return None


def test_collector_runs(root):
    ctl = ["/usr/bin/mamorictl"]
    pki = "/etc/mamori/pki"
    for argv in (["pki", "init", "--dir", pki, "--name", "Packaging Test CA"],
                 ["pki", "issue", "server", "--dir", pki, "--id", "collector-1", "--ip",
                  "127.0.0.1", "--dns", "localhost", "--out", f"{pki}/collector"],
                 ["pki", "issue", "admin", "--dir", pki, "--id", "ops"],
                 ["pki", "policy-key", "--dir", pki]):
        r = root.run(ctl + argv)
        if not check(r.returncode == 0, "installed mamorictl " + " ".join(argv[:3])):
            print(r.stdout, r.stderr)
            return None
    # As the collector's configuration tells the operator to.
    gid = root.gid("mamori-collector")
    for rel, mode in ((pki, 0o750), (f"{pki}/collector.key", 0o640),
                      (f"{pki}/policy-signing.key", 0o640)):
        os.chown(root.p(rel), 0, gid)
        os.chmod(root.p(rel), mode)

    # The shipped configuration, on loopback with ports the kernel picks.
    text = open(root.p("/etc/mamori/collector.yaml")).read()
    text = text.replace("listen: 0.0.0.0:7443",
                        "listen: 127.0.0.1:0\nport_file: /var/lib/mamori-collector/test.port")
    text = text.replace("  listen: 0.0.0.0:8443",
                        "  listen: 127.0.0.1:0\n  port_file: /var/lib/mamori-collector/web.port")
    check("test.port" in text and "web.port" in text, "collector.yaml listens where the test expects")
    with open(root.p("/etc/mamori/collector-test.yaml"), "w") as f:
        f.write(text)

    user = "mamori-collector:mamori-collector"
    r = root.run(["/usr/sbin/mamori-collector", "--config", "/etc/mamori/collector-test.yaml",
                  "--check-config"], user=user)
    check(r.returncode == 0, "collector --check-config as mamori-collector" +
          ("" if r.returncode == 0 else f": {r.stderr.strip()}"))

    port_file = root.p("/var/lib/mamori-collector/test.port")
    log = open(os.path.join(root.path, "collector.log"), "w+")
    proc = subprocess.Popen(
        ["chroot", f"--userspec={user}", root.path, "/bin/sh", "-c",
         "umask 077; exec /usr/sbin/mamori-collector --config /etc/mamori/collector-test.yaml"],
        stdout=log, stderr=subprocess.STDOUT, env={"PATH": "/usr/sbin:/usr/bin:/bin"})
    try:
        port = wait_for_file(port_file, proc, 30)
        if not check(port is not None, "installed collector started as mamori-collector"):
            log.seek(0)
            print(log.read()[-3000:])
            return
        conn = ["--collector", f"127.0.0.1:{port}", "--ca", f"{pki}/ca.pem",
                "--cert", f"{pki}/admin-ops.pem", "--key", f"{pki}/admin-ops.key"]
        r = root.run(ctl + ["status"] + conn)
        check(r.returncode == 0, "installed mamorictl status against the installed collector" +
              ("" if r.returncode == 0 else f": {r.stderr.strip()}"))
        r = root.run(ctl + ["terminals", "--output", "json"] + conn)
        check(r.returncode == 0, "installed mamorictl terminals")
        r = root.run(ctl + ["status"] + conn[:2] + ["--ca", f"{pki}/ca.pem", "--cert",
                                                     f"{pki}/collector.pem", "--key",
                                                     f"{pki}/collector.key"])
        check(r.returncode != 0, "a server certificate is refused on the admin API")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    check(rc == 0, f"collector stopped cleanly on SIGTERM (exit {rc})")
    uid, gid, _ = root.uid("mamori-collector")
    db = root.stat("/var/lib/mamori-collector/mamori.db")
    if check(db is not None, "store created in /var/lib/mamori-collector"):
        check((db.st_uid, db.st_gid) == (uid, gid), "store owned by mamori-collector")
        check(os.path.stat.S_IMODE(db.st_mode) == 0o600, "store mode 0600")


def debconf_secrets(root):
    out = ""
    for f in ("/var/cache/debconf/passwords.dat", "/var/cache/debconf/config.dat"):
        if os.path.exists(root.p(f)):
            out += open(root.p(f), errors="replace").read()
    return out


def test_agent(root, agent_deb):
    pki = "/etc/mamori/pki"
    fp = root.run(["openssl", "x509", "-in", f"{pki}/ca.pem", "-noout", "-fingerprint", "-sha256"])
    fingerprint = fp.stdout.strip().split("=", 1)[1]
    hexfp = fingerprint.replace(":", "").lower()
    pub = open(root.p(f"{pki}/policy-signing.pub")).read().split("\n")
    key_line = [l for l in pub if l and not l.startswith("-----")][0]

    selections = "\n".join([
        f"mamori-agent mamori-agent/collector string 127.0.0.1:7443",
        f"mamori-agent mamori-agent/ca_fingerprint string {fingerprint}",
        f"mamori-agent mamori-agent/enroll_token password {TOKEN}",
        f"mamori-agent mamori-agent/policy_public_key string {key_line}", ""])
    must(["chroot", root.path, "debconf-set-selections"], "debconf-set-selections",
         input=selections, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    shutil.copy(agent_deb, root.p("/tmp/"))
    r = root.run(["dpkg", "-i", "/tmp/" + os.path.basename(agent_deb)],
                 env={"DEBIAN_FRONTEND": "noninteractive"})
    if not check(r.returncode == 0, "mamori-agent installs non-interactively with preseeded answers"):
        print(r.stdout[-3000:], r.stderr[-3000:])
        return

    for rel, mode in [("/usr/sbin/mamori-agent", 0o755),
                      ("/lib/systemd/system/mamori-agent.service", 0o644),
                      ("/usr/lib/udev/rules.d/90-mamori-usb-storage.rules", 0o644),
                      ("/etc/modprobe.d/mamori-agent.conf", 0o644),
                      ("/usr/share/man/man8/mamori-agent.8.gz", 0o644),
                      ("/etc/mamori/agent.yaml", 0o644),
                      ("/etc/mamori/policy-signing.pub", 0o644),
                      ("/etc/mamori/enroll-token", 0o600)]:
        check_file(root, rel, mode)
    check("\noptions usbcore authorized_default=0\n" in open(root.p("/etc/modprobe.d/mamori-agent.conf")).read(),
          "usbcore authorized_default=0 at module load")
    check(open(root.p("/etc/mamori/enroll-token")).read().strip() == TOKEN, "token file holds the token")
    check(TOKEN not in debconf_secrets(root), "token cleared from the debconf database")
    check(open(root.p("/etc/mamori/policy-signing.pub")).read() == "\n".join(pub).rstrip("\n") + "\n",
          "policy-signing.pub written as mamorictl made it")
    yaml = open(root.p("/etc/mamori/agent.yaml")).read()
    for line in ("collector:\n  address: 127.0.0.1:7443\n",
                 f"enrollment:\n  ca_fingerprint: \"{hexfp}\"\n  token_file: /etc/mamori/enroll-token\n",
                 "policy:\n  public_key_file: /etc/mamori/policy-signing.pub\n",
                 "devices:\n  backend: linux\n", "state_dir: /var/lib/mamori\n"):
        check(line in yaml, "agent.yaml has " + line.strip().replace("\n", " "))
    r = root.run(["/usr/sbin/mamori-agent", "--version"])
    check(r.returncode == 0 and "0." in r.stdout, "installed mamori-agent runs")

    # Reconfigure from a pre-placed enroll.env: it wins over debconf.
    with open(root.p("/etc/mamori/enroll.env"), "w") as f:
        f.write(f"COLLECTOR=collector.example.lg.jp:7443\nCA_FINGERPRINT={hexfp.upper()}\n"
                f"ENROLL_TOKEN=\"{TOKEN2}\"\n")
    os.chmod(root.p("/etc/mamori/enroll.env"), 0o600)
    r = root.run(["dpkg-reconfigure", "-fnoninteractive", "mamori-agent"])
    if check(r.returncode == 0, "dpkg-reconfigure from /etc/mamori/enroll.env"):
        yaml = open(root.p("/etc/mamori/agent.yaml")).read()
        check("address: collector.example.lg.jp:7443" in yaml, "agent.yaml takes COLLECTOR from enroll.env")
        check(open(root.p("/etc/mamori/enroll-token")).read().strip() == TOKEN2,
              "token file takes ENROLL_TOKEN from enroll.env")
        check_file(root, "/etc/mamori/enroll-token", 0o600)
        env = open(root.p("/etc/mamori/enroll.env")).read()
        check("ENROLL_TOKEN" not in env and "COLLECTOR=" in env, "ENROLL_TOKEN removed from enroll.env after use")
    else:
        print(r.stdout, r.stderr)

    with open(root.p("/etc/mamori/enroll.env"), "w") as f:
        f.write("COLLECTOR=collector.example.lg.jp:7443\nCA_FINGERPRINT=12:34:zz\n")
    r = root.run(["dpkg-reconfigure", "-fnoninteractive", "mamori-agent"])
    check(r.returncode != 0 and "CA fingerprint" in r.stderr and "12:34:zz" in r.stderr,
          "a bad CA fingerprint is refused, naming the value" +
          ("" if r.returncode != 0 else " (it was accepted)"))
    os.remove(root.p("/etc/mamori/enroll.env"))

    r = root.run(["dpkg", "--purge", "mamori-agent"])
    check(r.returncode == 0, "mamori-agent purges")
    for rel in ("/etc/mamori/agent.yaml", "/etc/mamori/enroll-token"):
        check(root.stat(rel) is None, f"purge removes {rel}")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    packages_dir, source_dir = (os.path.abspath(a) for a in sys.argv[1:3])
    if os.geteuid() != 0:
        sys.exit("deb_install_test: needs root (debootstrap, chroot, mounts); CI runs as root. "
                 f"Run it as root: sudo {' '.join(sys.argv)}")
    for tool in ("debootstrap", "systemd-analyze", "dpkg-deb", "unshare", "chroot", "apt-get"):
        if not shutil.which(tool):
            sys.exit(f"deb_install_test: {tool} is missing: run packaging/dev/setup.sh")
    if os.environ.get("MAMORI_PRIVATE_MOUNTS") != "1":
        os.environ["MAMORI_PRIVATE_MOUNTS"] = "1"
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private",
                              sys.executable, *sys.argv])

    debs = {}
    for deb in glob.glob(os.path.join(packages_dir, "*.deb")):
        name = deb_field(deb, "Package")
        if name in ("mamori-collector", "mamori-agent", "mamori-ctl"):
            debs[name] = deb
    if len(debs) != 3:
        sys.exit(f"deb_install_test: expected the three packages in {packages_dir}, found "
                 f"{sorted(debs)}: run make packages")
    deps = dependencies(list(debs.values()))
    tar = cached_root(deps)

    workdir = tempfile.mkdtemp(prefix="mamori-deb-test-")
    try:
        root = Root(os.path.join(workdir, "root"))
        os.makedirs(root.path)
        must(["tar", "-C", root.path, "-xf", tar], "tar -x")
        must(["mount", "-t", "proc", "proc", root.p("/proc")], "mount proc")
        for dev in ("null", "zero", "urandom", "random"):
            target = root.p(f"/dev/{dev}")
            if not os.path.exists(target):
                open(target, "w").close()
            must(["mount", "--bind", f"/dev/{dev}", target], f"bind /dev/{dev}")
        # Nothing starts services inside the root.
        with open(root.p("/usr/sbin/policy-rc.d"), "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(root.p("/usr/sbin/policy-rc.d"), 0o755)

        for name in ("mamori-collector", "mamori-ctl"):
            shutil.copy(debs[name], root.p("/tmp/"))
        r = root.run(["dpkg", "-i", "/tmp/" + os.path.basename(debs["mamori-collector"]),
                      "/tmp/" + os.path.basename(debs["mamori-ctl"])],
                     env={"DEBIAN_FRONTEND": "noninteractive"})
        if not check(r.returncode == 0, "mamori-collector and mamori-ctl install with dpkg -i"):
            print(r.stdout[-3000:], r.stderr[-3000:])
            return 1
        test_collector_files(root)
        test_collector_runs(root)
        test_agent(root, debs["mamori-agent"])
        # The agent was purged above; put it back for the unit checks.
        r = root.run(["dpkg", "-i", "/tmp/" + os.path.basename(debs["mamori-agent"])],
                     env={"DEBIAN_FRONTEND": "noninteractive"})
        check(r.returncode == 0, "mamori-agent installs unconfigured (no answers)")
        check(root.stat("/etc/mamori/agent.yaml") is None,
              "without answers no agent.yaml is written (the unit waits for it)")
        test_units(root, workdir)
    finally:
        # Unmount before removing: the namespace is private, but rmtree must
        # not walk into /proc or the device nodes.
        run(["umount", "-R", root.p("/proc")])
        for dev in ("null", "zero", "urandom", "random"):
            run(["umount", root.p(f"/dev/{dev}")])
        mounted = [l.split()[4] for l in open("/proc/self/mountinfo") if workdir in l]
        if mounted:
            print(f"still mounted, {workdir} left in place: {mounted}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    if failures:
        print(f"{len(failures)} check(s) failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
