#!/usr/bin/python3
"""check.py against a small tree made here: a clean tree passes, and each rule,
broken once, is reported at the right place with its rule's name (so the
layout check cannot pass by seeing nothing).

Usage: tests/layout/selftest.py; exits 1 on a failure.

SPDX-License-Identifier: BSD-2-Clause
"""
import os
import subprocess
import sys
import tempfile

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check.py")
sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(CHECK))
import check  # noqa: E402


def may_call(folder):
    names = ", ".join(f"`{c}`" for c in check.CALLS[folder])
    return f"May call: {names}, libc." if names else "May call: libc only."


def clean_tree(root):
    """Every folder of the table with a README that agrees, and a few sources
    that obey every rule (a function of exactly the limit included)."""
    for folder in check.CALLS:
        os.makedirs(os.path.join(root, folder), exist_ok=True)
        with open(os.path.join(root, folder, "README.md"), "w") as f:
            f.write(f"# {folder}\n\nOwns things. {may_call(folder)}\n\n| file | what |\n|---|---|\n")
    body = "\n".join("    x++;" for _ in range(check.MAX_FUNCTION_LINES - 3))
    files = {
        "daemon/base/log.h": "#ifndef LOG_H\n#define LOG_H\nint log_x(void);\n#endif\n",
        "daemon/base/log.c": '#include "daemon/base/log.h"\n/* { not a brace */\n'
                             'static const char *s = "}{";\nstatic char c = \'{\';\n'
                             f"int log_x(void)\n{{\n    int x = 0;\n{body}\n}}\n",
        "daemon/aaa/aaa_int.h": "#include \"daemon/base/log.h\"\n",
        "daemon/aaa/aaa.c": '#include "daemon/aaa/aaa_int.h"\n#include "daemon/base/log.h"\n',
        "daemon/ike/ike_a.h": '#include "daemon/ike/ike_b.h"\n',
        "daemon/ike/ike_b.h": "\n",
        "dataplane/dp.h": "\n",
        "dataplane/dp_x.c": '#include "dataplane/dp.h"\n#include "daemon/base/log.h"\n'
                            "#if A\nstatic int f(void) {\n#else\nstatic int f(void) {\n#endif\n"
                            "    return 0;\n}\n",
        "daemon/ike/ike_c.c": '#include "daemon/ike/ike_a.h"\n#include "dataplane/dp.h"\n'
                              '#include "daemon/aaa/aaa.h"\n',
        "tests/unit/test_aaa.c": '#include "daemon/aaa/aaa_int.h"\n',
        "daemon/ike/ike_conf.c": "int f(void)\n{\n    return ike_leaf(t, 0) != 0;\n}\n",
    }
    for path, text in files.items():
        os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
        with open(os.path.join(root, path), "w") as f:
            f.write(text)


def run(root):
    p = subprocess.run([sys.executable, CHECK, root], capture_output=True, text=True)
    return p.returncode, p.stdout


def write(root, path, text, mode="w"):
    with open(os.path.join(root, path), mode) as f:
        f.write(text)


# (what is broken, how, the line that must be reported)
CASES = [
    ("a file over the limit",
     lambda r: write(r, "daemon/aaa/aaa.c", "\n" * check.MAX_FILE_LINES + "int z;\n", "a"),
     f"daemon/aaa/aaa.c: {check.MAX_FILE_LINES + 3} lines: over {check.MAX_FILE_LINES}"),
    ("a function over the limit",
     lambda r: write(r, "daemon/base/log.c", "int log_y(void)\n{\n" + "\n" * check.MAX_FUNCTION_LINES
                     + "}\n", "a"),
     f"function log_y() is {check.MAX_FUNCTION_LINES + 2} lines"),
    ("base including a folder above it",
     lambda r: write(r, "daemon/base/log.c", '#include "daemon/aaa/aaa.h"\n', "a"),
     'includes "daemon/aaa/aaa.h": daemon/base/ may call only nothing of ours'),
    ("base including a folder above it in angle brackets",
     lambda r: write(r, "daemon/base/log.c", '#include <daemon/pool/pool.h>\n', "a"),
     'includes "daemon/pool/pool.h": daemon/base/ may call only nothing of ours'),
    ("the dataplane including a control-plane folder",
     lambda r: write(r, "dataplane/dp_x.c", '#include "daemon/pool/pool.h"\n', "a"),
     "[calls]"),
    ("a folder including another's internals",
     lambda r: write(r, "daemon/ike/ike_c.c", '#include "daemon/aaa/aaa_int.h"\n', "a"),
     'daemon/ike/ike_c.c:4: includes "daemon/aaa/aaa_int.h", an internal header of daemon/aaa/'),
    ("a front end including a dataplane internal",
     lambda r: os.makedirs(os.path.join(r, "api/rest"), exist_ok=True)
     or write(r, "api/rest/rest_cache.c", '#include "dataplane/dp_nl_int.h"\n'),
     "api/rest/rest_cache.c:1: includes \"dataplane/dp_nl_int.h\", an internal header"),
    ("test support including an internal header",
     lambda r: os.makedirs(os.path.join(r, "tests/support"), exist_ok=True)
     or write(r, "tests/support/t.c", '#include "daemon/aaa/aaa_int.h"\n'),
     "tests/support/t.c:1: includes \"daemon/aaa/aaa_int.h\""),
    ("an include cycle in daemon/ike",
     lambda r: write(r, "daemon/ike/ike_b.h", '#include "daemon/ike/ike_a.h"\n'),
     "include cycle: daemon/ike/ike_a.h -> daemon/ike/ike_b.h -> daemon/ike/ike_a.h"),
    ("an exchange file reading the configuration tree",
     lambda r: write(r, "daemon/ike/ike_c.c", "/* ike_leaf(x) in a comment is fine */\n"
                     "int g(void)\n{\n    return LY_LIST_FOR (a, b);\n}\n", "a"),
     "daemon/ike/ike_c.c:7: LY_LIST_FOR() reads a configuration tree"),
    ("an exchange file reaching the generation's tree",
     lambda r: write(r, "daemon/ike/ike_c.c", "int h(struct c *g)\n{\n    return walk(g->tree);\n}\n", "a"),
     "daemon/ike/ike_c.c:6: the generation's tree (->tree) reads a configuration tree"),
    ("a README without its may-call sentence",
     lambda r: write(r, "daemon/pool/README.md", "# pool\n\nOwns pools.\n"),
     'daemon/pool/README.md: its introduction (before the first table or section) has no sentence'),
    ("a README naming a folder the table does not allow",
     lambda r: write(r, "daemon/pool/README.md", "# pool\n\nOwns pools. May call `daemon/base` and "
                     "`daemon/aaa`.\n"),
     "names daemon/aaa which the layout table does not allow"),
    ("a missing README",
     lambda r: os.remove(os.path.join(r, "daemon/pki/README.md")),
     "daemon/pki/README.md: missing"),
    ("a parent README's table disagreeing",
     lambda r: write(r, "daemon/README.md", "# daemon\n\n| path | owns | may call |\n|---|---|---|\n"
                     "| `pool/` | pools | `base/`, `aaa/` |\n"),
     "daemon/README.md:5: row daemon/pool/: 'may call' names daemon/aaa"),
]


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as root:
        clean_tree(root)
        rc, out = run(root)
        if rc != 0:
            print(f"FAIL: the clean tree is refused:\n{out}")
            failures += 1
    for what, breaks, expect in CASES:
        with tempfile.TemporaryDirectory() as root:
            clean_tree(root)
            breaks(root)
            rc, out = run(root)
            if rc != 1 or expect not in out:
                print(f"FAIL: {what}: expected exit 1 and a line with {expect!r}, got {rc}:\n{out}")
                failures += 1
            else:
                print(f"ok: {what}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
