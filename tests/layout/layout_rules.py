#!/usr/bin/env python3
"""The house rules of the source tree, checked on every include.

  layout_rules.py            check: print every include that runs against
                             the rules and exit 1 if there is one
  layout_rules.py --report   also print the figures of the tree: files per
                             folder, the largest files and functions

A folder may include what the table below lets it, and its own files. The
first prefix that matches a file decides. Generated protobuf headers
(mamori/v1/...) count as proto/.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (folder, folders it may include besides itself). Order matters: more
# specific folders first.
SERVER_DOMAINS = ["server/store/", "server/tls/", "server/policy/", "server/audit/",
                  "server/accounts/", "server/ingest/", "server/compliance/", "server/ledger/",
                  "server/exceptions/", "server/enrollment/"]
RULES = [
    # The core knows only common/ and the ports it owns; adapters implement
    # them.
    ("agent/core/", ["common/"]),
    ("agent/storage/", ["common/", "agent/core/", "proto/"]),
    ("agent/outbox/", ["common/", "agent/core/", "agent/storage/", "proto/"]),
    ("agent/transport/", ["common/", "agent/core/", "proto/"]),
    ("agent/platform/posix/", ["common/", "agent/core/", "agent/storage/"]),
    ("agent/platform/linux/", ["common/", "agent/core/", "agent/platform/posix/"]),
    ("agent/platform/sim/", ["common/", "agent/core/", "agent/platform/posix/"]),
    ("agent/platform/windows/win32/", ["common/", "agent/core/", "agent/storage/"]),
    ("agent/platform/windows/device/", ["common/", "agent/core/", "agent/platform/windows/win32/",
                                        "agent/platform/windows/service/service_state.h"]),
    # The unlock pipe serves the core's unlock service in its wire format,
    # as the Linux socket does.
    ("agent/platform/windows/service/", ["common/", "agent/platform/windows/win32/",
                                         "agent/core/unlock_service.h"]),
    # Mains and the wiring they share: everything of the agent.
    ("agent/app/", ["common/", "agent/", "proto/"]),
    ("common/", []),
    ("proto/", ["common/"]),
    # The store knows only common/; each domain knows the store and the
    # domains listed before it; admin/ sees every domain; web/ sits above
    # admin/, ctl/ beside it on the wire; app/ wires everything.
    ("server/store/", ["common/"]),
    ("server/tls/", ["common/"]),
    ("server/policy/", ["common/", "server/store/"]),
    ("server/audit/", ["common/", "server/store/", "proto/"]),
    ("server/accounts/", ["common/", "server/store/"]),
    ("server/ingest/", ["common/", "server/store/", "server/tls/", "server/policy/", "proto/"]),
    ("server/compliance/", ["common/", "server/store/", "server/policy/", "server/ingest/", "proto/"]),
    ("server/ledger/", ["common/", "server/store/", "server/policy/", "server/audit/", "proto/"]),
    ("server/exceptions/", ["common/", "server/store/", "server/policy/", "server/audit/",
                            "proto/"]),
    ("server/enrollment/", ["common/", "server/store/", "server/tls/", "server/audit/",
                            "server/ingest/certificate_renewer.h", "proto/"]),
    ("server/admin/", ["common/", "proto/"] + SERVER_DOMAINS),
    ("server/web/", ["common/", "proto/", "server/admin/"] + SERVER_DOMAINS),
    ("server/ctl/", ["common/", "proto/", "server/accounts/qr_code.h"]),
    ("server/app/", ["common/", "proto/", "server/"]),
    ("tests/", [""]),
]
# Every folder of C++ sources must be named by a rule.
SOURCE_TOPS = ("agent/", "common/", "proto/", "server/")


def tracked_sources():
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                          "*.h", "*.cc"], cwd=ROOT, capture_output=True, text=True, check=True)
    return sorted(f for f in out.stdout.split() if os.path.exists(os.path.join(ROOT, f)))


def rule_for(path):
    for prefix, allowed in RULES:
        if path.startswith(prefix):
            return prefix, allowed
    return None, None


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def violations(files):
    found = []
    for f in files:
        if not f.startswith(SOURCE_TOPS + ("tests/",)):
            continue
        prefix, allowed = rule_for(f)
        if prefix is None:
            found.append((f, 0, "", "no rule names this folder"))
            continue
        text = open(os.path.join(ROOT, f), encoding="utf-8").read()
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            if "/" not in inc:
                continue  # a file beside it (generated headers, messages.h)
            target = "proto/" + inc if inc.startswith("mamori/") else inc
            if target.startswith(prefix) or any(target.startswith(a) for a in allowed):
                continue
            found.append((f, line, inc, f"{prefix} may not include it"))
    return found


def report(files):
    folders = {}
    for f in files:
        if f.startswith(SOURCE_TOPS + ("tests/",)):
            folders.setdefault(os.path.dirname(f), []).append(f)
    print("files per folder (C++ sources):")
    for d in sorted(folders):
        print(f"  {len(folders[d]):4d}  {d}/")
    sizes = []
    for f in files:
        if f.startswith(SOURCE_TOPS):
            with open(os.path.join(ROOT, f), encoding="utf-8") as fh:
                sizes.append((sum(1 for _ in fh), f))
    print("largest source files (lines):")
    for n, f in sorted(sizes, reverse=True)[:10]:
        print(f"  {n:5d}  {f}")
    print("longest functions (lines, by brace matching at namespace level):")
    for n, f, name in longest_functions([f for f in files if f.startswith(SOURCE_TOPS)])[:10]:
        print(f"  {n:5d}  {f}  {name}")


def longest_functions(files):
    """Function bodies opened at namespace level, signatures possibly over
    several lines: good enough for a report, not a parser."""
    result = []
    name_re = re.compile(r'([A-Za-z_][\w:~]*)\s*\(')
    for f in files:
        if not f.endswith(".cc"):
            continue
        lines = open(os.path.join(ROOT, f), encoding="utf-8").read().split("\n")
        depth = ns_depth = 0
        start = None
        signature = ""
        name = ""
        for i, line in enumerate(lines):
            stripped = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'|//.*$', "", line)
            if depth == ns_depth and start is None:
                if re.match(r'\s*namespace\b[^;]*\{\s*$', stripped):
                    ns_depth += 1
                    depth += 1
                    signature = ""
                    continue
                signature = (signature + " " + stripped.strip()).strip()
                if ";" in stripped or stripped.strip().startswith(("#", "}")):
                    signature = ""
                elif "{" in stripped:
                    m = name_re.search(signature)
                    if m and not re.match(r'(struct|class|enum|union)\b', signature):
                        start, name = i, m.group(1)
                    signature = ""
            depth += stripped.count("{") - stripped.count("}")
            if start is not None and depth == ns_depth:
                result.append((i - start + 1, f, name))
                start = None
            if depth < ns_depth:
                ns_depth = depth
    return sorted(result, reverse=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--report", action="store_true", help="also print the figures of the tree")
    args = ap.parse_args()
    files = tracked_sources()
    if args.report:
        report(files)
    bad = violations(files)
    for f, line, inc, why in bad:
        print(f"{f}:{line}: includes \"{inc}\": {why}" if line else f"{f}: {why}")
    print(f"layout_rules: {len(bad)} include(s) against the rules in {len(files)} files")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
