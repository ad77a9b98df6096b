#!/usr/bin/python3
"""Guard against inert configuration: every configuration leaf and leaf-list
of raven-vpn must be named somewhere in the C sources that act on the
configuration (daemon/, api/, dataplane/). A node nothing reads is accepted
and silently ignored: an operator believes a setting took effect when it did
not. Such a node is made to work or left out of the model (yang/README.md,
"Left out of the model").

The check is a string match, so it can only miss an inert node, never flag a
read one wrongly: a node counts as read when a C string literal names it as
the last step of a path ("route/set/access-list/ipv4", "/raven-vpn:pools/
ipv4-pool[name='%s']/range/start" …) whose earlier steps are the node's
ancestors, or as a lone name ("pool", strcmp(schema->name, "split-dns")) in
a directory (daemon/ike, api/rest …) whose sources also name the node's
parent; a step written "%s" stands for any step. A generic name ("name", "enabled")
will thus often count as read; the finer checks are the tests of each
feature.

Usage: tests/yang/inert.py [REPO_ROOT]; prints the inert nodes and exits 1
if there is one. Needs yanglint (libyang2-tools) and the IETF modules
(libyuma-base, or IETF_YANG_DIR).

SPDX-License-Identifier: BSD-2-Clause
"""
import os
import re
import subprocess
import sys

# Nodes that take effect without their name in a C string, each with the reason.
ALLOW = {
    # checked by the model's own must statements: it admits legacy algorithms
    # (3DES, HMAC-MD5, MODP-1024) at validation; the engine then uses them
    "/ikev2/proposal/allow-legacy": "read by must in raven-vpn.yang",
    "/ipsec/transform-set/allow-legacy": "read by must in raven-vpn.yang",
    "/ipsec/profile/allow-legacy": "read by must in raven-vpn.yang",
    # its range is 1..1: the only value it can have is what Raven does
    # (RFC 7296 2.3 window of one request); kept for the vendor's command
    "/ikev2/global/window-size": "range 1: states the fixed behaviour",
    # free text for the operator, shown back by get-config
    "/ikev2/keyring/peer/description": "operator's note",
    "/ikev2/profile/description": "operator's note",
    # the whole EAP identity is what mangle_eap() leaves when the mangler's
    # eap container sets no other part
    "/ikev2/name-mangler/eap/all": "the default of mangle_eap()",
}

# Nodes that are being made to work right now; each entry goes when its
# feature lands. Being implemented (issue 12):
BEING_IMPLEMENTED: set = set()

SOURCE_DIRS = ("daemon", "api", "dataplane")
LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
NODE = re.compile(r"^(?P<indent>[ |]*)\+--(?P<flags>rw|ro|-w|-x|-n|:)\s*(?P<name>\(?[\w.-]+\)?)(?P<mark>[?*!]?)"
                  r"(?P<rest>.*)$")


def config_nodes(root):
    """(path, kind) of every configuration leaf and leaf-list of raven-vpn,
    from yanglint's tree; the path has no choice or case steps."""
    ietf = os.environ.get("IETF_YANG_DIR", "/usr/share/yuma/modules/ietf")
    out = subprocess.run(["yanglint", "-p", ietf, "-p", f"{root}/yang", "-f", "tree", f"{root}/yang/raven-vpn.yang"],
                         check=True, capture_output=True, text=True).stdout
    stack, nodes = [], []
    for line in out.splitlines():
        if line.strip() in ("rpcs:", "notifications:") or line.startswith("  augment"):
            break  # RPC input and notifications are not configuration
        m = NODE.match(line)
        if not m:
            continue
        depth = len(m["indent"]) // 3
        del stack[depth:]
        name, rest = m["name"], m["rest"].strip()
        stack.append(None if name.startswith("(") else name)  # choice / case: no step of its own
        if m["flags"] != "rw" or name.startswith("(") or not rest or rest.startswith("["):
            continue  # state, choice, case, container (no type) or list (keys)
        nodes.append(("/" + "/".join(s for s in stack if s), "leaf-list" if m["mark"] == "*" else "leaf"))
    return nodes


STEP = re.compile(r"^[A-Za-z_][\w.-]*$|^%s$")


def steps(lit):
    """The path steps of a string literal (no predicates, no module prefix),
    or [] if it is no path: a message, a format with no name in it."""
    st = [s.split(":")[-1] for s in re.sub(r"\[[^\]]*\]", "", lit).strip("/").split("/")]
    if not all(STEP.match(s) for s in st) or all(s == "%s" for s in st):
        return []
    return st


def c_literals(root):
    """{file: [steps of each string literal]} of the C sources."""
    out = {}
    for d in SOURCE_DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for f in files:
                if f.endswith((".c", ".h")):
                    p = os.path.join(dirpath, f)
                    text = COMMENT.sub(" ", open(p, errors="replace").read())
                    out[p] = [steps(m.group(1)) for m in LITERAL.finditer(text)]
    return out


def tail_of(st, want):
    """Whether literal steps @st are the last steps of @want; a step made by a
    format ("aaa/authorization/%s/%s") stands for any one step."""
    return len(st) <= len(want) and all(a in ("%s", b) for a, b in zip(st, want[len(want) - len(st):]))


def is_read(path, sources):
    want = path.strip("/").split("/")
    for f, lits in sources.items():
        for st in lits:
            if not st or st[-1] != want[-1]:
                continue
            if len(st) > 1 and tail_of(st, want):
                return True  # a path whose steps are the node's ancestors
            if len(st) == 1 and (len(want) == 1 or names_parent(os.path.dirname(f), want[:-1], sources)):
                return True  # a lone name in a module that names the parent
    return False


def names_parent(d, parent, sources):
    """Whether a source of directory @d (one module: daemon/ike, api/rest …)
    names the node @parent, by a path that ends with it."""
    return any(st and st[-1] == parent[-1] and tail_of(st, parent)
               for f, lits in sources.items() if os.path.dirname(f) == d for st in lits)


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
    nodes = config_nodes(root)
    if len(nodes) < 100:
        print(f"only {len(nodes)} configuration leaves found in yanglint's tree: the parser is broken")
        return 1
    sources = c_literals(root)
    inert = [(p, k) for p, k in nodes if p not in ALLOW and p not in BEING_IMPLEMENTED and not is_read(p, sources)]
    stale = sorted(p for p in (set(ALLOW) | BEING_IMPLEMENTED) if p not in {q for q, _ in nodes})
    for p, k in inert:
        print(f"inert: {k} {p} is accepted but named in no C source under {', '.join(SOURCE_DIRS)}/: make it take "
              "effect, or remove it from the model (yang/README.md, \"Left out of the model\")")
    for p in sorted(p for p in BEING_IMPLEMENTED if is_read(p, sources)):
        print(f"note: {p} is now named by the sources; once its feature is tested, take it off BEING_IMPLEMENTED")
    for p in stale:
        print(f"stale: {p} is listed in tests/yang/inert.py but is not a configuration leaf of raven-vpn: "
              "remove it from the list")
    print(f"{len(nodes)} configuration leaves, {len(inert)} inert, {len(BEING_IMPLEMENTED)} being implemented")
    return 1 if inert or stale else 0


if __name__ == "__main__":
    sys.exit(main())
