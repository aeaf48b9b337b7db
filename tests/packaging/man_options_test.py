#!/usr/bin/env python3
"""The manual pages list exactly the options the programs' --help shows.

  man_options_test.py COLLECTOR AGENT MAMORICTL MAN_DIR

For mamori-collector and mamori-agent (and `mamori-agent unlock`) the
options of --help are compared with the tagged paragraphs (.TP) of the
page's OPTIONS section (and its "unlock" subsection). For mamorictl every
command listed by `mamorictl --help` must have a `.SS "COMMAND"` section
whose tagged paragraphs list the command's own options; the connection
options, shared by every command that talks to the collector, are listed
once under CONNECTION OPTIONS, and such a command's section must point
there. -h/--help is documented once per page.
"""
import re
import subprocess
import sys

OPTION = re.compile(r"(?<![\w-])(--?[a-z][a-z0-9-]*)")


def help_text(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {r.returncode}: {r.stderr}")
    return r.stdout


def help_options(text):
    """Options of the 'Options:' block: lines that start with a dash."""
    opts = set()
    in_options = False
    for line in text.splitlines():
        if line.startswith("Options:"):
            in_options = True
            continue
        if in_options:
            if not line.startswith(" "):
                if line.strip():
                    in_options = False
                continue
            stripped = line.strip()
            if not stripped.startswith("-"):
                continue
            # Boost: "-c [ --config ] arg   text"; mamorictl: "--dir DIR   text".
            flags = re.split(r"\s{2,}", stripped)[0]
            opts.update(OPTION.findall(flags))
    return opts


def roff_plain(line):
    line = re.sub(r"\\f[BIRP]", "", line)
    return line.replace("\\-", "-").replace("\\e", "\\")


def man_sections(path):
    """{(SH, SS): [tagged-paragraph lines]} and {(SH, SS): full text}."""
    tags, texts = {}, {}
    sh, ss = "", ""
    lines = open(path, encoding="utf-8").read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(".SH "):
            sh, ss = line[4:].strip().strip('"'), ""
            continue
        if line.startswith(".SS "):
            ss = line[4:].strip().strip('"')
            continue
        texts.setdefault((sh, ss), []).append(roff_plain(line))
        if line.startswith(".TP") and i + 1 < len(lines):
            tags.setdefault((sh, ss), []).append(roff_plain(lines[i + 1]))
    return tags, {k: "\n".join(v) for k, v in texts.items()}


def tagged_options(tag_lines):
    opts = set()
    for line in tag_lines:
        if line.lstrip().startswith("-"):
            opts.update(OPTION.findall(line))
    return opts


failures = []


def compare(what, from_help, from_man):
    missing = sorted(from_help - from_man)
    extra = sorted(from_man - from_help)
    if missing:
        failures.append(f"{what}: in --help but not in the man page: {' '.join(missing)}")
    if extra:
        failures.append(f"{what}: in the man page but not in --help: {' '.join(extra)}")
    print(f"{what}: {len(from_help)} options in --help, {len(from_man)} in the man page")


def main():
    collector, agent, ctl, man_dir = sys.argv[1:5]

    tags, _ = man_sections(f"{man_dir}/mamori-collector.8")
    compare("mamori-collector", help_options(help_text([collector, "--help"])),
            tagged_options(tags.get(("OPTIONS", ""), [])))

    tags, _ = man_sections(f"{man_dir}/mamori-agent.8")
    compare("mamori-agent", help_options(help_text([agent, "--help"])),
            tagged_options(tags.get(("OPTIONS", ""), [])))
    compare("mamori-agent unlock", help_options(help_text([agent, "unlock", "--help"])),
            tagged_options(tags.get(("OPTIONS", "unlock"), [])))

    tags, texts = man_sections(f"{man_dir}/mamorictl.1")
    top = help_text([ctl, "--help"])
    compare("mamorictl", {"-h", "--help", "--version"},
            tagged_options(tags.get(("OPTIONS", ""), [])))
    connection = tagged_options(tags.get(("CONNECTION OPTIONS", ""), []))
    if not connection:
        failures.append("mamorictl.1: no CONNECTION OPTIONS section")
    commands = []
    in_commands = False
    for line in top.splitlines():
        if line.startswith("Commands:"):
            in_commands = True
            continue
        if in_commands:
            m = re.match(r"  (\S+(?: [a-z][a-z-]*){0,2})\s{2,}", line)
            if not m:
                if not line.startswith(" "):
                    in_commands = False
                continue
            commands.append(m.group(1))
    if len(commands) < 10:
        failures.append(f"mamorictl --help lists only {len(commands)} commands: parsing broke")
    documented = {ss for (sh, ss) in tags if sh == "COMMANDS"} | {
        ss for (sh, ss) in texts if sh == "COMMANDS" and ss}
    for extra in sorted(documented - set(commands)):
        failures.append(f"mamorictl.1 documents '{extra}', which mamorictl --help does not list")
    for command in commands:
        key = ("COMMANDS", command)
        if key not in texts:
            failures.append(f"mamorictl.1 has no section for '{command}'")
            continue
        opts = help_options(help_text([ctl, *command.split(), "--help"]))
        own = opts - connection - {"-h", "--help"}
        if opts & connection:
            if opts & connection != connection:
                failures.append(f"mamorictl {command}: takes only some connection options "
                                f"({' '.join(sorted(opts & connection))}); document them")
            if "connection options" not in texts[key]:
                failures.append(f"mamorictl.1 '{command}': does not point to CONNECTION OPTIONS")
        elif "connection options" in texts[key]:
            failures.append(f"mamorictl.1 '{command}': points to CONNECTION OPTIONS, "
                            "but the command takes none")
        compare(f"mamorictl {command}", own, tagged_options(tags.get(key, [])))

    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    print("man pages match --help")
    return 0


if __name__ == "__main__":
    sys.exit(main())
