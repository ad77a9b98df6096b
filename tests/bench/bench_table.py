#!/usr/bin/python3
"""Every figure of the performance table in one run: runs bench_dataplane,
bench_ike, bench_datastore, bench_scale, bench_ike_pool and bench_esp_crypto once
each, in sequence, as subprocesses, with the baseline build (--base, "before") and
this build (--build, "after"), reads the figures they print and prints one table:
figure, before, after, goal, met or not met, with each benchmark's failures and
timeouts, then the file holding each benchmark's full output.

    tests/bench/bench_table.py [--build build] [--base BASELINE/build] [--only ROWS] [--quick]

ROWS: a comma-separated subset of dataplane, ike, datastore, scale, flood, crypto.
--quick runs each with tiny durations and sizes (to test the plumbing; its figures
are not the table's: the datastore at 500 pools, the sessions at hundreds). Exits
non-zero only when a benchmark failed to run (exit status, timeout, or none of its
figures printed); goals not met are reported, not failures.
"""
import argparse
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import benchdeps

HERE = os.path.dirname(os.path.abspath(__file__))
# the interpreter the bench README runs them with (Debian's, with ncclient and lxml)
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

# each benchmark: the runs it makes (name, command line) for the full and quick table
STEPS = ("dataplane", "ike", "datastore", "scale", "flood", "crypto")


def commands(a):
    """[(step, run name, argv, timeout s)] in the order they run."""
    q = a.quick
    build, base = a.build, a.base
    out = []
    dp = ["--sizes", "1400"] + (["--runs", "1", "--seconds", "0.5"] if q else ["--runs", "3", "--seconds", "4"])
    out.append(("dataplane", "before", [PY, f"{HERE}/bench_dataplane.py", "--build", base, "--tools", build] + dp, 900))
    out.append(("dataplane", "after", [PY, f"{HERE}/bench_dataplane.py", "--build", build] + dp, 900))
    ike = ["--seconds", "1" if q else "12", "--tools", build]
    out.append(("ike", "before", [PY, f"{HERE}/bench_ike.py", "--build", base, "--name", "bench_table_ike"] + ike,
                1200))
    out.append(("ike", "after", [PY, f"{HERE}/bench_ike.py", "--build", build, "--name", "bench_table_ike"] + ike,
                1200))
    out.append(("datastore", "before+after",
                [PY, f"{HERE}/bench_datastore.py", "--ravend", f"{build}/daemon/ravend",
                 "--floor", f"{build}/tests/bench/bench_ly_floor", "--baseline-ravend", f"{base}/daemon/ravend"]
                + (["--pools", "500", "--edits", "3", "--reps", "1"] if q else ["--edits", "20", "--reps", "3", "--rounds", "2"]),
                1200))
    out.append(("scale", "before+after",
                [PY, f"{HERE}/bench_scale.py", "--build", build, "--base-build", base]
                + (["--sessions", "500", "--base-sessions", "200", "--reads", "3", "--commits", "1"]
                   if q else ["--sessions", "100000", "--base-sessions", "10000", "--reads", "30", "--commits", "5"]),
                2400))
    out.append(("flood", "before+after",
                [PY, f"{HERE}/bench_ike_pool.py", "--build", build, "--base", base, "--skip-scaling",
                 "--seconds", "1" if q else "8"], 900))
    out.append(("crypto", "before+after",
                [PY, f"{HERE}/bench_esp_crypto.py", "--build", build]
                + (["--seconds", "0.1", "--rounds", "1"] if q else ["--seconds", "1", "--rounds", "5"]), 600))
    return [c for c in out if c[0] in a.only]


def run(step, name, argv, timeout, out_dir, env):
    """Runs one benchmark in its own process group, its output to a file (and
    to ours as it comes); returns (text, status) where status is None on
    success, else what went wrong."""
    path = os.path.join(out_dir, f"{step}-{name.replace('+', '_')}.txt")
    print(f"\n=== {step} ({name}): {' '.join(argv)}\n    output: {path}", flush=True)
    t0 = time.monotonic()
    status = None
    chunks = []
    with open(path, "w") as log:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=HERE,
                             env=env, start_new_session=True, errors="replace")

        def pump():
            for line in p.stdout:
                chunks.append(line)
                log.write(line)
                log.flush()
                sys.stdout.write("    | " + line)
                sys.stdout.flush()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            status = f"timeout after {timeout:.0f} s"
            # its own process group: the benchmark and what it started. SIGINT first, so that the
            # script's finally blocks remove its namespaces and stop its daemons
            rc = None
            for sig, wait in ((signal.SIGINT, 60), (signal.SIGTERM, 20), (signal.SIGKILL, None)):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    rc = p.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        reader.join(10)
        if status is None and rc != 0:
            status = f"exit status {rc}"
    print(f"=== {step} ({name}): {'ok' if status is None else status}, {time.monotonic() - t0:.0f} s", flush=True)
    return "".join(chunks), status, path


def num(pattern, text, group=1, flags=re.M):
    m = re.search(pattern, text, flags)
    return float(m.group(group)) if m else None


# parsers: text of a run -> {figure key: value}, and notes (failures, timeouts)
def parse_dataplane(text):
    f = {}
    for d in ("decrypt", "encrypt"):
        f[f"esp_{d}"] = num(rf"^{d}: 1400 B AES-128-GCM / own forward without crypto = \d+ / \d+ kpps = ([\d.]+)",
                            text)
    f["gateway"] = num(r"ravend / strongSwan packets per gateway CPU second = ([\d.]+)x", text)
    notes = []
    for m in re.finditer(r"^gateway (\S+)\s*:.*\(TCP retransmits (\d+), iperf3 error: ([^;]*);", text, re.M):
        if m.group(3) != "none":
            notes.append(f"gateway {m.group(1)}: iperf3 error {m.group(3)}")
    lost = [int(x) for x in re.findall(r"\(not forwarded (\d+);", text)]
    if lost and max(lost):
        notes.append(f"not forwarded up to {max(lost)} packets in a run")
    return f, notes


def parse_ike(text):
    f, notes = {}, []
    for auth in ("psk", "ecdsa"):
        f[f"ike_crypto_{auth}"] = num(rf"^ike_load {auth}: ravend CPU per SA \d+ us = ([\d.]+)x the raw crypto", text)
        f[f"ike_charon_{auth}"] = num(rf"^charon {auth}: responder CPU per SA ravend/strongSwan ([\d.]+)x", text)
    for m in re.finditer(r"^(load|charon)\s+(psk|ecdsa)\s+(\S+(?: \S+)*?)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+\d+", text,
                         re.M):
        if int(m.group(5)) or int(m.group(6)):
            notes.append(f"{m.group(1)} {m.group(2)} {m.group(3)}: {m.group(5)} failures, {m.group(6)} timeouts")
    return f, notes


def parse_datastore(text):
    """Both ravends' tables: 'before: PATH ...' then 'after: PATH ...'."""
    f, notes, label = {}, [], None
    for line in text.splitlines():
        m = re.match(r"^(before|after): ", line)
        if m:
            label = m.group(1)
            continue
        if label is None:
            continue
        m = re.match(r"^full commit \(edit \+ commit\)\s+([\d.]+)\s+floor parse\+validate\s+([\d.]+)\s+([\d.]+)x",
                     line)
        if m:
            f[f"ds_full_{label}"] = float(m.group(3))
        m = re.match(r"^single-leaf edit-commit median\s+([\d.]+)\s+goal \(absolute\)", line)
        if m:
            f[f"ds_edit_{label}"] = float(m.group(1))
        m = re.match(r"^single-leaf edit-commit failures/timeouts\s+(\d+)", line)
        if m and int(m.group(1)):
            notes.append(f"{label}: {m.group(1)} single-leaf edit-commits failed or timed out")
    return f, notes


def parse_scale(text):
    f, notes = {}, []
    blob = None
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                blob = json.loads(line)
            except ValueError:
                pass
            break
    if blob is None:
        return f, ["no JSON summary printed"]
    for label, r in blob.items():
        side = "before" if label.startswith("baseline") else (
            "after_base_n" if r.get("sessions_wanted") != max(x.get("sessions_wanted", 0) for x in blob.values())
            else "after")
        if "error" in r:
            notes.append(f"{label}: {str(r['error'])[:160]}")
        f[f"mem_{side}"] = r.get("kib_per_session")
        for key in ("commit", "rest_key", "nc_key", "metrics"):
            v = r.get(key)
            if isinstance(v, list) and v and v[0] is not None:
                f[f"{key}_{side}"] = v[0] * 1e3
            if isinstance(v, list) and len(v) > 2 and v[2]:
                notes.append(f"{label} {key}: {len(v[2])} failed/timed out: {str(v[2][0])[:120]}")
        f[f"n_{side}"] = r.get("sessions_wanted")
        if r.get("held") is not None and r.get("held") < r.get("sessions_wanted", 0):
            notes.append(f"{label}: {r.get('held')} of {r.get('sessions_wanted')} sessions up")
    return f, notes


def parse_flood(text):
    f, notes = {}, []
    for m in re.finditer(r"^(before|threads auto)\s+([\d.]+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)x\s+(\d+)\s+(\d+)\s+(\d+)",
                         text, re.M):
        side = "before" if m.group(1) == "before" else "after"
        f[f"flood_{side}"] = float(m.group(5))
        if int(m.group(7)) or int(m.group(8)):
            notes.append(f"{m.group(1)}: {m.group(7)} failures, {m.group(8)} timeouts")
    return f, notes


def parse_crypto(text):
    f = {}
    med = {}
    for m in re.finditer(r"^gcm128\s+(\d+) B median per CPU-second: evp-raw (\d+) kpps.*openssl (\d+) kpps.*"
                         r"ipsec-mb (\d+) kpps", text, re.M):
        med[int(m.group(1))] = {"evp-raw": float(m.group(2)), "openssl": float(m.group(3)),
                                "ipsec-mb": float(m.group(4))}
    if 64 in med and 1400 in med:
        per_byte = {v: (1 / (med[1400][v] * 1e3) - 1 / (med[64][v] * 1e3)) / 1336 * 1e9 for v in med[64]}
        f["crypto_ns_before"] = per_byte["evp-raw"]
        f["crypto_ns_after"] = per_byte["ipsec-mb"]
    return f, []


PARSERS = {"dataplane": parse_dataplane, "ike": parse_ike, "datastore": parse_datastore, "scale": parse_scale,
           "flood": parse_flood, "crypto": parse_crypto}

# the table: (step, figure, before key, after key, goal text, test of a value, unit format)
ROWS = [
    ("dataplane", "ESP 1400 B AES-128-GCM / own forward, decrypt", "esp_decrypt", "esp_decrypt", ">= 0.85",
     lambda v: v >= 0.85, "{:.2f}"),
    ("dataplane", "ESP 1400 B AES-128-GCM / own forward, encrypt", "esp_encrypt", "esp_encrypt", ">= 0.85",
     lambda v: v >= 0.85, "{:.2f}"),
    ("dataplane", "gateway pkts per CPU s, ravend / strongSwan", "gateway", "gateway", ">= 10x",
     lambda v: v >= 10, "{:.1f}x"),
    ("ike", "IKE CPU per SA / raw crypto, PSK", "ike_crypto_psk", "ike_crypto_psk", "<= 1.5x",
     lambda v: v <= 1.5, "{:.2f}x"),
    ("ike", "IKE CPU per SA / raw crypto, ECDSA", "ike_crypto_ecdsa", "ike_crypto_ecdsa", "<= 1.5x",
     lambda v: v <= 1.5, "{:.2f}x"),
    ("ike", "responder CPU per SA ravend / strongSwan, PSK", "ike_charon_psk", "ike_charon_psk", "<= 0.25x",
     lambda v: v <= 0.25, "{:.2f}x"),
    ("ike", "responder CPU per SA ravend / strongSwan, ECDSA", "ike_charon_ecdsa", "ike_charon_ecdsa", "<= 0.25x",
     lambda v: v <= 0.25, "{:.2f}x"),
    ("datastore", "single-leaf edit + commit, median", "ds_edit_before", "ds_edit_after", "<= 50 ms",
     lambda v: v <= 50, "{:.1f} ms"),
    ("datastore", "full commit / libyang parse+validate", "ds_full_before", "ds_full_after", "<= 2.5x",
     lambda v: v <= 2.5, "{:.2f}x"),
    ("scale", "memory per session", "mem_before", "mem_after", "<= 4 KiB", lambda v: v <= 4, "{:.1f} KiB"),
    ("scale", "commit touching a profile", "commit_before", "commit_after", "<= 1 s", lambda v: v <= 1000,
     "{:.0f} ms"),
    ("scale", "REST session by key", "rest_key_before", "rest_key_after", "<= 5 ms", lambda v: v <= 5, "{:.2f} ms"),
    ("scale", "NETCONF session by key", "nc_key_before", "nc_key_after", "<= 5 ms", lambda v: v <= 5, "{:.2f} ms"),
    ("scale", "/metrics", "metrics_before", "metrics_after", "<= 50 ms", lambda v: v <= 50, "{:.1f} ms"),
    ("flood", "legit. SA rate under 10x spoofed flood / unloaded", "flood_before", "flood_after", ">= 0.8",
     lambda v: v >= 0.8, "{:.2f}"),
    ("crypto", "AES-128-GCM ns per byte (EVP raw / ipsec-mb)", "crypto_ns_before", "crypto_ns_after",
     "4.5x faster", None, "{:.3f} ns"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(benchdeps.ROOT, "build"), help="this build (after)")
    ap.add_argument("--base", required=True, help="the baseline build (before)")
    ap.add_argument("--only", default=",".join(STEPS), help="comma-separated subset of " + ", ".join(STEPS))
    ap.add_argument("--quick", action="store_true", help="tiny durations: a smoke test of the plumbing")
    ap.add_argument("--out", help="directory of the benchmarks' outputs (default: results/bench_table-DATE-TIME, "
                    "with --quick a directory under /tmp)")
    a = ap.parse_args()
    a.build, a.base = os.path.abspath(a.build), os.path.abspath(a.base)
    a.only = [s.strip() for s in a.only.split(",") if s.strip()]
    bad = [s for s in a.only if s not in STEPS]
    if bad:
        ap.error(f"--only: unknown {', '.join(bad)} (of {', '.join(STEPS)})")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d-%H%M")
    if a.quick:
        a.out = a.out or f"/tmp/bench_table-quick-{now}"
    else:
        a.out = a.out or os.path.join(HERE, "results", f"bench_table-{now}")
    os.makedirs(a.out, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if a.quick:
        env["RAVEN_BENCH_RESULTS"] = a.out  # the benchmarks' own records too: not among the committed results
        print("bench_table: writing", benchdeps.record("bench_table", a.out))
    else:
        print("bench_table: writing", benchdeps.record("bench_table"))
    print(f"after: {a.build}; before: {a.base}; outputs in {a.out}{'; QUICK (smoke run)' if a.quick else ''}")
    with open("/proc/loadavg") as f:
        print(f"load average at start: {f.read().strip()}", flush=True)
    t0 = time.monotonic()
    figs = {}  # (step, side) -> {key: value}
    notes, status, paths = {}, {}, []
    for step, name, argv, timeout in commands(a):
        text, st, path = run(step, name, argv, timeout * (0.5 if a.quick else 1), a.out, env)
        paths.append((step, name, path, st))
        f, n = PARSERS[step](text)
        if st is None and not any(v is not None for v in f.values()):
            st = "none of its figures printed"
            paths[-1] = (step, name, path, st)
        for side in ("before", "after"):
            if name == side or "+" in name:
                figs[(step, side)] = f
        notes.setdefault(step, []).extend(f"{name}: {x}" for x in n)
        if st:
            status.setdefault(step, []).append(f"{name}: {st}")
    with open("/proc/loadavg") as f:
        load = f.read().strip()
    report(a, figs, notes, status, paths, load, time.monotonic() - t0)
    return 1 if status else 0


def report(a, figs, notes, status, paths, load, elapsed):
    print()
    print(f"== performance table ({'QUICK smoke run, figures not comparable' if a.quick else 'one run each'}; "
          f"{elapsed / 60:.1f} min; load average at the end {load})")
    hdr = ("figure", "before", "after", "goal", "met")
    lines = []
    for step, fig, kb, ka, goal, test, fmt in ROWS:
        if step not in a.only:
            continue
        if step == "scale":
            nb, na = figs.get((step, "before"), {}).get("n_before"), figs.get((step, "after"), {}).get("n_after")
            fig = f"{fig} ({nb or '?'} / {na or '?'} sessions)"
        b = figs.get((step, "before"), {}).get(kb)
        v = figs.get((step, "after"), {}).get(ka)
        if step == "crypto" and b and v:
            met = f"{b / v:.2f}x faster: " + ("met" if b / v >= 4.5 else "NOT MET")
        elif v is None:
            met = "no figure" + (" (" + "; ".join(status[step]) + ")" if step in status else "")
        else:
            met = "met" if test and test(v) else "NOT MET"
        lines.append((fig, fmt.format(b) if b is not None else "-", fmt.format(v) if v is not None else "-",
                      goal, met))
    widths = [max(len(x[i]) for x in lines + [hdr]) for i in range(len(hdr))]
    print("  ".join(h.ljust(w) for h, w in zip(hdr, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for x in lines:
        print("  ".join(v.ljust(w) for v, w in zip(x, widths)).rstrip())
    print()
    print("failures and timeouts:")
    anything = False
    for step in a.only:
        for x in status.get(step, []) + notes.get(step, []):
            print(f"  {step}: {x}")
            anything = True
    if not anything:
        print("  none")
    print()
    print("full outputs:")
    for step, name, path, st in paths:
        print(f"  {step:<10} {name:<13} {path}{'  (' + st + ')' if st else ''}")
    print("(the datastore figures are at 500 pools with --quick; the table's rows are at 10 000)" if a.quick else
          "(before: the baseline build; the crypto row's before is OpenSSL EVP as the dataplane used it, its after "
          "the ipsec-mb backend of this build)")


if __name__ == "__main__":
    sys.exit(main())
