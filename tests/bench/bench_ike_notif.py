#!/usr/bin/python3
"""ravend's CPU per IKE SA with its front ends, for two builds alternated: what the
session-up/down events to the front ends cost. The set-up of bench_ike.py (its
namespaces, configuration and ike_load: every SA made and deleted); ravend runs
with raven-netconfd and raven-restd and no event subscriber, without a session
arena. ROUNDS runs per build and AUTH (PSK, ECDSA), alternated; medians printed
with the ratio candidate / baseline, and the raw crypto of one SA. With --perf,
one more run per build under `perf record --call-graph dwarf` and the top
entries of each profile. With --subscribe, the candidate runs once more per
round with a NETCONF session subscribed (create-subscription, ncclient, reading
every notification): the cost when someone listens. Output is recorded in
tests/bench/results/ (benchdeps.record). Run as root:

    tests/bench/bench_ike_notif.py --base BASELINE/build --build build [--rounds 3] [--seconds 4] [--perf]
        [--subscribe]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import subprocess
import tempfile

import benchdeps
from bench_ike import make_pki, measure, netns_pair, ravend_config, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
NS = "urn:raven:params:xml:ns:yang:raven-vpn"
SUB_PW = "bench-sub-pw-1"
# a NETCONF subscriber that counts what it receives until stdin closes
SUBSCRIBER = r'''
import sys, threading
from ncclient import manager
m = manager.connect(host="127.0.0.1", port=8300, username="sub", password=sys.argv[1], hostkey_verify=False,
                    look_for_keys=False, allow_agent=False, timeout=30)
m.create_subscription()
print("subscribed", flush=True)
n = [0]
def drain():
    while True:
        if m.take_notification(timeout=1) is not None:
            n[0] += 1
threading.Thread(target=drain, daemon=True).start()
sys.stdin.read()
print(n[0], flush=True)
'''


def with_user(xml):
    h = subprocess.run(["openssl", "passwd", "-6", SUB_PW], capture_output=True, text=True, check=True).stdout.strip()
    return xml.replace(f'<management xmlns="{NS}">', f'<management xmlns="{NS}"><user><name>sub</name>'
                       f'<password-hash>{h}</password-hash><role>read-only</role></user>', 1)


def run_ravend(build, head, cl, d, seconds, concurrency, perf_out=None, subscribe=False):
    ravend = os.path.join(build, "daemon", "ravend")
    load = os.path.join(build, "tests", "bench", "ike_load")
    shutil.rmtree(f"{d}/state", ignore_errors=True)
    with open(f"{d}/ravend.log", "w") as log:
        p = subprocess.Popen(["ip", "netns", "exec", head, ravend, "-f", "-d", f"{d}/state", "-c", f"{d}/ravend.xml",
                              "-l", "warning", "--arena", "none"], stdout=log, stderr=subprocess.STDOUT)
    perf = sub = None
    try:
        wait_for(lambda: "ravend: ready" in open(f"{d}/ravend.log").read(), p, "ravend")
        if subscribe:
            sub = subprocess.Popen(["ip", "netns", "exec", head, sys.executable, "-c", SUBSCRIBER, SUB_PW],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            assert sub.stdout.readline().strip() == "subscribed", "the subscriber could not subscribe"
        if perf_out:
            perf = subprocess.Popen(["perf", "record", "-q", "-F", "499", "--call-graph", "dwarf,16384", "-p",
                                     str(p.pid), "-o", perf_out], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        r = measure(cl, load, p.pid, seconds, concurrency)
        if sub:
            sub.stdin.close()
            r["notifications"] = int(sub.stdout.readline().strip() or 0)
            sub.wait(timeout=30)
    finally:
        if sub and sub.poll() is None:
            sub.kill()
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=120)
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    return r


# functions whose inclusive share is printed: the notification path, and what else
# an SA costs
WATCH = ("ike_handle_dgram", "ike_init_compute", "ike_sess_notify_event", "ravend_vpn_event", "mgmt_notify",
         "mgmt_broadcast", "mgmt_state_changed", "mgmt_changed_flush", "mwire_send", "lyd_print_mem",
         "json_dumps", "__libc_fcntl64", "fcntl64", "ike_sess_request", "sendmsg", "__sendmsg")


def perf_top(path, n=12):
    """The top @n symbols by self time, then the inclusive share of WATCH."""
    def report(children):
        out = subprocess.run(["perf", "report", "-i", path, "--children" if children else "--no-children", "--sort",
                              "symbol", "--stdio", "-g", "none", "--percent-limit", "0.3"], capture_output=True,
                             text=True).stdout
        return [ln for ln in out.splitlines() if ln.strip() and not ln.startswith("#")]
    rows = ["self:"] + report(False)[:n] + ["inclusive:"]
    for ln in report(True):
        f = ln.split()
        if len(f) >= 4 and f[3] in WATCH:
            rows.append(f"{f[0]:>8} {f[3]}")
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="the baseline build (before)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--perf", action="store_true")
    ap.add_argument("--subscribe", action="store_true")
    ap.add_argument("--perf-only", help="profile only these runs (comma-separated: baseline,candidate,cand+sub)")
    a = ap.parse_args()
    benchdeps.install()
    print(f"bench_ike_notif: writing {benchdeps.record('bench_ike_notif')}", flush=True)
    builds = {"baseline": a.base, "candidate": a.build}
    print(f"baseline {a.base}, candidate {a.build}; load average {os.getloadavg()}", flush=True)
    tag = f"rvbn{os.getpid() % 10000}"
    head, cl = f"{tag}h", f"{tag}l"
    d = tempfile.mkdtemp(prefix="raven-bench-notif-")
    try:
        netns_pair(tag, head, cl, "10.231.0")
        pem = make_pki(d)
        for auth in ("psk", "ecdsa"):
            load = os.path.join(a.build, "tests", "bench", "ike_load")
            crypto = json.loads(subprocess.run([load, "--crypto", "20000"] + (["ecdsa"] if auth == "ecdsa" else []),
                                               check=True, capture_output=True, text=True).stdout)["crypto_us_per_sa"]
            with open(f"{d}/ravend.xml", "w") as f:
                f.write(with_user(ravend_config(pem if auth == "ecdsa" else None)))
            runs = [(k, b, False) for k, b in builds.items()]
            if a.subscribe:
                runs.append(("cand+sub", a.build, True))
            cpu = {k: [] for k, _, _ in runs}
            for rnd in range(a.rounds):
                for name, build, subscribe in runs:
                    r = run_ravend(build, head, cl, d, a.seconds, a.concurrency, subscribe=subscribe)
                    cpu[name].append(r["cpu_us_per_sa"])
                    extra = f" notifications {r['notifications']}" if subscribe else ""
                    print(f"{auth} round {rnd + 1} {name:<10} {r['rate']:8.1f} SA/s {r['cpu_us_per_sa']:6.0f} us/SA "
                          f"established {r['established']} failures {r['failures']} timeouts {r['timeouts']}{extra} "
                          f"load {os.getloadavg()[0]:.1f}", flush=True)
            if not a.rounds:
                cpu = {k: [0.0] for k in cpu}
            mb, mc = statistics.median(cpu["baseline"]) or 1, statistics.median(cpu["candidate"])
            print(f"{auth}: ravend CPU per SA, median of {a.rounds}: baseline {mb:.0f} us ({mb / crypto:.2f}x the raw "
                  f"crypto), candidate {mc:.0f} us ({mc / crypto:.2f}x); candidate/baseline {mc / mb:.2f}x; raw "
                  f"crypto of one SA {crypto:.0f} us", flush=True)
            if a.subscribe:
                ms = statistics.median(cpu["cand+sub"])
                print(f"{auth}: candidate with a NETCONF subscriber {ms:.0f} us ({ms / crypto:.2f}x the raw crypto; "
                      f"{ms / mb:.2f}x the baseline without one)", flush=True)
            if a.perf and auth == "psk":
                for name, build, subscribe in runs:
                    if a.perf_only and name not in a.perf_only.split(","):
                        continue
                    pf = f"{d}/perf-{name}.data"
                    r = run_ravend(build, head, cl, d, a.seconds, a.concurrency, perf_out=pf, subscribe=subscribe)
                    print(f"perf, {auth}, {name} ({r['cpu_us_per_sa']:.0f} us/SA under perf): top entries, "
                          f"children included", flush=True)
                    for ln in perf_top(pf):
                        print("   " + ln, flush=True)
    finally:
        for ns in (head, cl):
            subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
