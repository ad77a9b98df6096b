#!/usr/bin/python3
"""The code layout of DESIGN.md "Folder map" and STYLE.md, checked.

Rules (each violation is printed as "path:line: what [rule]"):

  size      no C source file (.c, .h, .bpf.c) over 1000 lines;
  function  no function body over 150 lines (from the line of its opening
            brace to the line of its closing one);
  calls     a product folder (daemon/*, dataplane, api/*) includes only its
            own headers and the public headers of the folders its README's
            "May call" names (CALLS below, which mirrors them: dependencies
            point down the folder map), tests/support only public headers;
  internal  no file includes another folder's internal header (*_int.h,
            *_impl.h, and those INTERNAL lists because a README calls them
            internal), tests/unit and tests/fuzz excepted: they test those
            internals from the inside;
  cycle     the #include graph between the files of daemon/ike and
            daemon/session has no cycle;
  tree      in the folders of TREE_READERS only the compiling files read a
            libyang tree (ike_leaf, ike_find, lyd_child, LY_LIST_FOR,
            lyd_get_value, lyd_find_*): exchanges read the compiled
            configuration of their generation (daemon/ike/ike_conf.h);
  readme    each folder of CALLS has a README.md whose introduction (before
            its first table or section) says what the folder may call, in a
            sentence starting "May call" (or "Calls"), naming exactly the Raven
            folders and headers CALLS lists for it, in backquotes; and the
            "may call" column of daemon/README.md and api/README.md agrees.

The size and function rules cover every C source under daemon/, dataplane/,
api/ and tests/ (test code is read and changed like the rest); the include
rules cover the product and tests/support.

Usage: tests/layout/check.py [REPO_ROOT]; exits 1 when something is violated.
Standard library only (Debian's /usr/bin/python3).

SPDX-License-Identifier: BSD-2-Clause
"""
import os
import re
import sys

MAX_FILE_LINES = 1000
MAX_FUNCTION_LINES = 150

# What each folder may include besides its own headers: a folder (its public
# headers) or one header. Mirrors the folders' READMEs (checked: rule readme)
# and DESIGN.md's folder map, where dependencies point down:
#   api -> daemon/ravend -> daemon/mgmt, daemon/config, daemon/cluster
#       -> daemon/{ike, session, aaa, pool, pki} -> dataplane/dp.h -> dataplane
#       -> daemon/base
# IKE calls the session module downward; the session module reaches IKE only
# through an ops table it is given. The front ends (api/*) are processes of
# their own that reach ravend only over the management socket: they include
# the client (api/mgmt/mc.h), daemon/base (mwire.h: the frames) and the
# configuration's error and YANG-context helpers, never the datastore.
CALLS = {
    "daemon/base": [],
    "dataplane": ["daemon/base"],
    "daemon/pool": ["daemon/base"],
    "daemon/pki": ["daemon/base"],
    "daemon/aaa": ["daemon/base"],
    "daemon/session": ["daemon/aaa", "daemon/pool", "dataplane/dp.h", "daemon/base"],
    "daemon/ike": ["daemon/session", "daemon/aaa", "daemon/pool", "daemon/pki", "dataplane/dp.h",
                   "daemon/base"],
    "daemon/config": ["daemon/base"],
    "daemon/mgmt": ["daemon/config", "daemon/base"],
    "daemon/cprof": ["daemon/base"],
    "daemon/cluster": ["daemon/base"],
    "daemon/ravend": ["daemon/mgmt", "daemon/cprof", "daemon/config", "daemon/cluster", "daemon/ike", "daemon/session", "daemon/aaa",
                      "daemon/pool", "daemon/pki", "dataplane/dp.h", "daemon/base"],
    "api/mgmt": ["daemon/config/cfg.h", "daemon/base"],
    "api/netconf": ["api/mgmt", "daemon/config/cfg.h", "daemon/base"],
    "api/rest": ["api/mgmt", "daemon/config/cfg.h", "daemon/config/cfg_err.h", "daemon/base"],
}

# Headers only the files of their own folder may include, besides every
# *_int.h and *_impl.h: those a README calls internal.
INTERNAL = {
    "daemon/ike/ike_eng.h",  # daemon/ike/README.md: "internals shared by the files below"
}

# Folders whose files may read a libyang configuration tree only in the
# compiling files named here: everything else reads compiled structures.
TREE_READERS = {
    "daemon/ike": ["ike_conf.c", "ike_authz_conf.c", "ike_prof_conf.c", "ike_route_conf.c",
                   "ike_ppk_conf.c", "ike_pool_conf.c"],
}
TREE_CALLS = re.compile(r"\b(ike_leaf|ike_find|lyd_child\w*|LY_LIST_FOR\w*|LYD_TREE_DFS_BEGIN|lyd_parent|"
                        r"lyd_first_sibling|lyd_get_value|lyd_value_get_canonical|lyd_find_\w+)\s*\(|"
                        r"(->\s*tree)\b")

# Where the rules look.
SIZE_ROOTS = ["daemon", "dataplane", "api", "tests"]
PUBLIC_ONLY = ["tests/support"]  # may include any folder's public headers
WHITE_BOX = ["tests/unit", "tests/fuzz", "tests/bench", "tests/integration"]
CYCLE_FOLDERS = ["daemon/ike", "daemon/session"]
# Parent READMEs whose table has a "may call" column, rows named relative to them.
TABLE_READMES = ["daemon", "api"]

OURS = ("daemon/", "dataplane/", "api/", "tests/")


class Report:
    def __init__(self):
        self.lines = []

    def add(self, path, line, what, rule):
        loc = f"{path}:{line}" if line else path
        self.lines.append(f"{loc}: {what} [{rule}]")


def c_sources(root, tops):
    for top in tops:
        base = os.path.join(root, top)
        for d, dirs, files in os.walk(base):
            dirs[:] = sorted(x for x in dirs if x not in ("node_modules", "corpus", "results", "data")
                             and not x.startswith("."))
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, f), root)


def strip_c(text):
    """text with comments, string and character literals replaced by spaces
    (newlines kept, so line numbers stay)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and i + 1 < n and text[i + 1] == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c == "/" and i + 1 < n and text[i + 1] == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def blank_directives(stripped):
    """Preprocessor lines blanked; of an #if chain only the first branch is kept,
    so that braces opened differently in #if and #else count once.
    Returns (code lines, [(line number, directive text)])."""
    lines = stripped.split("\n")
    out, directives = [], []
    skip = []  # per open #if: True while in a branch after the first
    cont = False
    for no, line in enumerate(lines, 1):
        is_dir = cont or line.lstrip().startswith("#")
        if is_dir:
            if not cont:
                d = line.lstrip()[1:].strip()
                word = re.match(r"\w*", d).group(0)
                directives.append((no, d))
                if word in ("if", "ifdef", "ifndef"):
                    skip.append(False)
                elif word in ("elif", "else") and skip:
                    skip[-1] = True
                elif word == "endif" and skip:
                    skip.pop()
            cont = line.rstrip().endswith("\\")
            out.append("")
        else:
            out.append("" if any(skip) else line)
    return out, directives


def find_functions(code_lines):
    """[(name, first line, last line)] of the function bodies at file level."""
    text = "\n".join(code_lines)
    funcs = []
    depth = 0
    start = 0          # where the current file-level declaration began
    open_pos = None
    open_line = 0
    header = ""
    line = 1
    for i, c in enumerate(text):
        if c == "\n":
            line += 1
        elif c == "{":
            if depth == 0:
                header = text[start:i]
                open_pos, open_line = i, line
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                name = function_name(header)
                if name:
                    funcs.append((name, open_line, line))
                start = i + 1
                open_pos = None
            elif depth < 0:
                depth = 0
        elif c == ";" and depth == 0:
            start = i + 1
    return funcs


def function_name(header):
    """The name of the function a file-level header declares, else None."""
    h = header.strip()
    if not h.endswith(")") or "=" in paren_free(h):
        return None
    # the parameter list: the parentheses that close at the end
    level = 0
    for k in range(len(h) - 1, -1, -1):
        if h[k] == ")":
            level += 1
        elif h[k] == "(":
            level -= 1
            if level == 0:
                m = re.search(r"([A-Za-z_]\w*)\s*$", h[:k])
                if not m or m.group(1) in ("if", "while", "for", "switch", "sizeof", "return"):
                    return None
                return m.group(1)
    return None


def paren_free(h):
    """h without what stands inside parentheses (a default '=' there is no initializer)."""
    out, level = [], 0
    for c in h:
        if c == "(":
            level += 1
        elif c == ")":
            level -= 1
        elif level == 0:
            out.append(c)
    return "".join(out)


def folder_of(path, keys):
    """The key of keys that path lies in (the longest), else None."""
    best = None
    for k in keys:
        if path == k or path.startswith(k + "/"):
            if best is None or len(k) > len(best):
                best = k
    return best


def is_internal(header):
    name = os.path.basename(header)
    return name.endswith(("_int.h", "_impl.h")) or header in INTERNAL


def resolve(root, src, inc):
    """The repository path an #include "inc" of src names, else None (not ours)."""
    rel = os.path.normpath(os.path.join(os.path.dirname(src), inc))
    if os.path.exists(os.path.join(root, rel)):
        return rel
    if inc.startswith(OURS):
        return os.path.normpath(inc)
    return None


def includes(root, path, raw_lines, directives):
    """[(line, included path)] of the #includes of our own files ("..." or <daemon/...>)."""
    out = []
    for no, d in directives:
        if not d.startswith("include"):
            continue
        # the name itself was blanked with the string: read it from the raw line
        q = re.search(r'#\s*include\s*(?:"([^"]+)"|<((?:daemon|dataplane|api|tests)/[^>]+)>)', raw_lines[no - 1])
        if q:
            target = resolve(root, path, q.group(1) or q.group(2))
            if target:
                out.append((no, target))
    return out


def check_includes(report, path, incs):
    src_folder = folder_of(path, list(CALLS) + PUBLIC_ONLY + WHITE_BOX)
    if src_folder is None or src_folder in WHITE_BOX:
        return
    for no, target in incs:
        tgt_folder = folder_of(target, CALLS)
        if tgt_folder is None or tgt_folder == src_folder:
            continue
        if is_internal(target):
            report.add(path, no, f'includes "{target}", an internal header of {tgt_folder}/ '
                       f"(only {tgt_folder}'s own files may)", "internal")
            continue
        if src_folder in PUBLIC_ONLY:
            continue
        allowed = CALLS[src_folder]
        if tgt_folder in allowed or target in allowed:
            continue
        report.add(path, no, f'includes "{target}": {src_folder}/ may call only '
                   f"{', '.join(allowed) or 'nothing of ours'} ({src_folder}/README.md, DESIGN.md "
                   f'"Folder map")', "calls")


def check_tree_reads(report, path, code_lines):
    folder = folder_of(path, TREE_READERS)
    if folder is None or os.path.basename(path) in TREE_READERS[folder] or not path.endswith(".c"):
        return
    for no, ln in enumerate(code_lines, 1):
        m = TREE_CALLS.search(ln)
        if m:
            what = f"{m.group(1)}()" if m.group(1) else "the generation's tree (->tree)"
            report.add(path, no, f"{what} reads a configuration tree: only "
                       f"{', '.join(TREE_READERS[folder])} of {folder}/ compile it; read the compiled "
                       "configuration (daemon/ike/ike_conf.h)", "tree")


def check_cycles(report, graph):
    """graph: path -> [(line, included path)] restricted to CYCLE_FOLDERS."""
    state = {}  # 1: on the stack, 2: done
    stack = []
    seen_cycles = set()

    def visit(node):
        state[node] = 1
        stack.append(node)
        for no, nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cyc = stack[stack.index(nxt):] + [nxt]
                key = frozenset(cyc)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    report.add(node, no, "include cycle: " + " -> ".join(cyc), "cycle")
            elif nxt in graph and state.get(nxt) is None:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state.get(node) is None:
            visit(node)


PATH_RE = re.compile(r"`((?:daemon|dataplane|api)(?:/[\w.]+)*)/?`")


def named_paths(text, here=None):
    """The Raven folders and headers text names in backquotes (a name relative
    to here, e.g. `config/` in daemon/README.md, counts too)."""
    found = set(m.group(1) for m in PATH_RE.finditer(text))
    if here:
        for m in re.finditer(r"`([\w.]+(?:/[\w.]+)*)/?`", text):
            p = f"{here}/{m.group(1)}"
            if folder_of(p, CALLS) and not m.group(1).startswith(("daemon", "dataplane", "api")):
                found.add(p)
    return found


def expected_calls(folder):
    return set(CALLS[folder])


def check_readmes(report, root):
    for folder in sorted(CALLS):
        if not os.path.isdir(os.path.join(root, folder)):
            continue
        rel = f"{folder}/README.md"
        path = os.path.join(root, rel)
        if not os.path.exists(path):
            report.add(rel, 0, f"missing: {folder}/ needs a README saying what it owns and what it "
                       "may call", "readme")
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        intro = re.split(r"\n(?:\||#)", text.split("\n", 1)[1] if "\n" in text else "", maxsplit=1)[0]
        m = re.search(r"(?:^|(?<=[.\s]))(May call|Calls)\b(.*?)(?:\.(?=\s)|\n\n|$)", intro, re.S)
        if not m:
            report.add(rel, 0, 'its introduction (before the first table or section) has no sentence '
                       'starting "May call" naming what the folder may call', "readme")
            continue
        said = named_paths(m.group(2)) - {folder}
        want = expected_calls(folder)
        if said != want:
            line = text[:text.find(m.group(0))].count("\n") + 1
            report.add(rel, line, readme_diff(said, want), "readme")
    for parent in TABLE_READMES:
        rel = f"{parent}/README.md"
        path = os.path.join(root, rel)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        col = None
        for no, ln in enumerate(lines, 1):
            if not ln.startswith("|"):
                col = None
                continue
            cells = [c.strip() for c in ln.strip().strip("|").split("|")]
            if col is None:
                low = [c.lower() for c in cells]
                col = low.index("may call") if "may call" in low else -1
                continue
            if col < 0 or set(cells[0]) <= set("-: ") or len(cells) <= col:
                continue
            m = re.match(r"`([\w./]+?)/?`", cells[0])
            if not m:
                continue
            folder = f"{parent}/{m.group(1)}"
            if folder not in CALLS:
                continue
            said = named_paths(cells[col], parent) - {folder}
            want = expected_calls(folder)
            if said != want:
                report.add(rel, no, f"row {folder}/: " + readme_diff(said, want), "readme")


def readme_diff(said, want):
    parts = []
    if want - said:
        parts.append("does not name " + ", ".join(sorted(want - said)))
    if said - want:
        parts.append("names " + ", ".join(sorted(said - want)) + " which the layout table does not allow")
    return ("'may call' " + "; ".join(parts) + " (tests/layout/check.py CALLS and the README must agree)")


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), "..", ".."))
    report = Report()
    graph = {}
    for path in c_sources(root, SIZE_ROOTS):
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            text = f.read()
        nlines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        if nlines > MAX_FILE_LINES:
            report.add(path, 0, f"{nlines} lines: over {MAX_FILE_LINES}; split it along a seam into "
                       "files named by their concern", "size")
        code, directives = blank_directives(strip_c(text))
        for name, first, last in find_functions(code):
            n = last - first + 1
            if n > MAX_FUNCTION_LINES:
                report.add(path, first, f"function {name}() is {n} lines: over {MAX_FUNCTION_LINES}; "
                           "split it into named steps", "function")
        check_tree_reads(report, path, code)
        incs = includes(root, path, text.split("\n"), directives)
        check_includes(report, path, incs)
        if folder_of(path, CYCLE_FOLDERS):
            graph[path] = [(no, t) for no, t in incs if folder_of(t, CYCLE_FOLDERS)]
    check_cycles(report, graph)
    check_readmes(report, root)
    for ln in report.lines:
        print(ln)
    if report.lines:
        print(f"{len(report.lines)} layout violation(s) (rules: tests/layout/check.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
