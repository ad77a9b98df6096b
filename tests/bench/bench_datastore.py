#!/usr/bin/python3
"""Datastore benchmark for ravend over NETCONF (see README.md in this directory).

In one run, against baselines measured in the same run:
  (a) libyang floor: parse+validate and print of the same configuration
      (bench_ly_floor), and yanglint printing it (a whole process);
  (b) edit-config of N IPv4 pools and N IKEv2 authorization policies into the
      candidate, then commit (each timed, and the total);
  (c) single-leaf edit-commit (one pool's range end) with all of that present,
      repeated: median and p90;
  (d) get-config of the whole running datastore.
Prints a table with each measurement, its baseline, the ratio and whether the goal
is met. It is a benchmark, not a test: the exit status only says whether the run
worked (0), not whether the goals were met.

With --baseline-ravend, the same NETCONF measurements run against a second ravend
(the code before a change) in the same run, alternating --rounds times, and a last
table gives each figure after / before.

Run with /usr/bin/python3 (ncclient comes from python3-ncclient):
  /usr/bin/python3 tests/bench/bench_datastore.py --ravend build/daemon/ravend \\
      --floor build/tests/bench/bench_ly_floor [--pools 10000] [--baseline-ravend OLD/ravend]
"""
import argparse
import ipaddress
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import benchdeps

from lxml import etree
from ncclient import manager, xml_
from ncclient.transport import ssh as nc_ssh

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
YANG_DIR = os.path.join(ROOT, "yang")
IETF_DIR = "/usr/share/yuma/modules/ietf"
NS = "urn:raven:params:xml:ns:yang:raven-vpn"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"

ADMIN = "admin"
ADMIN_PW = "bench-secret-1"
RPC_TIMEOUT_S = 600
# ncclient's SSH session thread sends a queued request only when its select() wakes
# up, at the latest every TICK (0.1 s in 0.6.13): stock, every RPC would pay up to
# 100 ms of client-side latency, more than the whole single-edit goal. A 1 ms tick
# keeps that below the measurement noise; the thread then polls 1000 times a second.
NCCLIENT_TICK_S = 0.001

# Goals: ratio limits, and an absolute limit for the small edit.
GOAL_COMMIT_RATIO = 2.5
GOAL_EDIT_MS = 50.0
GOAL_GET_RATIO = 3.0


# ---------------------------------------------------------------------------
# data

def pool_name(i):
    return f"bench-pool-{i:05d}"


def policy_name(i):
    return f"bench-user-{i:05d}"


def pool_block(i):
    """Pool i owns the /24 10.0.0.0 + 256*i, so the ranges are distinct."""
    base = int(ipaddress.IPv4Address("10.0.0.0")) + 256 * i
    return str(ipaddress.IPv4Address(base + 1)), str(ipaddress.IPv4Address(base + 254))


def pool_end(i, last_octet):
    base = int(ipaddress.IPv4Address("10.0.0.0")) + 256 * i
    return str(ipaddress.IPv4Address(base + last_octet))


def bench_body(n):
    """The <pools> and <ikev2> top-level containers: n pools, n policies."""
    parts = [f'<pools xmlns="{NS}">']
    for i in range(n):
        start, end = pool_block(i)
        parts.append(f"<ipv4-pool><name>{pool_name(i)}</name>"
                     f"<range><start>{start}</start><end>{end}</end></range>"
                     f"<netmask>255.255.255.0</netmask></ipv4-pool>")
    parts.append("</pools>")
    parts.append(f'<ikev2 xmlns="{NS}">')
    for i in range(n):
        parts.append(f"<authorization-policy><name>{policy_name(i)}</name>"
                     f"<pool>{pool_name(i)}</pool></authorization-policy>")
    parts.append("</ikev2>")
    return "\n".join(parts)


def management_xml(port, pw_hash):
    return (f'<management xmlns="{NS}">'
            f"<netconf><endpoint><name>bench</name><address>127.0.0.1</address>"
            f"<port>{port}</port></endpoint></netconf>"
            f"<user><name>{ADMIN}</name><password-hash>{pw_hash}</password-hash>"
            f"<role>admin</role></user></management>")


def nc_config(body):
    return f'<config xmlns="{NC_NS}">{body}</config>'


def crypt_hash(pw):
    out = subprocess.run(["openssl", "passwd", "-6", pw], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------
# measurement helpers

def ms(seconds):
    return seconds * 1e3


def p90(values):
    s = sorted(values)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def run_floor(floor, data_file, reps):
    out = subprocess.run([floor, "-n", str(reps), "-p", YANG_DIR, "-p", IETF_DIR, data_file],
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"bench_ly_floor failed ({out.returncode}):\n{out.stderr}")
    res = {}
    for line in out.stdout.splitlines():
        k, _, v = line.partition("=")
        res[k] = v
    return res


def time_yanglint(data_file, out_file, reps):
    """Wall time of a whole yanglint process that loads the modules, parses and
    validates the data and prints it as XML."""
    cmd = ["yanglint", "-p", YANG_DIR, "-p", IETF_DIR, "-f", "xml", "-t", "config", "-o", out_file,
           os.path.join(YANG_DIR, "raven-types.yang"), os.path.join(YANG_DIR, "raven-vpn.yang"), data_file]
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if r.returncode:
            raise RuntimeError(f"yanglint failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return ms(statistics.median(times))


def time_yanglint_schema_only(reps):
    """yanglint loading just the modules: its fixed start-up cost."""
    cmd = ["yanglint", "-p", YANG_DIR, "-p", IETF_DIR,
           os.path.join(YANG_DIR, "raven-types.yang"), os.path.join(YANG_DIR, "raven-vpn.yang")]
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return ms(statistics.median(times))


# ---------------------------------------------------------------------------
# ravend

class Ravend:
    def __init__(self, binary, workdir, port, initial_xml, log_level):
        self.binary = binary
        self.workdir = workdir
        self.port = port
        self.state_dir = os.path.join(workdir, "state")
        self.config_file = os.path.join(workdir, "initial.xml")
        self.log_path = os.path.join(workdir, "ravend.log")
        self.log_level = log_level
        with open(self.config_file, "w") as f:
            f.write(initial_xml)
        self.proc = None

    def start(self, timeout=30):
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-f", "-d", self.state_dir, "-c", self.config_file, "-l", self.log_level],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ravend exited with {self.proc.returncode}:\n{self.log()}")
            if "ravend: ready" in self.log():
                return
            time.sleep(0.05)
        raise RuntimeError(f"ravend not ready in {timeout}s:\n{self.log()}")

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, timeout=20):
        if not self.proc or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def connect(self):
        nc_ssh.TICK = NCCLIENT_TICK_S
        m = manager.connect(host="127.0.0.1", port=self.port, username=ADMIN, password=ADMIN_PW,
                            hostkey_verify=False, look_for_keys=False, allow_agent=False,
                            timeout=RPC_TIMEOUT_S)
        # ncclient 0.6.13 has no huge_tree argument to connect(): set it on the manager
        m.huge_tree = True
        return m


# ---------------------------------------------------------------------------
# the benchmark

def single_edit(m, i, last_octet):
    """One edit-config + commit: (seconds, None) or (seconds, what failed)."""
    body = (f'<pools xmlns="{NS}"><ipv4-pool><name>{pool_name(i)}</name>'
            f"<range><start>{pool_block(i)[0]}</start><end>{pool_end(i, last_octet)}</end></range>"
            f"</ipv4-pool></pools>")
    t0 = time.perf_counter()
    try:
        m.edit_config(target="candidate", config=nc_config(body))
        m.commit()
    except Exception as e:  # an RPC error or a timeout: counted, shown with the rates
        return time.perf_counter() - t0, f"{type(e).__name__}: {e}"
    return time.perf_counter() - t0, None


def check_running(m, n, pool_idx, expect_end):
    """Cheap check that the big commit really landed: one pool and one policy."""
    flt = [f'<pools xmlns="{NS}"><ipv4-pool><name>{pool_name(pool_idx)}</name></ipv4-pool></pools>',
           f'<ikev2 xmlns="{NS}"><authorization-policy><name>{policy_name(n - 1)}</name>'
           f"</authorization-policy></ikev2>"]
    reply = m.get_config(source="running", filter=flt)
    ends = reply.data_ele.xpath("//rv:ipv4-pool/rv:range/rv:end/text()", namespaces={"rv": NS})
    pols = reply.data_ele.xpath("//rv:authorization-policy/rv:pool/text()", namespaces={"rv": NS})
    if ends != [expect_end] or pols != [pool_name(n - 1)]:
        raise RuntimeError(f"running does not hold the benchmark data: ends={ends} policies={pols}")


def count_in_reply(reply_xml):
    root = etree.fromstring(reply_xml.encode(), parser=etree.XMLParser(huge_tree=True))
    ns = {"rv": NS}
    return (len(root.xpath("//rv:ipv4-pool", namespaces=ns)),
            len(root.xpath("//rv:authorization-policy", namespaces=ns)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ravend", default=os.path.join(ROOT, "build", "daemon", "ravend"))
    ap.add_argument("--floor", default=os.path.join(ROOT, "build", "tests", "bench", "bench_ly_floor"))
    ap.add_argument("--pools", type=int, default=10000, help="pools, and as many authorization policies")
    ap.add_argument("--edits", type=int, default=20, help="repetitions of the single-leaf edit-commit")
    ap.add_argument("--reps", type=int, default=5,
                    help="repetitions of the floor, yanglint and get-config measurements (medians)")
    ap.add_argument("--log-level", default="info", help="ravend log level")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (data, ravend log)")
    ap.add_argument("--baseline-ravend", help="a second ravend (before a change) measured in the same run")
    ap.add_argument("--rounds", type=int, default=1, help="alternations of baseline and candidate ravend")
    ap.add_argument("--name", default="bench_datastore", help="results file name (tests/bench/results/NAME-DATE.txt)")
    args = ap.parse_args()
    benchdeps.install()
    benchdeps.record(args.name)

    n = args.pools
    if n < 1 or n > 65536:
        ap.error("--pools must be 1..65536 (each pool takes a /24 of 10.0.0.0/8)")
    for p, what in ((args.ravend, "--ravend"), (args.floor, "--floor"),
                    (args.baseline_ravend or args.ravend, "--baseline-ravend")):
        if not os.access(p, os.X_OK):
            ap.error(f"{what}: {p} is not an executable")
    if not shutil.which("yanglint"):
        ap.error("yanglint not found (package libyang2-tools)")

    workdir = tempfile.mkdtemp(prefix="raven-bench-")
    port = free_port()
    pw_hash = crypt_hash(ADMIN_PW)
    mgmt = management_xml(port, pw_hash)
    body = bench_body(n)
    # the floor's data: what running holds once the benchmark data is committed
    data_file = os.path.join(workdir, "data.xml")
    with open(data_file, "w") as f:
        f.write(mgmt + "\n" + body + "\n")
    edit_xml = nc_config(body)

    runs = [("after", args.ravend)]
    if args.baseline_ravend:
        runs = [("before", args.baseline_ravend)] + runs
    results = {}
    res = {}
    try:
        print(f"raven datastore benchmark: {n} pools + {n} authorization policies, "
              f"data {os.path.getsize(data_file) / 1e6:.2f} MB; work dir {workdir}", flush=True)
        print("  load average %.2f %.2f %.2f; RAVEN_SCOPED_VALIDATION=%s in ravend's environment" %
              (os.getloadavg() + (os.environ.get("RAVEN_SCOPED_VALIDATION", "(unset)"),)), flush=True)

        # (a) baselines
        floor = run_floor(args.floor, data_file, args.reps)
        res["floor_pv"] = float(floor["parse_validate_ms"])
        res["floor_parse"] = float(floor["parse_only_ms"])
        res["floor_print"] = float(floor["print_ms"])
        res["yanglint"] = time_yanglint(data_file, os.path.join(workdir, "yanglint-out.xml"), args.reps)
        res["yanglint_start"] = time_yanglint_schema_only(args.reps)
        print(f"  floor: parse+validate {res['floor_pv']:.1f} ms (parse only {res['floor_parse']:.1f}), "
              f"print {res['floor_print']:.1f} ms; yanglint {res['yanglint']:.1f} ms "
              f"(of which module loading {res['yanglint_start']:.1f} ms)", flush=True)

        # client-side share: what ncclient/lxml spend on the edit document alone
        # (parse and serialise, as edit_config does; median, the first run is cold)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            xml_.to_xml(xml_.to_ele(edit_xml, huge_tree=True))
            times.append(time.perf_counter() - t0)
        res["client_edit"] = ms(statistics.median(times))

        for rnd in range(args.rounds):
            for label, binary in runs:
                r = measure_ravend(binary, label, args, n, mgmt, edit_xml, workdir, port)
                results.setdefault(label, []).append(r)
    except Exception:
        print(f"\nbenchmark failed; work dir kept: {workdir}", file=sys.stderr)
        args.keep = True
        raise
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print("  load average at the end %.2f %.2f %.2f" % os.getloadavg())
    for label, _ in runs:
        r = dict(res)
        r.update(median_of(results[label]))
        print_table(n, r, f"{label}: {runs_of(label, runs)} ({len(results[label])} run(s), medians)")
    if len(runs) == 2:
        print_compare(results)
    return 0


def runs_of(label, runs):
    return dict(runs)[label]


def median_of(rs):
    out = {}
    for k in rs[0]:
        vals = [r[k] for r in rs]
        out[k] = statistics.median(vals) if isinstance(vals[0], (int, float)) else vals[0]
    out["failures"] = sum(r["failures"] for r in rs)
    out["fail_msgs"] = [x for r in rs for x in r["fail_msgs"]]
    return out


def print_compare(results):
    keys = (("full", "full commit (edit + commit)"), ("edit", "edit-config (all)"), ("commit", "commit (all)"),
            ("edit1_med", "single-leaf edit-commit median"), ("edit1_p90", "single-leaf edit-commit p90"),
            ("get", "get-config running (all)"))
    b, a = median_of(results["before"]), median_of(results["after"])
    print()
    print("after / before (same run, medians over rounds)")
    for k, name in keys:
        print(f"  {name:34s} {b[k]:9.1f} ms -> {a[k]:9.1f} ms   {a[k] / b[k]:5.2f}x")
    print(f"  single-leaf edit-commit failures/timeouts: before {b['failures']}, after {a['failures']}")


def measure_ravend(binary, label, args, n, mgmt, edit_xml, workdir, port):
    """Starts @binary on a fresh state directory and measures (b), (c), (d)."""
    wd = tempfile.mkdtemp(prefix=f"{label}-", dir=workdir)
    d = Ravend(binary, wd, port, mgmt + "\n", args.log_level)
    m = None
    res = {}
    try:
        print(f"  [{label}] {binary}", flush=True)
        d.start()
        m = d.connect()

        # NETCONF round trip: two RPCs that do no datastore work, the fixed cost
        # (SSH, libnetconf2, control queue, ncclient) inside every edit + commit pair
        times = []
        for _ in range(args.edits):
            t0 = time.perf_counter()
            m.lock("running")
            m.unlock("running")
            times.append(time.perf_counter() - t0)
        res["rtt2"] = ms(statistics.median(times))

        # (b) full edit + commit
        t0 = time.perf_counter()
        m.edit_config(target="candidate", config=edit_xml)
        t1 = time.perf_counter()
        m.commit()
        t2 = time.perf_counter()
        res["edit"] = ms(t1 - t0)
        res["commit"] = ms(t2 - t1)
        res["full"] = ms(t2 - t0)
        print(f"  full: edit-config {res['edit']:.1f} ms, commit {res['commit']:.1f} ms", flush=True)
        check_running(m, n, 0, pool_block(0)[1])

        # (c) single-leaf edit-commit, alternating the end address so each one changes
        times = []
        res["fail_msgs"] = []
        last = 254
        for k in range(args.edits):
            prev = last
            last = 200 + (k % 50) if last == 254 else 254
            t, err = single_edit(m, 0, last)
            if err:
                res["fail_msgs"].append(err)
                last = prev
                try:  # a failed edit may have left the candidate changed
                    m.discard_changes()
                except Exception:
                    pass
            else:
                times.append(t)
        res["failures"] = len(res["fail_msgs"])
        if not times:
            raise RuntimeError("every single-leaf edit-commit failed: " + "; ".join(res["fail_msgs"][:3]))
        check_running(m, n, 0, pool_end(0, last))
        res["edit1_med"] = ms(statistics.median(times))
        res["edit1_p90"] = ms(p90(times))
        res["edit1_min"] = ms(min(times))
        print(f"  single edit-commit: median {res['edit1_med']:.1f} ms, p90 {res['edit1_p90']:.1f} ms, "
              f"{res['failures']} failed or timed out of {args.edits}", flush=True)
        for msg in res["fail_msgs"][:5]:
            print(f"    failure: {msg}", flush=True)

        # (d) get-config of everything
        times = []
        raw = None
        for _ in range(args.reps):
            t0 = time.perf_counter()
            reply = m.get_config(source="running")
            times.append(time.perf_counter() - t0)
            raw = reply.xml
        res["get"] = ms(statistics.median(times))
        res["get_bytes"] = len(raw.encode())
        npools, npols = count_in_reply(raw)
        if npools != n or npols != n:
            raise RuntimeError(f"get-config returned {npools} pools and {npols} policies, expected {n}")
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            xml_.to_ele(raw, huge_tree=True)
            times.append(time.perf_counter() - t0)
        res["client_get"] = ms(statistics.median(times))
        print(f"  get-config: {res['get']:.1f} ms ({res['get_bytes'] / 1e6:.2f} MB reply)", flush=True)
    except Exception:
        print(f"\nbenchmark failed; ravend log: {d.log_path}", file=sys.stderr)
        raise
    finally:
        if m is not None:
            try:
                m.close_session()
            except Exception:
                pass
        d.stop()
    return res


def print_table(n, r, title=""):
    rows = []

    def row(name, value, base_name, base, goal=None, met=None):
        ratio = value / base if base else float("nan")
        rows.append((name, f"{value:10.1f}", base_name, f"{base:10.1f}" if base is not None else "",
                     f"{ratio:7.2f}x" if base is not None else "", goal or "", met or ""))

    row("edit-config (all) -> candidate", r["edit"], "floor parse+validate", r["floor_pv"])
    row("commit", r["commit"], "floor parse+validate", r["floor_pv"])
    met = r["full"] <= GOAL_COMMIT_RATIO * r["floor_pv"]
    row("full commit (edit + commit)", r["full"], "floor parse+validate", r["floor_pv"],
        f"<= {GOAL_COMMIT_RATIO:g}x", "MET" if met else "NOT MET")
    met = r["edit1_med"] <= GOAL_EDIT_MS
    row("single-leaf edit-commit median", r["edit1_med"], "goal (absolute)", GOAL_EDIT_MS,
        f"<= {GOAL_EDIT_MS:g} ms", "MET" if met else "NOT MET")
    row("single-leaf edit-commit p90", r["edit1_p90"], "goal (absolute)", GOAL_EDIT_MS)
    rows.append(("single-leaf edit-commit failures/timeouts", f"{r['failures']:10d}", "", "", "", "", ""))
    row("single-leaf edit-commit median", r["edit1_med"], "lock+unlock (2 RPCs)", r["rtt2"])
    row("single-leaf edit-commit median", r["edit1_med"], "floor parse+validate", r["floor_pv"])
    row("get-config running (all)", r["get"], "floor print", r["floor_print"])
    met = r["get"] <= GOAL_GET_RATIO * r["yanglint"]
    row("get-config running (all)", r["get"], "yanglint process", r["yanglint"],
        f"<= {GOAL_GET_RATIO:g}x", "MET" if met else "NOT MET")

    headers = ("measurement", "ms", "baseline", "ms", "ratio", "goal", "")
    widths = [max(len(str(x[i])) for x in rows + [headers]) for i in range(len(headers))]
    print()
    if title:
        print(title)
    print(f"Results: {n} IPv4 pools + {n} authorization policies "
          f"(get-config reply {r['get_bytes'] / 1e6:.2f} MB)")
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("-" * len(line))
    for x in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(x, widths)).rstrip())
    print()
    print(f"baselines: libyang parse only {r['floor_parse']:.1f} ms; yanglint module loading alone "
          f"{r['yanglint_start']:.1f} ms")
    print(f"client share (ncclient/lxml, measured locally): building the edit document "
          f"{r['client_edit']:.1f} ms, parsing the get-config reply {r['client_get']:.1f} ms")
    print(f"single-leaf edit-commit min {r['edit1_min']:.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
