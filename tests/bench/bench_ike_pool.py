#!/usr/bin/python3
"""IKE on every core: ravend's IKE_SA establishment rate and CPU per SA by
number of crypto threads, against the build before them; then the legitimate
rate under a spoofed IKE_SA_INIT flood.

Same set-up as bench_ike.py (whose namespaces, configuration and load
generator it uses): ravend in a headend namespace, tests/bench/ike_load in a
client namespace (CONCURRENCY initiators, X25519, AES-GCM-256, PSK from the
client, our AUTH a PSK or an ECDSA P-256 signature, a configuration request
and one child SA, then DELETE, in a loop).

1. Scaling: for each of the baseline ravend (--base, the build before the
   crypto pool) and this one with --crypto-threads 0, 1 and 2 (0: on the
   control thread, as before), ROUNDS runs in turn (alternating, so that the
   machine's other load falls on all alike): SA/s, ravend's CPU per SA (all
   its threads, /proc/PID/stat) and its ratio to the raw crypto of one SA
   (ike_load --crypto, in CPU time: the wall clock it prints grows with the
   machine's other load). Medians printed.
2. Flood: ike_load alone, then together with tests/ike_flood sending spoofed
   IKE_SA_INITs (random sources of 10.232.0.0/16, each with a valid X25519 KE)
   at FLOOD_FACTOR times the unloaded rate; the legitimate rate under the
   flood over the rate without it (goal >= 0.8), for the baseline and this
   build (crypto threads: one per CPU).

Everything printed goes to tests/bench/results/ (benchdeps.record). Run as
root after a RelWithDebInfo build:

    tests/bench/bench_ike_pool.py [--build build] [--base BASELINE/build] [--seconds 8]
        [--concurrency 32] [--rounds 2] [--flood-factor 10] [--skip-scaling] [--skip-flood]
"""
import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import tempfile

import benchdeps
from bench_ike import ROOT, make_pki, measure, netns_pair, ravend_config, sh, wait_for

SPOOF = "10.232.0.0/16"


def start_ravend(ravend, head, d, extra):
    shutil.rmtree(f"{d}/state", ignore_errors=True)
    log = open(f"{d}/ravend.log", "w")
    p = subprocess.Popen(["ip", "netns", "exec", head, ravend, "-f", "-d", f"{d}/state", "-c", f"{d}/ravend.xml",
                          "-l", "warning", "--arena", "none"] + extra, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        wait_for(lambda: "ravend: ready" in open(f"{d}/ravend.log").read(), p, "ravend")
    except BaseException:
        stop(p)
        raise
    return p


def stop(p):
    """SIGTERM, then SIGKILL if ravend has not ended within 30 s."""
    if p.poll() is None:
        os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()


def variants(a):
    ravend = os.path.join(a.build, "daemon", "ravend")
    v = [("before", os.path.join(a.base, "daemon", "ravend"), [])]
    for n in a.threads.split(","):
        v.append((f"threads {n}", ravend, ["--crypto-threads", n]))
    return v


def scaling(a, head, cl, d, load, pem):
    print(f"== SA rate and CPU per SA by crypto threads ({a.rounds} rounds of {a.seconds:g} s, "
          f"{a.concurrency} concurrent initiators, medians)")
    print(f"{'AUTH':<7}{'ravend':<12}{'SA/s':>9}{'CPU us/SA':>11}{'/crypto':>9}{'fail':>6}{'tmo':>6}  runs (SA/s)")
    for auth in ("psk", "ecdsa"):
        crypto, crypto_wall = raw_crypto(load, auth)
        with open(f"{d}/ravend.xml", "w") as f:
            f.write(ravend_config(pem if auth == "ecdsa" else None))
        runs = {name: [] for name, _, _ in variants(a)}
        for rnd in range(a.rounds):
            order = variants(a) if rnd % 2 == 0 else list(reversed(variants(a)))
            for name, exe, extra in order:
                p = start_ravend(exe, head, d, extra)
                try:
                    runs[name].append(measure(cl, load, p.pid, a.seconds, a.concurrency))
                finally:
                    stop(p)
        for name, _, _ in variants(a):
            rs = runs[name]
            rate = statistics.median(r["rate"] for r in rs)
            cpu = statistics.median(r["cpu_us_per_sa"] for r in rs)
            print(f"{auth:<7}{name:<12}{rate:>9.1f}{cpu:>11.0f}{cpu / crypto:>8.2f}x"
                  f"{sum(r['failures'] for r in rs):>6}{sum(r['timeouts'] for r in rs):>6}  "
                  + " ".join(f"{r['rate']:.0f}" for r in rs))
        print(f"{auth}: raw crypto of one SA {crypto:.0f} us of CPU ({crypto_wall:.0f} us wall; ike_load --crypto)")


def raw_crypto(load, auth, n=20000):
    """The raw crypto of one SA (ike_load --crypto) in CPU microseconds (the
    child's user+system time, which other processes on a loaded machine do not
    inflate), and as ike_load measured it (wall clock)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([load, "--crypto", str(n)] + (["ecdsa"] if auth == "ecdsa" else []), check=True,
                         capture_output=True, text=True).stdout
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / n * 1e6
    return cpu, json.loads(out)["crypto_us_per_sa"]


def flood_run(a, cl, load, flood, p, rate):
    """ike_load for a.seconds with ike_flood at @rate a second beside it."""
    f = subprocess.Popen(["ip", "netns", "exec", cl, flood, "10.231.0.1", SPOOF, str(rate), str(a.seconds + 1)],
                         stdout=subprocess.PIPE, text=True)
    try:
        r = measure(cl, load, p.pid, a.seconds, a.concurrency)
    finally:
        out, _ = f.communicate(timeout=60)
    r["flood"] = json.loads(out.strip().splitlines()[-1])
    return r


def flood(a, head, cl, d, load, flood_exe):
    with open(f"{d}/ravend.xml", "w") as f:
        f.write(ravend_config(None))
    print(f"== legitimate SA rate under a spoofed IKE_SA_INIT flood ({a.flood_factor:g}x the unloaded rate, "
          f"sources {SPOOF}, {a.seconds:g} s, {a.concurrency} concurrent initiators, PSK)")
    print(f"{'ravend':<12}{'unloaded':>10}{'flood pps':>11}{'flooded':>10}{'ratio':>8}{'cookies':>9}{'fail':>6}"
          f"{'tmo':>6}")
    for name, exe, extra in (variants(a)[0], ("threads auto", os.path.join(a.build, "daemon", "ravend"), [])):
        p = start_ravend(exe, head, d, extra)
        try:
            r0 = measure(cl, load, p.pid, a.seconds, a.concurrency)
            r1 = flood_run(a, cl, load, flood_exe, p, max(int(r0["rate"] * a.flood_factor), 100))
        finally:
            stop(p)
        print(f"{name:<12}{r0['rate']:>10.1f}{r1['flood']['rate']:>11.0f}{r1['rate']:>10.1f}"
              f"{r1['rate'] / max(r0['rate'], 0.1):>7.2f}x{r1['cookies']:>9}{r1['failures']:>6}{r1['timeouts']:>6}")
        print(f"  ravend CPU per legitimate SA: unloaded {r0['cpu_us_per_sa']:.0f} us, flooded "
              f"{r1['cpu_us_per_sa']:.0f} us; goal flooded/unloaded rate >= 0.8")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--base", required=True, help="the baseline build (before)")
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", default="0,1,2")
    ap.add_argument("--flood-factor", type=float, default=10)
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--skip-flood", action="store_true")
    a = ap.parse_args()
    benchdeps.install()
    benchdeps.record("bench_ike_pool")
    with open("/proc/loadavg") as f:
        print(f"load average at start: {f.read().strip()}")
    load = os.path.join(a.build, "tests", "bench", "ike_load")
    flood_exe = os.path.join(a.build, "tests", "ike_flood")
    tag = f"rvbp{os.getpid() % 10000}"
    head, cl = f"{tag}h", f"{tag}l"
    d = tempfile.mkdtemp(prefix="raven-bench-pool-")
    try:
        netns_pair(tag, head, cl, "10.231.0")
        # answers to the spoofed sources leave towards the client namespace, which drops them
        sh("ip", "-n", head, "route", "add", SPOOF, "via", "10.231.0.2")
        pem = make_pki(d)
        if not a.skip_scaling:
            scaling(a, head, cl, d, load, pem)
        if not a.skip_flood:
            flood(a, head, cl, d, load, flood_exe)
        with open("/proc/loadavg") as f:
            print(f"load average at end: {f.read().strip()}")
    finally:
        for ns in (head, cl):
            subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
