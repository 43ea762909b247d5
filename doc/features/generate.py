#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Writes doc/features.md, the feature table of vhost-glib, from the code: the request table
(vhost-glib/protocol/vhost-user-requests.h), the enums and feature masks of protocol/, the
front-end's and back-end's sources, and the kernel classes' ioctl calls. What the code cannot say
(which devices have an ioctl, what Linux 6.1 answers, remarks on a request) comes from notes.ini
beside this script. With --check, compares instead and fails on any difference, so that the table
in the repository never drifts from the code.

usage: generate.py [--source-root DIR] [--check] [--output FILE]
"""

import argparse
import configparser
import difflib
import os
import re
import sys

OUTPUT = "doc/features.md"


class Error(Exception):
    pass


def read(root, path):
    with open(os.path.join(root, path), encoding="utf-8") as f:
        return f.read()


# ---------------------------------------------------------------------------------------------
# C sources, written in GNU style: a definition's name starts a line, its body is between a `{`
# and a `}` that start lines too.

def code_only(text):
    """`text` without its comments and string and character literals."""
    def blank(m):
        return " " if m.group(0).startswith("/") else '""'

    return re.sub(r"/\*.*?\*/|//[^\n]*|\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'", blank, text, flags=re.S)


class Function:
    def __init__(self, name, static, body):
        self.name = name
        self.static = static
        self.body = code_only(body)


def parse_functions(text):
    functions = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^([a-z_][a-z0-9_]*) \(", lines[i])
        if m and i > 0 and not lines[i - 1].startswith(("#", " ", "\t")) and lines[i - 1].strip():
            j = i
            while j < len(lines) and lines[j] != "{" and not lines[j].rstrip().endswith(";"):
                j += 1
            if j < len(lines) and lines[j] == "{":
                k = j
                while k < len(lines) and lines[k] != "}":
                    k += 1
                static = lines[i - 1].startswith("static")
                functions[m.group(1)] = Function(m.group(1), static, "\n".join(lines[j:k + 1]))
                i = k
        i += 1
    return functions


def public_names(root, headers):
    names = set()
    for h in headers:
        names.update(re.findall(r"\b(vhost_[a-z0-9_]+) \(", read(root, h)))
    return names


def iface_map(text, prefix):
    """`iface->x = func;` in a VhostBackendInterface init: func implements vhost_backend_x()."""
    return {func: prefix + vfunc for vfunc, func in re.findall(r"\biface->(\w+) = (\w+);", text)}


def entry_points(functions, public, iface, start):
    """The public calls that reach the code in `start`: itself if public or a VhostBackend method,
    else its callers, nearest first (the first level that has any)."""
    level, seen = [start], {start}
    while level:
        found = set()
        for name in level:
            if name in public and not functions[name].static:
                found.add(name + "()")
            elif name in iface:
                found.add(iface[name] + "()")
        if found:
            return sorted(found)
        callers = []
        for name in level:
            for f in functions.values():
                if f.name not in seen and re.search(r"\b%s\b" % re.escape(name), f.body):
                    seen.add(f.name)
                    callers.append(f.name)
        level = callers
    return []


def users_of(functions, token):
    """The functions whose body names `token` (as a whole word)."""
    pattern = re.compile(r"\b%s\b" % re.escape(token))
    return [f.name for f in functions.values() if pattern.search(f.body)]


class Source:
    """Some C files and the public headers whose functions count as entry points."""

    def __init__(self, root, files, headers, iface_prefix="vhost_backend_"):
        self.functions = {}
        self.iface = {}
        for path in files:
            text = read(root, path)
            self.functions.update(parse_functions(text))
            self.iface.update(iface_map(text, iface_prefix))
        self.public = public_names(root, headers)

    def calls_for(self, token):
        """The public calls that use `token`: the functions that name it, if any is public (a
        static helper that also names it serves them); else the nearest callers of those."""
        users = users_of(self.functions, token)
        direct = [n for n in users if (n in self.public and not self.functions[n].static) or n in self.iface]
        calls = set()
        for name in direct or users:
            calls.update(entry_points(self.functions, self.public, self.iface, name))
        return sorted(calls)


# ---------------------------------------------------------------------------------------------
# protocol/

REQUEST_COLUMNS = ["code", "handler", "payload", "fds", "reply", "reply_payload", "reply_fds",
                   "reply_feature", "feature", "queues", "failure"]


def parse_request_table(text, macro):
    m = re.search(r"#define %s\(R\)(.*?)(?:\n\n|\n#define|\n/\*)" % macro, text, re.S)
    if not m:
        raise Error("no %s table in vhost-user-requests.h" % macro)
    rows = []
    for args in re.findall(r"\bR \(([^)]*)\)", m.group(1)):
        cells = [c.strip() for c in args.split(",")]
        if len(cells) != len(REQUEST_COLUMNS):
            raise Error("%s row %s has %d columns, not %d" % (macro, cells[0], len(cells), len(REQUEST_COLUMNS)))
        rows.append(dict(zip(REQUEST_COLUMNS, cells)))
    return rows


def parse_enum_docs(text, prefix):
    """`@PREFIXNAME: description` lines of a gtk-doc comment, and `PREFIXNAME = value` members."""
    docs = {name: re.sub(r"\s*\n \*\s+", " ", desc)
            for name, desc in re.findall(r"^ \* @%s(\w+): (.*(?:\n \*   .*)*)$" % prefix, text, re.M)}
    values = {}
    for name, value in re.findall(r"^  %s(\w+) = ([^,]+),$" % prefix, text, re.M):
        shift = re.fullmatch(r"1 << (\d+)", value.strip())
        values[name] = int(shift.group(1)) if shift else int(value, 0)
    return docs, values


def parse_feature_mask(text, macro, where):
    m = re.search(r"#define %s\b(.*?)\)\)" % macro, text, re.S)
    if not m:
        raise Error("no %s in %s" % (macro, where))
    return set(re.findall(r"VHOST_USER_PROTOCOL_F_(\w+)", m.group(1)))


# ---------------------------------------------------------------------------------------------
# The tables

def md_cell(text):
    return text.replace("|", "\\|")


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for row in rows:
        out.append("| " + " | ".join(md_cell(c) for c in row) + " |")
    return "\n".join(out)


def code_list(calls):
    return ", ".join("`%s`" % c for c in calls)


def feature_name(feature):
    return "—" if feature == "NONE" else "`%s`" % feature


def note(notes, section, key):
    if notes.has_section(section) and notes.has_option(section, key):
        return notes.get(section, key)
    return ""


def joined(*parts):
    return "; ".join(p for p in parts if p)


def generate(root):
    notes = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    notes.optionxform = str
    notes.read_string(read(root, "doc/features/notes.ini"))

    requests_h = read(root, "vhost-glib/protocol/vhost-user-requests.h")
    constants_h = read(root, "vhost-glib/protocol/vhost-constants.h")
    protocol_h = read(root, "vhost-glib/protocol/vhost-user-protocol.h")
    slave_c = read(root, "vhost-glib/vhost-user-slave.c")
    frontend = parse_request_table(requests_h, "VHOST_USER_FRONTEND_REQUESTS")
    backend = parse_request_table(requests_h, "VHOST_USER_BACKEND_REQUESTS")
    feature_docs, feature_bits = parse_enum_docs(constants_h, "VHOST_USER_PROTOCOL_F_")
    request_docs, request_codes = parse_enum_docs(constants_h, "VHOST_USER_")
    backend_docs, backend_codes = parse_enum_docs(constants_h, "VHOST_USER_BACKEND_")
    supported = parse_feature_mask(protocol_h, "VHOST_USER_PROTOCOL_FEATURES_SUPPORTED", "vhost-user-protocol.h")
    default = parse_feature_mask(slave_c, "DEFAULT_PROTOCOL_FEATURES", "vhost-user-slave.c")

    master = Source(root, ["vhost-glib/vhost-user-master.c"], ["vhost-glib/vhost-user-master.h"])
    slave = Source(root, ["vhost-glib/vhost-user-slave.c", "vhost-glib/vhost-user-slave-backend.c"],
                   ["vhost-glib/vhost-user-slave.h"])
    core_files = sorted(f for f in os.listdir(os.path.join(root, "vhost-glib/core")) if f.endswith(".c"))
    engine = {}
    for f in core_files:
        for name in parse_functions(read(root, "vhost-glib/core/" + f)):
            engine[name] = "core/" + f
    signal_names = dict(re.findall(r'signals\[(SIGNAL_\w+)\]\s*=\s*g_signal_new\w*\s*\(\s*"([^"]+)"',
                                   read(root, "vhost-glib/vhost-user-master.c")))

    for section in notes.sections():
        kind, _, name = section.partition(":")
        known = {"request": {r["code"] for r in frontend}, "backend-request": {r["code"] for r in backend},
                 "protocol-feature": set(feature_bits), "ioctl": None}
        if kind not in known:
            raise Error("notes.ini: unknown section kind [%s]" % section)
        if known[kind] is not None and name not in known[kind]:
            raise Error("notes.ini: [%s] names nothing in the code" % section)

    out = []
    out.append("<!-- SPDX-License-Identifier: LGPL-2.1-or-later -->")
    out.append("<!-- Generated by doc/features/generate.py from the code and doc/features/notes.ini: do not edit;")
    out.append("     run `python3 doc/features/generate.py` after changing them (the unit test feature-table checks). -->")
    out.append("# Feature table")
    out.append("")
    out.append("What vhost-glib implements of the vhost-user protocol, on the front-end side (`VhostUserMaster`) and")
    out.append("the back-end side (`VhostUserSlave` and its engine in `vhost-glib/core/`), and which kernel vhost and")
    out.append("vDPA ioctls it wraps. The rows come from the request table "
               "(`vhost-glib/protocol/vhost-user-requests.h`),")
    out.append("the enums and feature masks of `vhost-glib/protocol/`, and the functions that send or handle each")
    out.append("request; remarks the code cannot make are in `doc/features/notes.ini`.")
    out.append("")

    # Protocol features
    gates = {}
    for r in frontend + backend:
        if r["feature"] != "NONE":
            gates.setdefault(r["feature"], []).append(r["code"])
    rows = []
    for name, bit in sorted(((n, b) for n, b in feature_bits.items() if n != "NONE"), key=lambda x: x[1]):
        if name in default:
            back = "offered by default"
        elif name in supported:
            back = "if the device offers it (`get_protocol_features`)"
        else:
            back = "not implemented: never offered"
        meaning = re.sub(r"^bit \d+, ", "", feature_docs.get(name, ""))
        rows.append([str(bit), "`%s`" % name, meaning,
                     ", ".join(gates.get(name, [])) or "—",
                     "negotiated" if name in supported else "refused",
                     joined(back, note(notes, "protocol-feature:" + name, "note"))])
    out.append("## Protocol features")
    out.append("")
    out.append("Front-end: what `vhost_user_master_set_protocol_features()` and `vhost_backend_negotiate_protocol()`")
    out.append("accept (`VHOST_USER_PROTOCOL_FEATURES_SUPPORTED`). Back-end: what `VhostUserSlave` offers by default")
    out.append("(`DEFAULT_PROTOCOL_FEATURES`), or keeps when a device offers it.")
    out.append("")
    out.append(table(["Bit", "Feature", "Meaning", "Requests it gates", "Front-end", "Back-end"], rows))
    out.append("")

    # Front-end requests
    rows = []
    for r in frontend:
        code = r["code"]
        calls = master.calls_for("VHOST_USER_" + code)
        front = code_list(calls) if calls else "only `vhost_user_master_send_request()`"
        if r["handler"] == "device":
            back = "the device: `VhostUserSlaveClass.device_request` (the default refuses: NOT_SUPPORTED)"
        else:
            handler = "vhost_user_dev_request_" + r["handler"]
            if handler not in engine:
                raise Error("no %s() in vhost-glib/core/ for %s" % (handler, code))
            back = "engine: `%s()` (%s)" % (handler, engine[handler])
        if r["handler"] == "device":
            offered = "no: the device decides"
        elif r["feature"] == "NONE" or r["feature"] in default:
            offered = "yes"
        elif r["feature"] in supported:
            offered = "if the device offers %s" % r["feature"]
        else:
            offered = "no"
        rows.append([str(request_codes[code]), "`%s`" % code, request_docs.get(code, ""), feature_name(r["feature"]),
                     joined(front, note(notes, "request:" + code, "front-end")),
                     joined(back, note(notes, "request:" + code, "back-end")), offered])
    out.append("## Front-end requests")
    out.append("")
    out.append("Sent by the front-end, handled by the back-end. Front-end: the calls of `VhostUserMaster` that send")
    out.append("the request (any request can also go through `vhost_user_master_send_request()`). Back-end: the")
    out.append("table's handler column. \"By default\": whether a `VhostUserSlave` that overrides nothing accepts")
    out.append("the request, which its protocol feature decides (and the device, for the device's requests).")
    out.append("")
    out.append(table(["Code", "Request", "Meaning", "Needs", "Front-end (`VhostUserMaster`)",
                      "Back-end (`VhostUserSlave`)", "By default"], rows))
    out.append("")

    # Back-end requests
    rows = []
    for r in backend:
        code = r["code"]
        calls = slave.calls_for("VHOST_USER_BACKEND_" + code)
        send = code_list(calls) if calls else "not sent"
        handler = "backend_" + r["handler"]
        if handler not in master.functions:
            raise Error("no %s() in vhost-user-master.c for BACKEND_%s" % (handler, code))
        emitted = set(re.findall(r"\b(SIGNAL_\w+)\b", master.functions[handler].body))
        for callee in master.functions:
            if callee != handler and re.search(r"\b%s\s*\(" % callee, master.functions[handler].body):
                emitted.update(re.findall(r"\b(SIGNAL_\w+)\b", master.functions[callee].body))
        signals = sorted(signal_names[s] for s in emitted if s in signal_names)
        receive = ("signal " + ", ".join("`::%s`" % s for s in signals)) if signals else "`%s()`" % handler
        rows.append([str(backend_codes[code]), "`%s`" % code, backend_docs.get(code, ""), feature_name(r["feature"]),
                     joined(send, note(notes, "backend-request:" + code, "back-end")),
                     joined(receive, note(notes, "backend-request:" + code, "front-end"))])
    out.append("## Back-end requests")
    out.append("")
    out.append("Sent by the back-end on the back-end request channel (`SET_BACKEND_REQ_FD`), handled by the")
    out.append("front-end, which turns each into a signal of `VhostUserMaster`.")
    out.append("")
    out.append(table(["Code", "Request", "Meaning", "Needs", "Back-end sends with", "Front-end (`VhostUserMaster`)"],
                     rows))
    out.append("")

    # Kernel and vDPA ioctls
    classes = [("vhost-glib/vhost-kernel.c", "VhostKernel"), ("vhost-glib/vhost-net.c", "VhostNet"),
               ("vhost-glib/vhost-vsock.c", "VhostVsock"), ("vhost-glib/vhost-scsi.c", "VhostScsi"),
               ("vhost-glib/vhost-vdpa.c", "VhostVdpa")]
    headers = ["vhost-glib/vhost-kernel.h", "vhost-glib/vhost-net.h", "vhost-glib/vhost-vsock.h",
               "vhost-glib/vhost-scsi.h", "vhost-glib/vhost-vdpa.h"]
    # The request argument of the ioctl helpers: VHOST_KERNEL_IOCTL (kernel, VHOST_X, ...) and the like.
    helper = re.compile(r"\b(?:VHOST_KERNEL_IOCTL|VDPA_IOCTL|GET_VRING_STATE|vhost_kernel_ioctl|vhost_kernel_ioctl_errno|get_u32|"
                        r"endpoint_ioctl)\s*\([^,()]*(?:\([^()]*\))?[^,()]*,\s*(VHOST_[A-Z0-9_]+)")
    used = {}
    for path, cls in classes:
        source = Source(root, [path], headers)
        for name in sorted(set(helper.findall(read(root, path)))):
            calls = source.calls_for(name)
            if not calls:
                raise Error("%s: %s is issued by no public call" % (path, name))
            entry = used.setdefault(name, [])
            entry.append("%s: %s" % (cls, code_list(calls)))
    listed = {s.partition(":")[2] for s in notes.sections() if s.startswith("ioctl:")}
    for name in sorted(set(used) - listed):
        raise Error("notes.ini has no [ioctl:%s], which the library issues" % name)
    for name in sorted(listed - set(used)):
        raise Error("notes.ini has [ioctl:%s], which the library no longer issues" % name)
    rows = []
    for section in notes.sections():
        if not section.startswith("ioctl:"):
            continue
        name = section.partition(":")[2]
        linux61 = notes.get(section, "linux-6.1")
        if linux61 not in ("yes", "no"):
            raise Error("notes.ini: [%s] linux-6.1 must be yes or no" % section)
        rows.append(["`%s`" % name, notes.get(section, "devices"), "; ".join(used[name]),
                     "yes" if linux61 == "yes" else "no: `VHOST_ERROR_NOT_SUPPORTED`",
                     note(notes, section, "note")])
    out.append("## Kernel vhost and vDPA ioctls")
    out.append("")
    out.append("Every ioctl the kernel classes issue, with the calls that issue it (`vhost_backend_*` are the")
    out.append("`VhostBackend` methods of that class). \"Linux 6.1\" is what the Debian 12 kernel, which")
    out.append("`tests/vm/` boots, answers: an ioctl it lacks fails with `VHOST_ERROR_NOT_SUPPORTED`, and the vm")
    out.append("suite checks exactly that. An ioctl a device does not have fails the same way on any kernel.")
    out.append("")
    out.append(table(["Ioctl", "Devices", "Library calls", "Linux 6.1", "Remarks"], rows))
    out.append("")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source-root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    parser.add_argument("--check", action="store_true", help="compare with the committed table instead of writing it")
    parser.add_argument("--output", default=None, help="where to write (default: doc/features.md in the tree)")
    args = parser.parse_args()
    root = os.path.abspath(args.source_root)
    try:
        text = generate(root)
    except Error as e:
        print("generate.py: %s" % e, file=sys.stderr)
        return 1
    path = args.output or os.path.join(root, OUTPUT)
    if args.check:
        try:
            with open(path, encoding="utf-8") as f:
                committed = f.read()
        except FileNotFoundError:
            committed = ""
        if committed != text:
            sys.stdout.writelines(difflib.unified_diff(committed.splitlines(True), text.splitlines(True),
                                                       OUTPUT + " (committed)", OUTPUT + " (from the code)"))
            print("\n%s is not what the code says: run `python3 doc/features/generate.py` and commit it" % OUTPUT,
                  file=sys.stderr)
            return 1
        print("%s matches the code" % OUTPUT)
        return 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
